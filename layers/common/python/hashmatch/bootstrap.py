"""The composition root: the one place real adapters are chosen and wired to services.

Every factory is lazy and cached, so nothing AWS exists at import time and a warm Lambda reuses
its clients. Unit tests build services with in-memory fakes instead of calling these.
"""

from __future__ import annotations

from functools import cache

from hashmatch.access.service import ClientService
from hashmatch.adapters.aws import dynamodb_client
from hashmatch.adapters.dynamodb_clients import DynamoDBClientStore
from hashmatch.clock import SystemClock
from hashmatch.settings import ClientsSettings, load_settings


@cache
def client_service() -> ClientService:
    table = load_settings(ClientsSettings).clients_table
    return ClientService(DynamoDBClientStore(dynamodb_client(), table), SystemClock())


def reset() -> None:
    """Forget every wired service (tests that switch environments)."""
    client_service.cache_clear()

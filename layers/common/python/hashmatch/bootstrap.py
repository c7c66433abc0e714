"""The composition root: the one place real adapters are chosen and wired to services.

Every factory is lazy and cached, so nothing AWS exists at import time and a warm Lambda reuses
its clients. Unit tests build services with in-memory fakes instead of calling these.
"""

from __future__ import annotations

from functools import cache

from hashmatch.access.model import Role
from hashmatch.access.service import ClientService
from hashmatch.adapters.apigateway_usage_plans import ApiGatewayUsagePlans
from hashmatch.adapters.aws import apigateway_client, dynamodb_client
from hashmatch.adapters.dynamodb_clients import DynamoDBClientStore
from hashmatch.clock import SystemClock
from hashmatch.settings import ClientsSettings, load_settings


@cache
def client_service() -> ClientService:
    settings = load_settings(ClientsSettings)
    usage_plans = None
    if settings.provider_usage_plan_id and settings.staff_usage_plan_id:
        usage_plans = ApiGatewayUsagePlans(
            apigateway_client(),
            {
                Role.PROVIDER: settings.provider_usage_plan_id,
                Role.CURATOR: settings.staff_usage_plan_id,
                Role.REVIEWER: settings.staff_usage_plan_id,
                Role.AUDITOR: settings.staff_usage_plan_id,
            },
        )
    store = DynamoDBClientStore(dynamodb_client(), settings.clients_table)
    return ClientService(store, SystemClock(), usage_plans)


def reset() -> None:
    """Forget every wired service (tests that switch environments)."""
    client_service.cache_clear()

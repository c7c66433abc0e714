"""Ports of the access concern."""

from __future__ import annotations

from typing import Protocol

from hashmatch.access.model import ApiClient, Organisation


class ClientStore(Protocol):
    def put_new(self, client: ApiClient) -> None:
        """Store a new client; raises Conflict if its id or key digest exists."""

    def get_by_key_digest(self, key_digest: str) -> ApiClient | None: ...

    def get(self, client_id: str) -> ApiClient | None: ...

    def list_all(self) -> list[ApiClient]: ...

    def replace(self, client: ApiClient) -> None:
        """Overwrite an existing client record (status changes)."""


class OrganisationStore(Protocol):
    def put_new(self, organisation: Organisation) -> None:
        """Store a new organisation; raises Conflict if its id exists."""

    def get(self, organisation_id: str) -> Organisation | None: ...

    def list_all(self) -> list[Organisation]: ...


class UsagePlans(Protocol):
    """Where a client's usage key is metered (API Gateway usage plans, per role)."""

    def enrol(self, client: ApiClient) -> None: ...

    def withdraw(self, client: ApiClient) -> None: ...

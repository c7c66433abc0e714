"""In-memory fakes of the domain's ports, for unit tests (one per port)."""

from __future__ import annotations

from collections.abc import Sequence

from hashmatch.access.model import ApiClient
from hashmatch.errors import Conflict
from hashmatch.matches.model import MatchEvent


class InMemoryClientStore:
    def __init__(self) -> None:
        self.by_digest: dict[str, ApiClient] = {}

    def put_new(self, client: ApiClient) -> None:
        if client.key_digest in self.by_digest or self.get(client.client_id):
            raise Conflict("client exists")
        self.by_digest[client.key_digest] = client

    def get_by_key_digest(self, key_digest: str) -> ApiClient | None:
        return self.by_digest.get(key_digest)

    def get(self, client_id: str) -> ApiClient | None:
        return next((c for c in self.by_digest.values() if c.client_id == client_id), None)

    def list_all(self) -> list[ApiClient]:
        return list(self.by_digest.values())

    def replace(self, client: ApiClient) -> None:
        if client.key_digest not in self.by_digest:
            raise Conflict("no such client")
        self.by_digest[client.key_digest] = client


class InMemoryMatchEventStore:
    def __init__(self) -> None:
        self.events: dict[str, MatchEvent] = {}

    def put_many(self, events: Sequence[MatchEvent]) -> None:
        for event in events:
            self.events[event.match_id] = event

    def get_many(self, match_ids: Sequence[str]) -> dict[str, MatchEvent]:
        return {mid: self.events[mid] for mid in match_ids if mid in self.events}

    def cite(self, match_ids: Sequence[str], report_id: str) -> None:
        for match_id in match_ids:
            if match_id not in self.events:
                raise Conflict(f"no match event {match_id}")
            self.events[match_id] = self.events[match_id].model_copy(
                update={"report_id": report_id}
            )

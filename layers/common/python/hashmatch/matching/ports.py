"""Ports of the match-event concern."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hashmatch.matching.events import MatchEvent


class MatchEventStore(Protocol):
    def put_many(self, events: Sequence[MatchEvent]) -> None:
        """Store new events; a failure raises DependencyUnavailable (nothing half-answered)."""

    def get_many(self, match_ids: Sequence[str]) -> dict[str, MatchEvent]:
        """The events that exist among ``match_ids``, by id (missing ids are absent)."""

    def cite(self, match_ids: Sequence[str], report_id: str) -> None:
        """Mark events as cited by a report (they then live as long as the report)."""

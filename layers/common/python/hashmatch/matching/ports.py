"""Ports of the match-event concern."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from hashmatch.matching.events import MatchEvent
from hashmatch.retention.ports import DueItem


class MatchEventStore(Protocol):
    def put_many(self, events: Sequence[MatchEvent]) -> None:
        """Store new events; a failure raises DependencyUnavailable (nothing half-answered)."""

    def get_many(self, match_ids: Sequence[str]) -> dict[str, MatchEvent]:
        """The events that exist among ``match_ids``, by id (missing ids are absent)."""

    def claim(self, match_ids: Sequence[str], report_id: str) -> None:
        """Mark every event as cited by ``report_id``, all or none, atomically: the filing's
        decision that these matches are this report's. Conflict (one ``errors`` item per id)
        if any is gone or cited by another report; claiming again for the same report is
        harmless. A claimed event keeps its expiry until ``cite`` (intake) removes it."""

    def release(self, match_ids: Sequence[str], report_id: str) -> None:
        """Undo ``claim`` for the events ``report_id`` claimed (its filing was not queued)."""

    def cite(self, match_ids: Sequence[str], report_id: str) -> None:
        """Mark events as cited by a report (they then live as long as the report)."""

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        """Uncited events due on ``day``, by id, after ``after``."""

    def expiry_of(self, match_id: str) -> datetime | None:
        """An uncited event's expiry; None if it is gone or cited by a report."""

    def delete_uncited(self, match_id: str, cutoff: datetime) -> bool:
        """Delete if still uncited and expired by ``cutoff``; False if not (or gone)."""

    def delete_cited(self, match_ids: Sequence[str], report_id: str) -> int:
        """Delete the events among ``match_ids`` that ``report_id`` cites; how many were."""

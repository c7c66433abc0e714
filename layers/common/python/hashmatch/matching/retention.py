"""Match events as a data class with retention: erased MatchEventRetentionDays after the match,
unless a report cites them (then they go with the report: hashmatch.reports.retention)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

from hashmatch.ids import MATCH_ID_PATTERN
from hashmatch.matching.ports import MatchEventStore
from hashmatch.retention.ports import DueItem, HoldTarget

MATCH_EVENTS = "match_events"
_MATCH_ID = re.compile(MATCH_ID_PATTERN)


class MatchEventRetention:
    name = MATCH_EVENTS
    hold_target = HoldTarget.MATCH_EVENT

    def __init__(self, events: MatchEventStore) -> None:
        self._events = events

    def is_item_id(self, item_id: str) -> bool:
        return _MATCH_ID.fullmatch(item_id) is not None

    def exists(self, item_id: str) -> bool:
        return item_id in self._events.get_many([item_id])

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        return self._events.due_on(day, after=after, limit=limit)

    def due_at(self, item_id: str) -> datetime | None:
        return self._events.expiry_of(item_id)

    def erase(self, item_id: str, cutoff: datetime) -> Counter[str]:
        return Counter({MATCH_EVENTS: int(self._events.delete_uncited(item_id, cutoff))})

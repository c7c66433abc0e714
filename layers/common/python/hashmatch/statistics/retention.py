"""Statistics as a data class with retention: the counters of a day are erased
StatisticsRetentionDays after it (DESIGN: until published plus one year). Counters hold no
personal data, so no legal hold applies; a day's counters are erased as one item."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from hashmatch.retention.ports import DueItem
from hashmatch.retention_policy import day_of, start_of
from hashmatch.statistics.ports import ExpiringCounters

STATISTICS = "statistics"


class StatisticsRetention:
    name = STATISTICS
    hold_target = None

    def __init__(self, counters: ExpiringCounters, period: timedelta) -> None:
        self._counters = counters
        self._period = period

    def is_item_id(self, item_id: str) -> bool:
        return False  # nothing to hold

    def exists(self, item_id: str) -> bool:
        return False  # nothing to hold

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        """One item per day: the counters of the day one period before, due at ``day``'s start."""
        if after is not None or limit < 1:
            return []
        counted_on = (day_of(day) - self._period).isoformat()
        return [DueItem(counted_on, start_of(day))]

    def due_at(self, item_id: str) -> datetime | None:
        return start_of((day_of(item_id) + self._period).isoformat())

    def erase(self, item_id: str, cutoff: datetime) -> Counter[str]:
        due = self.due_at(item_id)
        if due is None or due > cutoff:
            return Counter()
        return Counter({STATISTICS: self._counters.delete_day(item_id)})

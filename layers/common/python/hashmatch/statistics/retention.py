"""Statistics as a data class with retention (DESIGN: until published plus one year).

A year's counters (every day of it, with their event markers) and its tallies of reports per
indicator are due StatisticsRetentionDays after that year's transparency report was published;
until then they are kept, however old. Counters hold no personal data, so no legal hold applies.
The running totals (a handful of counts, no dates) are never erased: every later year needs
them.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from hashmatch.retention.ports import DueItem
from hashmatch.retention_policy import day_of, due_day
from hashmatch.statistics.ports import ExpiringCounters, PublicationRecords

STATISTICS = "statistics"
TALLIES_PREFIX = "tallies-"  # the item id of a year's tallies: "tallies-2026"


class StatisticsRetention:
    name = STATISTICS
    hold_target = None

    def __init__(
        self, counters: ExpiringCounters, publications: PublicationRecords, period: timedelta
    ) -> None:
        self._counters = counters
        self._publications = publications
        self._period = period

    def is_item_id(self, item_id: str) -> bool:
        return False  # nothing to hold

    def exists(self, item_id: str) -> bool:
        return False  # nothing to hold

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        """Each day of a year published ``period`` before ``day``, and that year's tallies."""
        items: list[DueItem] = []
        for publication in self._publications.all():
            due = publication.published_at + self._period
            if due_day(due) != day:
                continue
            items.extend(DueItem(item_id, due) for item_id in _items_of(publication.year))
        items.sort()
        return [item for item in items if after is None or item.item_id > after][:limit]

    def due_at(self, item_id: str) -> datetime | None:
        year = _year_of(item_id)
        publication = next((p for p in self._publications.all() if p.year == year), None)
        return publication.published_at + self._period if publication else None

    def erase(self, item_id: str, cutoff: datetime) -> Counter[str]:
        due = self.due_at(item_id)
        if due is None or due > cutoff:
            return Counter()
        if item_id.startswith(TALLIES_PREFIX):
            return Counter({STATISTICS: self._counters.delete_year_tallies(_year_of(item_id))})
        return Counter({STATISTICS: self._counters.delete_day(item_id)})


def _items_of(year: int) -> list[str]:
    first = date(year, 1, 1)
    days = [
        (first + timedelta(days=n)).isoformat() for n in range((date(year + 1, 1, 1) - first).days)
    ]
    return [*days, f"{TALLIES_PREFIX}{year}"]


def _year_of(item_id: str) -> int:
    if item_id.startswith(TALLIES_PREFIX):
        return int(item_id.removeprefix(TALLIES_PREFIX))
    return day_of(item_id).year

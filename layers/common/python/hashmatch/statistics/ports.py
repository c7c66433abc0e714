"""Ports of the statistics concern: where counters are kept, summed and erased."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from hashmatch.errors import Conflict
from hashmatch.statistics.model import Count, CountedEvent


class TallyMoved(Conflict):
    """A report-per-indicator tally changed since it was read (another report cited it)."""


class CounterStore(Protocol):
    def record(self, events: Sequence[CountedEvent]) -> int:
        """Add each event's counts, totals and tallies once, atomically per event; an event
        whose key was recorded before adds nothing. How many events were new. TallyMoved if a
        tally no longer holds its ``before``; DependencyUnavailable if the store fails."""

    def tallies(self, year: int, indicator_ids: Iterable[str]) -> dict[str, int]:
        """This year's reports citing each indicator (strongly consistent; absent: 0)."""

    def year_tallies(self, year: int) -> dict[str, int]:
        """Every indicator cited by a report in ``year``, with its number of reports."""

    def sums(self, first: date, last: date, dimensions: Iterable[str]) -> Mapping[Count, int]:
        """Each counter of ``dimensions`` summed over the days ``first`` to ``last``."""

    def totals(self, dimension: str) -> Mapping[Count, int]:
        """The running totals of ``dimension`` as they are now."""


class ExpiringCounters(Protocol):
    def delete_day(self, day: str) -> int:
        """Delete every counter of ``day`` (YYYY-MM-DD); how many there were."""

    def delete_year_tallies(self, year: int) -> int:
        """Delete the reports-per-indicator tallies of ``year``; how many there were."""


@dataclass(frozen=True)
class Publication:
    """A year's transparency report, published: when, its JSON's SHA-256, its audit entry.

    ``audit_after_seq``: the audit head just before its entry was appended (a publication
    resumed after dying there looks past it for its entry instead of writing a second).
    """

    year: int
    published_at: datetime
    digest: str
    audit_seq: int | None = None
    audit_after_seq: int | None = None


class PublicationRecords(Protocol):
    def get(self, year: int) -> Publication | None: ...

    def put(self, publication: Publication) -> None: ...

    def all(self) -> list[Publication]: ...

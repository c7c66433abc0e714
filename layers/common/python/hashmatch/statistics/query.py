"""Counters summed over a period (GET /v1/statistics, the yearly report), as rows or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from hashmatch.clock import Clock
from hashmatch.errors import InvalidInput
from hashmatch.statistics.model import (
    ALL_DIMENSIONS,
    DIMENSIONS,
    INDICATORS_ACTIVE,
    Count,
)
from hashmatch.statistics.ports import CounterStore

ACTIVE_CHANGE = "indicators_active_change"


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @classmethod
    def of_year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31))


@dataclass(frozen=True)
class PeriodCounts:
    period: Period
    counts: Mapping[Count, int]

    def of(self, dimension: str) -> dict[tuple[str, ...], int]:
        return {c.values: n for c, n in self.counts.items() if c.dimension == dimension}

    def total(self, dimension: str, **match: str) -> int:
        return sum(
            n
            for c, n in self.counts.items()
            if c.dimension == dimension
            and all(c.named_values()[name] == value for name, value in match.items())
        )

    def by(self, dimension: str, *names: str, **match: str) -> dict[tuple[str, ...], int]:
        """The dimension's counters summed by the values ``names`` (``match`` filters first)."""
        sums: dict[tuple[str, ...], int] = {}
        for count, number in self.counts.items():
            if count.dimension != dimension:
                continue
            values = count.named_values()
            if any(values[name] != value for name, value in match.items()):
                continue
            key = tuple(values[name] for name in names)
            sums[key] = sums.get(key, 0) + number
        return {key: n for key, n in sums.items() if n}


class StatisticsQuery:
    def __init__(self, counters: CounterStore, clock: Clock) -> None:
        self._counters = counters
        self._clock = clock

    def counts(self, period: Period, dimensions: Sequence[str] | None = None) -> PeriodCounts:
        """Each counter summed over the period; ``indicators_active`` as at its last day's end."""
        wanted = list(dimensions) if dimensions else list(ALL_DIMENSIONS)
        unknown = [name for name in wanted if name not in ALL_DIMENSIONS]
        if unknown:
            raise InvalidInput(
                f"unknown dimension {unknown[0]!r}",
                errors=[
                    {"loc": ["query", "dimension"], "msg": "one of " + ", ".join(ALL_DIMENSIONS)}
                ],
            )
        if period.first > period.last:
            # No day is in it: an empty period, summed as nothing (a sum over days, not a
            # request error: the OpenAPI document cannot say that `from` must not be after `to`).
            return PeriodCounts(period, {})
        counted = [name for name in wanted if name in DIMENSIONS]
        counts = dict(self._counters.sums(period.first, period.last, counted)) if counted else {}
        if INDICATORS_ACTIVE in wanted:
            counts.update(self.active_at_end_of(period.last))
        return PeriodCounts(period, counts)

    def active_at_end_of(self, day: date) -> dict[Count, int]:
        """Active indicators at the end of ``day``: today's running total less every change
        counted after ``day`` (those days are always retained: they are newer)."""
        totals = self._counters.totals(ACTIVE_CHANGE)
        today = self._clock.now().date()
        later = (
            self._counters.sums(day + timedelta(days=1), today, [ACTIVE_CHANGE])
            if day < today
            else {}
        )
        active: dict[Count, int] = {}
        for count in set(totals) | set(later):
            number = totals.get(count, 0) - later.get(count, 0)
            if number:
                active[Count(INDICATORS_ACTIVE, count.values)] = number
        return active


def counts_csv(counts: PeriodCounts) -> str:
    """One row per counter: the dimension, each value under its name, the count."""
    dimensions = sorted({count.dimension for count in counts.counts})
    names: list[str] = []
    for dimension in dimensions:
        names.extend(n for n in ALL_DIMENSIONS[dimension] if n not in names)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["from", "to", "dimension", *names, "count"])
    for count, number in sorted(counts.counts.items()):
        values = count.named_values()
        writer.writerow(
            [
                counts.period.first.isoformat(),
                counts.period.last.isoformat(),
                count.dimension,
                *(safe_cell(values.get(name, "")) for name in names),
                number,
            ]
        )
    return out.getvalue()


def safe_cell(text: str) -> str:
    """A CSV cell no spreadsheet runs as a formula (OWASP's CSV injection advice)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and text != "-" else text

"""Counter keys. A counter names a day and a dimension's values, never a person or content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class QueryOutcome(StrEnum):
    MATCHED = "matched"
    NO_MATCH = "no_match"
    REJECTED = "rejected"


@dataclass(frozen=True, order=True)
class CounterKey:
    day: date
    dimension: str  # e.g. "queries"
    values: tuple[str, ...]  # e.g. (provider, hash type, outcome)

    @property
    def counter(self) -> str:
        return "#".join((self.dimension, *self.values))


def query_counter(day: date, provider: str, hash_type: str, outcome: QueryOutcome) -> CounterKey:
    return CounterKey(day, "queries", (provider, hash_type, outcome.value))


def suppression_counter(day: date, provider: str, hash_type: str) -> CounterKey:
    """Queries whose matches a negative indicator withheld (they also count as no_match)."""
    return CounterKey(day, "negative_suppressions", (provider, hash_type))

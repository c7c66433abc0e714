"""Counters: what is counted, per day and dimension, and the events that count it.

A counter names a day, a dimension and that dimension's values (``queries`` of provider
"Example Hosting SA", hash type "pdq", outcome "no_match"): never a person, a client, a content
reference or a hash. :data:`DIMENSIONS` is the one list of dimensions and their value names;
docs/transparency.md says where each is counted and which article asks for it.

Every count arrives as a :class:`CountedEvent` whose ``key`` names what happened ("report
received rp_..."), so the store adds an event's counts once however often it is recorded: a
retried request or a redelivered message records the same key again and adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

# Dimension -> the names of its values, in order. Counted by the event sources in
# hashmatch.statistics.counting; nothing else writes counters.
DIMENSIONS: Mapping[str, tuple[str, ...]] = {
    "queries": ("provider", "hash_type", "outcome", "reason"),
    "matches": ("provider", "database", "media_type", "hash_type"),
    # Queries a negative indicator withheld (docs/indicators.md): also counted as no_match.
    "negative_suppressions": ("provider", "hash_type"),
    "reports_received": ("provider", "urgency", "content_type", "suspected_member_state"),
    "repeat_reports": ("provider",),
    "indicator_changes": ("change", "database", "media_type", "member_state"),
    "indicators_active_change": ("database", "media_type"),
    "decisions": ("outcome", "member_state"),
    "unfounded_reasons": ("reason",),
    "time_to_decision": ("outcome", "urgency", "within_hours"),
    "information_requests": ("provider",),
    "forwarding": ("recipient", "outcome"),
    "false_matches": ("database", "indicator_id"),
    "erasures": ("data_class",),
}
# Derived when read, never written: the active indicators at the end of the period's last day.
INDICATORS_ACTIVE = "indicators_active"
DERIVED_DIMENSIONS: Mapping[str, tuple[str, ...]] = {INDICATORS_ACTIVE: ("database", "media_type")}
ALL_DIMENSIONS: Mapping[str, tuple[str, ...]] = {**DIMENSIONS, **DERIVED_DIMENSIONS}

# The histogram of time from receipt to decision: the upper bound (hours) of each bucket.
DECISION_HOURS_BOUNDS: tuple[int, ...] = (1, 4, 12, 24, 48, 72, 168, 336, 720)
MORE_THAN_LAST = "more"
NONE = "-"  # the value of a dimension that does not apply (a query's reason when not rejected)
UNKNOWN = "unknown"  # a value the event did not state (no suspected Member State)


class QueryOutcome(StrEnum):
    MATCHED = "matched"
    NO_MATCH = "no_match"
    REJECTED = "rejected"


class IndicatorChange(StrEnum):
    ADDED = "added"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    REVOKED = "revoked"


class DecisionOutcome(StrEnum):
    FORWARDED = "forwarded"
    UNFOUNDED = "unfounded"


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, order=True)
class Count:
    """One counter of a day: a dimension and its values (as many as DIMENSIONS names)."""

    dimension: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        names = ALL_DIMENSIONS.get(self.dimension)
        if names is None:
            raise ValueError(f"unknown statistics dimension {self.dimension!r}")
        if len(names) != len(self.values):
            raise ValueError(f"{self.dimension} takes {len(names)} values, got {self.values}")

    def named_values(self) -> dict[str, str]:
        return dict(zip(ALL_DIMENSIONS[self.dimension], self.values, strict=True))


@dataclass(frozen=True, order=True)
class CounterKey:
    day: date
    dimension: str  # e.g. "queries"
    values: tuple[str, ...]  # e.g. (provider, hash type, outcome, reason)

    @property
    def count(self) -> Count:
        return Count(self.dimension, self.values)


@dataclass(frozen=True)
class TallyStep:
    """An indicator's reports so far this year: ``before`` as read, ``after`` this report."""

    before: int
    after: int


@dataclass(frozen=True)
class CountedEvent:
    """Something that happened, with what it adds to the counters of ``day``.

    ``key`` identifies the event wherever it is recorded from (a report id, a request's
    Idempotency-Key, an indicator id and its transition): recording the same key again adds
    nothing. ``recognised_days`` also looks for the key on that many days before ``day`` (a
    request retried after midnight is still the same request). ``totals`` move running totals
    (the active indicators); ``tallies`` move this year's reports-per-indicator tallies, each
    only if it still holds ``before`` (else :class:`TallyMoved`).
    """

    key: str
    day: date
    counts: Mapping[Count, int]
    totals: Mapping[Count, int] = field(default_factory=dict)
    tallies: Mapping[str, TallyStep] = field(default_factory=dict)
    recognised_days: int = 0


def decision_hours_bucket(hours: float) -> str:
    """The histogram bucket of a time to decision: its upper bound in hours, or "more"."""
    for bound in DECISION_HOURS_BOUNDS:
        if hours <= bound:
            return str(bound)
    return MORE_THAN_LAST

"""The one call each event source makes where its event happens, and what it counts.

Each method turns one event (or one batch of like events) into :class:`CountedEvent`\\ s keyed by
what identifies the event in the domain, and records them in one store call:

======================  ==========================================  =======================
event source            key                                         called from
======================  ==========================================  =======================
queries_answered        the request (Idempotency-Key, else its id)  matching.service
report_received         the report id                               reports.intake
indicators_changed      indicator id + change (+ its time)          indicators.service
decision_made           the report id (decided once)                reports.decisions
information_requested   the request id                              review (issue 12)
forwarding_attempted    the delivery attempt's id                   forwarding (issue 12)
erasure_receipted       the erasure run id                          retention.erasure
======================  ==========================================  =======================

A source calls again on every path where a retry or a redelivery finds its work already done
(intake's "stored already", a revocation of a revoked indicator): the key makes that second
call add nothing, and it repairs a count lost to a failure between the work and the count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from hashmatch.errors import DependencyUnavailable
from hashmatch.statistics.model import (
    NONE,
    UNKNOWN,
    Count,
    CountedEvent,
    DecisionOutcome,
    DeliveryOutcome,
    IndicatorChange,
    QueryOutcome,
    TallyStep,
    decision_hours_bucket,
)
from hashmatch.statistics.ports import CounterStore, TallyMoved

# How often a report's count is retried when another report moved a tally it read.
TALLY_ATTEMPTS = 4


@dataclass(frozen=True)
class QueryCount:
    hash_type: str
    outcome: QueryOutcome
    reason: str = NONE  # the rejection's code when rejected


@dataclass(frozen=True)
class MatchCount:
    database: str
    media_type: str
    hash_type: str


@dataclass(frozen=True)
class IndicatorEvent:
    """One change of one indicator; ``at`` tells two suspensions of the same one apart."""

    indicator_id: str
    change: IndicatorChange
    at: datetime
    database: str
    media_type: str
    member_state: str | None
    active_change: int  # +1 when it became active, -1 when it stopped being active, else 0

    @property
    def key(self) -> str:
        if self.change in (IndicatorChange.ADDED, IndicatorChange.REVOKED):
            return f"indicator-{self.change.value}:{self.indicator_id}"  # happens once per id
        return f"indicator-{self.change.value}:{self.indicator_id}:{self.at.isoformat()}"


@dataclass(frozen=True)
class CitedIndicator:
    indicator_id: str
    database: str


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


class Statistics:
    def __init__(self, store: CounterStore) -> None:
        self._store = store

    def queries_answered(
        self,
        *,
        request_key: str,
        day: date,
        provider: str,
        queries: Mapping[QueryCount, int],
        matches: Mapping[MatchCount, int],
        suppressed: Mapping[str, int] | None = None,
    ) -> bool:
        """One POST /v1/match: its items per hash type and outcome, its matches per database,
        media type and hash type, and per hash type the items a negative indicator withheld
        (``suppressed``; counted as no_match too). A retry of the same request (same
        ``request_key``) the same or the next day adds nothing."""
        counts: dict[Count, int] = {}
        for query, number in queries.items():
            values = (provider, query.hash_type, query.outcome.value, query.reason)
            counts[Count("queries", values)] = number
        for match, number in matches.items():
            values = (provider, match.database, match.media_type, match.hash_type)
            counts[Count("matches", values)] = number
        for hash_type, number in (suppressed or {}).items():
            counts[Count("negative_suppressions", (provider, hash_type))] = number
        event = CountedEvent(f"match:{request_key}", day, counts, recognised_days=1)
        return self._store.record([event]) == 1

    def report_received(
        self,
        *,
        report_id: str,
        filed_at: datetime,
        provider: str,
        urgent: bool,
        content_type: str,
        suspected_member_state: str | None,
        cited: Iterable[str],
    ) -> bool:
        """A report taken in. A repeat report cites an indicator that an earlier report of the
        same year cited (the tally of reports per indicator, per year, tells)."""
        day = utc_day(filed_at)
        cited_ids = sorted(set(cited))
        for _ in range(TALLY_ATTEMPTS):
            before = self._store.tallies(day.year, cited_ids)
            steps = {i: TallyStep(before.get(i, 0), before.get(i, 0) + 1) for i in cited_ids}
            counts = {
                Count(
                    "reports_received",
                    (
                        provider,
                        "urgent" if urgent else "normal",
                        content_type,
                        suspected_member_state or UNKNOWN,
                    ),
                ): 1
            }
            if any(step.before for step in steps.values()):
                counts[Count("repeat_reports", (provider,))] = 1
            event = CountedEvent(f"report-received:{report_id}", day, counts, tallies=steps)
            try:
                return self._store.record([event]) == 1
            except TallyMoved:
                continue  # another report cited one of these indicators meanwhile: read again
        raise DependencyUnavailable("report tallies kept moving; the count is retried")

    def indicators_changed(self, changes: Sequence[IndicatorEvent]) -> int:
        """Indicators added, suspended, reinstated or revoked (one batch: one call)."""
        events = []
        for change in changes:
            values = (change.database, change.media_type)
            counts = {
                Count(
                    "indicator_changes",
                    (change.change.value, *values, change.member_state or UNKNOWN),
                ): 1
            }
            totals: dict[Count, int] = {}
            if change.active_change:
                counts[Count("indicators_active_change", values)] = change.active_change
                totals[Count("indicators_active_change", values)] = change.active_change
            events.append(CountedEvent(change.key, utc_day(change.at), counts, totals=totals))
        return self._store.record(events) if events else 0

    def decision_made(
        self,
        *,
        report_id: str,
        decided_at: datetime,
        filed_at: datetime,
        outcome: DecisionOutcome,
        urgent: bool,
        member_state: str | None = None,
        reasons: Sequence[str] = (),
        false_matches: Sequence[CitedIndicator] = (),
    ) -> bool:
        """A reviewer's decision: its outcome and the Member State forwarded to, each reason of
        an unfounded one, the time from receipt to decision (a histogram bucket), and for an
        unfounded decision saying the match was false, one false match per cited indicator."""
        hours = (decided_at - filed_at).total_seconds() / 3600
        urgency = "urgent" if urgent else "normal"
        counts: dict[Count, int] = {
            Count("decisions", (outcome.value, member_state or NONE)): 1,
            Count("time_to_decision", (outcome.value, urgency, decision_hours_bucket(hours))): 1,
        }
        for reason in sorted(set(reasons)):
            counts[Count("unfounded_reasons", (reason,))] = 1
        for indicator in false_matches:
            counts[Count("false_matches", (indicator.database, indicator.indicator_id))] = 1
        event = CountedEvent(f"decision:{report_id}", utc_day(decided_at), counts)
        return self._store.record([event]) == 1

    def information_requested(self, *, request_id: str, at: datetime, provider: str) -> bool:
        """A reviewer asked the provider for information about a report (issue 12)."""
        counts = {Count("information_requests", (provider,)): 1}
        event = CountedEvent(f"information-request:{request_id}", utc_day(at), counts)
        return self._store.record([event]) == 1

    def forwarding_attempted(
        self, *, delivery_id: str, at: datetime, recipient: str, outcome: DeliveryOutcome
    ) -> bool:
        """A forwarded report delivered to a recipient (Europol, a Member State's authority),
        or finally failed; ``delivery_id`` names the delivery, not each HTTP attempt."""
        counts = {Count("forwarding", (recipient, outcome.value)): 1}
        event = CountedEvent(f"forwarding:{delivery_id}:{outcome.value}", utc_day(at), counts)
        return self._store.record([event]) == 1

    def erasure_receipted(self, *, run_id: str, at: datetime, erased: Mapping[str, int]) -> bool:
        """An erasure run's receipt: what it erased, per data class."""
        counts = {
            Count("erasures", (data_class,)): number
            for data_class, number in erased.items()
            if number
        }
        if not counts:
            return False
        event = CountedEvent(f"erasure:{run_id}", utc_day(at), counts)
        return self._store.record([event]) == 1

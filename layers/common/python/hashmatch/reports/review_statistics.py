"""Review steps counted by the statistics (the ReviewEvents port's one implementation).

Each announced step becomes one :class:`~hashmatch.statistics.counting.Statistics` call: a
decision (unfounded, or forwarded once the forwarding is made: four eyes count at the
confirmation) with its time from filing, Member State and reasons, and, when a reason says the
indicator was at fault, one false match per cited indicator; an information request; a delivery
to a recipient, or its final failure. Proposals, answers and failed attempts that are retried
count nothing. Each is counted under a key from the report (statistics count a key once), so an
announcement repeated by a redelivered message adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from hashmatch.matching.ports import MatchEventStore
from hashmatch.reports.model import Step
from hashmatch.reports.review_events import ReviewEvent
from hashmatch.reports.review_records import INDICATOR_FEEDBACK_REASONS
from hashmatch.statistics.counting import CitedIndicator, Statistics
from hashmatch.statistics.model import UNKNOWN, DecisionOutcome, DeliveryOutcome

EUROPOL_ONLY = "europol_only"
_DECISIONS = {
    Step.DECIDED_UNFOUNDED: DecisionOutcome.UNFOUNDED,
    Step.FORWARDED: DecisionOutcome.FORWARDED,
}
_DELIVERIES = {
    Step.DELIVERED: DeliveryOutcome.DELIVERED,
    Step.DELIVERY_ABANDONED: DeliveryOutcome.FAILED,
}


class CountedReviewEvents:
    """``statistics`` and ``match_events`` are factories, resolved at the first step counted."""

    def __init__(
        self,
        *,
        statistics: Callable[[], Statistics],
        match_events: Callable[[], MatchEventStore],
    ) -> None:
        self._statistics = statistics
        self._match_events = match_events

    def publish(self, event: ReviewEvent) -> None:
        if event.step in _DECISIONS and event.filed_at is not None:
            self._decision(event)
        elif event.step is Step.INFORMATION_REQUESTED:
            self._statistics().information_requested(
                request_id=f"{event.report_id}:{event.at.isoformat()}",
                at=event.at,
                provider=event.provider or UNKNOWN,
            )
        elif event.step in _DELIVERIES and event.recipient is not None:
            self._statistics().forwarding_attempted(
                delivery_id=f"{event.report_id}:{event.recipient}",
                at=event.at,
                recipient=event.recipient,
                outcome=_DELIVERIES[event.step],
            )

    def _decision(self, event: ReviewEvent) -> None:
        assert event.filed_at is not None
        outcome = _DECISIONS[event.step]
        false_matches: list[CitedIndicator] = []
        if INDICATOR_FEEDBACK_REASONS.intersection(event.reasons):
            found = self._match_events().get_many(event.match_ids)
            false_matches = sorted(
                {CitedIndicator(e.indicator_id, e.database) for e in found.values()},
                key=lambda cited: cited.indicator_id,
            )
        member_state = event.member_state
        if outcome is DecisionOutcome.FORWARDED and member_state is None:
            member_state = EUROPOL_ONLY
        self._statistics().decision_made(
            report_id=event.report_id,
            decided_at=event.at,
            filed_at=event.filed_at,
            outcome=outcome,
            urgent=event.urgent,
            member_state=member_state,
            reasons=[reason.value for reason in event.reasons],
            false_matches=false_matches,
        )

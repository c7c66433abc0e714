"""Human review of reports (Art. 48): the queue, claims, decisions, four eyes, information
requests, and the provider's answers. Every step goes through the workflow table
(:mod:`hashmatch.reports.workflow`), is written with a condition on the status it left (so two
reviewers never both decide one report), and is recorded in the report's history and the audit
log.

Forwarding queues its messages *before* it records the decision, and a notification for the
provider is queued before the step it announces: a step is recorded only once its messages are
safely on their queue (nothing is lost when the queue refuses: the reviewer gets a 503 and
nothing changed). A message whose step was then not recorded (the write lost a race, or failed)
is recognised by its consumer, which finds no such step on the report, and dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from hashmatch.access.model import Principal, Role
from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import Conflict, DependencyUnavailable, InvalidInput, NotFound
from hashmatch.indicators.model import Indicator
from hashmatch.indicators.ports import IndicatorStore
from hashmatch.matching.events import MatchEvent
from hashmatch.matching.ports import MatchEventStore
from hashmatch.observability import logger
from hashmatch.reports.model import (
    Report,
    ReportPage,
    ReportStatus,
    StatusChange,
    Step,
    is_own_report,
    is_report_id,
    provider_status,
)
from hashmatch.reports.notifications import notification_of
from hashmatch.reports.outbound import ForwardedReportMessage, forwarded_report, recipients_of
from hashmatch.reports.ports import (
    NotificationQueue,
    OutboundQueue,
    QueueQuery,
    ReportStore,
    ReviewEvents,
)
from hashmatch.reports.review_events import ReviewEvent
from hashmatch.reports.review_records import (
    INDICATOR_FEEDBACK_REASONS,
    Claim,
    Delivery,
    InformationRequest,
    Outbound,
    Outcome,
    ReviewDecision,
    new_delivery_id,
    new_information_request_id,
)
from hashmatch.reports.review_requests import (
    DecisionRequest,
    ForwardDecision,
    InformationAnswer,
    InformationRequestBody,
    UnfoundedDecision,
)
from hashmatch.reports.workflow import (
    CLAIMABLE,
    Action,
    Actor,
    IllegalTransition,
    Transition,
    check_claimable,
    needs_second_reviewer,
    step_from,
)
from hashmatch.retention_policy import RetentionPolicy

DEFAULT_QUEUE_PAGE = 25
MAX_QUEUE_PAGE = 100

# Each step's audit action (every transition is audited).
_AUDIT_ACTIONS: Mapping[Step, AuditAction] = {
    Step.INFORMATION_REQUESTED: AuditAction.REPORT_INFORMATION_REQUESTED,
    Step.INFORMATION_PROVIDED: AuditAction.REPORT_INFORMATION_PROVIDED,
    Step.DECIDED_UNFOUNDED: AuditAction.REPORT_UNFOUNDED,
    Step.FORWARD_PROPOSED: AuditAction.REPORT_FORWARD_PROPOSED,
    Step.FORWARDED: AuditAction.REPORT_FORWARDED,
}


@dataclass(frozen=True)
class ReviewRules:
    """The workflow's parameters (template: ReviewClaimLeaseMinutes, DoNotInformMaxDays)."""

    claim_lease: timedelta = timedelta(minutes=30)
    do_not_inform_max: timedelta = timedelta(days=548)


@dataclass(frozen=True)
class ReviewDetail:
    """Everything a reviewer needs to decide one report."""

    report: Report
    events: Mapping[str, MatchEvent]  # the cited match events still stored, by match id
    indicators: Mapping[str, Indicator]  # the indicators they matched, by id


class ClaimHeld(Conflict):
    code = "claimed"
    title = "Claimed by another reviewer"

    def __init__(self, report_id: str, claim: Claim) -> None:
        super().__init__(
            f"report {report_id} is claimed by {claim.holder} until {claim.until.isoformat()}",
            errors=[{"loc": ["report", "claim"], "msg": f"held by {claim.holder}"}],
        )


class OwnDecision(Conflict):
    code = "four-eyes"
    title = "A second reviewer must confirm"

    def __init__(self, report_id: str) -> None:
        super().__init__(
            f"you proposed forwarding report {report_id}: another reviewer must confirm it",
            errors=[{"loc": ["report", "decision", "decided_by"], "msg": "your own decision"}],
        )


def _not_found(report_id: str) -> NotFound:
    return NotFound(f"no report {report_id}")


class _Workflow:
    """What the reviewers' and the providers' services share: reading a report, checking the
    actor the table names, and recording a step (history, conditional write, audit, event)."""

    def __init__(
        self,
        *,
        reports: ReportStore,
        notifications: NotificationQueue | None,
        events: ReviewEvents,
        clock: Clock,
        audit: AuditLog,
    ) -> None:
        self._reports = reports
        self._notifications = notifications
        self._events = events
        self._clock = clock
        self._audit = audit

    def _report(self, report_id: str) -> Report:
        report = self._reports.get(report_id) if is_report_id(report_id) else None
        if report is None:
            raise _not_found(report_id)
        return report

    def _check_actor(self, transition: Transition, principal: Principal, report: Report) -> None:
        """The table names who may take each step; refuse anyone else."""
        actor = transition.actor
        if actor is Actor.PROVIDER:
            if principal.role is not Role.PROVIDER or not is_own_report(principal, report):
                raise _not_found(report.report_id)
            return
        if principal.role is not Role.REVIEWER or actor is Actor.INTAKE:
            raise IllegalTransition(report.report_id, report.status, transition.action.value, ())
        decision = report.decision
        if actor is Actor.SECOND_REVIEWER and (
            decision is None or decision.decided_by == principal.client_id
        ):
            raise OwnDecision(report.report_id)
        held = report.live_claim(self._clock.now())
        if held is not None and held.holder != principal.client_id:
            raise ClaimHeld(report.report_id, held)

    def _advance(
        self,
        report: Report,
        transition: Transition,
        principal: Principal,
        now: datetime,
        **changes: Any,
    ) -> Report:
        entry = StatusChange(
            status=transition.target, at=now, by=principal.client_id, step=transition.step
        )
        return report.model_copy(update={"history": (*report.history, entry), **changes})

    def _record(
        self,
        before: Report,
        after: Report,
        transition: Transition,
        principal: Principal,
        *,
        details: Mapping[str, Any] | None = None,
        targets: tuple[str, ...] = (),
    ) -> None:
        """Queue the provider's notification (if what it sees changes), write the step on
        condition that the report is still where it was, then audit and announce it."""
        now = after.history[-1].at
        # The provider is notified of what others changed (it knows what it just did itself).
        if transition.actor is not Actor.PROVIDER and provider_status(
            after.status
        ) is not provider_status(before.status):
            assert self._notifications is not None, "reviewers' steps need the notifications queue"
            self._notifications.send(notification_of(after))
        claimant = None if transition.actor is Actor.PROVIDER else principal.client_id
        try:
            self._reports.transition(after, expected=before.status, claimant=claimant, now=now)
        except Conflict:
            raise self._why_refused(after.report_id, transition, principal) from None
        self._audit.record(
            _AUDIT_ACTIONS[transition.step],
            actor=principal.client_id,
            role=principal.role.value,
            targets=[after.report_id, *targets],
            details=dict(details or {}),
        )
        self._events.publish(ReviewEvent.of(after))
        logger.info(
            "report step recorded",
            extra={"report_id": after.report_id, "step": transition.step.value},
        )

    def _why_refused(
        self, report_id: str, transition: Transition, principal: Principal
    ) -> Conflict:
        """The conditional write failed: someone else changed the report first. Say how."""
        current = self._report(report_id)
        if current.status is not transition.source:
            return IllegalTransition(
                report_id, current.status, transition.action.value, [transition.source]
            )
        held = current.live_claim(self._clock.now())
        if held is not None and held.holder != principal.client_id:
            return ClaimHeld(report_id, held)
        return Conflict(f"report {report_id} changed meanwhile; read it and try again")


class ReviewService(_Workflow):
    """The reviewers' side (review_reports)."""

    def __init__(
        self,
        *,
        reports: ReportStore,
        match_events: MatchEventStore,
        indicators: IndicatorStore,
        outbound: OutboundQueue,
        notifications: NotificationQueue,
        events: ReviewEvents,
        clock: Clock,
        audit: AuditLog,
        policy: RetentionPolicy,
        rules: ReviewRules | None = None,
    ) -> None:
        super().__init__(
            reports=reports, notifications=notifications, events=events, clock=clock, audit=audit
        )
        self._match_events = match_events
        self._indicators = indicators
        self._outbound = outbound
        self._policy = policy
        self.rules = rules or ReviewRules()

    @property
    def now(self) -> datetime:
        return self._clock.now()

    # -- reading -------------------------------------------------------------------------------

    def queue(self, query: QueueQuery) -> ReportPage:
        if not 1 <= query.limit <= MAX_QUEUE_PAGE:
            raise InvalidInput(
                f"limit must be 1 to {MAX_QUEUE_PAGE}",
                errors=[{"loc": ["query", "limit"], "msg": f"1 to {MAX_QUEUE_PAGE}"}],
            )
        return self._reports.review_queue(query)

    def detail(self, principal: Principal, report_id: str) -> ReviewDetail:
        """A reviewer's read of one report with its evidence: every read is audited."""
        report = self._report(report_id)
        events = self._match_events.get_many(report.filing.details.match_ids)
        indicators = self._indicators.get_many({e.indicator_id for e in events.values()})
        self._audit.record(
            AuditAction.REPORT_READ,
            actor=principal.client_id,
            role=principal.role.value,
            targets=[report.report_id],
        )
        return ReviewDetail(report=report, events=events, indicators=indicators)

    # -- claims --------------------------------------------------------------------------------

    def claim(self, principal: Principal, report_id: str) -> Claim:
        """Take (or renew) the lease on a report: nobody else decides it while it runs."""
        report = self._report(report_id)
        check_claimable(report_id, report.status)
        now = self._clock.now()
        held = report.live_claim(now)
        if held is not None and held.holder != principal.client_id:
            raise ClaimHeld(report_id, held)
        until = now + self.rules.claim_lease
        claim = Claim(
            holder=principal.client_id,
            since=now,
            until=until,
            erase_after=until + self._policy.claims,
        )
        try:
            self._reports.claim(report_id, claim, claimable=CLAIMABLE)
        except Conflict:
            current = self._report(report_id)
            check_claimable(report_id, current.status)
            other = current.live_claim(now)
            if other is not None:
                raise ClaimHeld(report_id, other) from None
            raise Conflict(f"report {report_id} changed meanwhile; try again") from None
        self._audit.record(
            AuditAction.REPORT_CLAIMED,
            actor=principal.client_id,
            role=principal.role.value,
            targets=[report_id],
            details={"until": until.isoformat()},
        )
        return claim

    def release(self, principal: Principal, report_id: str) -> bool:
        """Give the lease back; True if there was one of yours (releasing none changes nothing)."""
        report = self._report(report_id)
        held = report.live_claim(self._clock.now())
        if held is not None and held.holder != principal.client_id:
            raise ClaimHeld(report_id, held)
        released = self._reports.release(report_id, principal.client_id)
        if released:
            self._audit.record(
                AuditAction.REPORT_CLAIM_RELEASED,
                actor=principal.client_id,
                role=principal.role.value,
                targets=[report_id],
            )
        return released

    # -- decisions -----------------------------------------------------------------------------

    def decide(self, principal: Principal, report_id: str, request: DecisionRequest) -> Report:
        report = self._report(report_id)
        if isinstance(request, UnfoundedDecision):
            return self._decide_unfounded(principal, report, request)
        return self._decide_forward(principal, report, request)

    def confirm(self, principal: Principal, report_id: str) -> Report:
        """Four eyes: a second reviewer confirms a proposed forwarding, which then goes out."""
        report = self._report(report_id)
        transition = step_from(report_id, report.status, Action.CONFIRM)
        self._check_actor(transition, principal, report)
        assert report.decision is not None  # the table's source status has one
        now = self._clock.now()
        confirmed = report.decision.model_copy(
            update={"confirmed_by": principal.client_id, "confirmed_at": now}
        )
        return self._forward(principal, report, transition, confirmed, now)

    def _decide_unfounded(
        self, principal: Principal, report: Report, request: UnfoundedDecision
    ) -> Report:
        transition = step_from(report.report_id, report.status, Action.DECIDE_UNFOUNDED)
        self._check_actor(transition, principal, report)
        now = self._clock.now()
        decision = ReviewDecision(
            outcome=Outcome.MANIFESTLY_UNFOUNDED,
            decided_by=principal.client_id,
            decided_at=now,
            reasons=request.reasons,
            duplicate_of=request.duplicate_of,
            duplicate_is_providers_own=self._duplicate_is_own(report, request.duplicate_of),
            internal_note=request.internal_note,
        )
        decided = self._decided(
            report, transition, principal, decision, keep_for=self._policy.unfounded_reports
        )
        disputed = self._disputed_indicators(report, request)
        if disputed:
            # Counted before the decision is written (idempotently: once per report), so a
            # recorded decision is never missing its feedback; withdrawn if the write fails.
            self._indicators.dispute(disputed, report_id=report.report_id, now=now)
        try:
            self._record(
                report,
                decided,
                transition,
                principal,
                details={"reasons": [reason.value for reason in request.reasons]},
            )
        except (Conflict, DependencyUnavailable):
            if disputed:
                self._indicators.withdraw_dispute(disputed, report_id=report.report_id)
            raise
        if disputed:
            self._audit.record(
                AuditAction.INDICATORS_FLAGGED,
                actor=principal.client_id,
                role=principal.role.value,
                targets=[report.report_id, *sorted(disputed)],
                details={"reasons": sorted(r.value for r in request.reasons)},
            )
        return decided

    def _decide_forward(
        self, principal: Principal, report: Report, request: ForwardDecision
    ) -> Report:
        now = self._clock.now()
        self._check_do_not_inform(request, now)
        events = self._match_events.get_many(report.filing.details.match_ids)
        databases = {event.database for event in events.values()}
        four_eyes = needs_second_reviewer(databases)
        action = Action.PROPOSE_FORWARD if four_eyes else Action.DECIDE_FORWARD
        transition = step_from(report.report_id, report.status, action)
        self._check_actor(transition, principal, report)
        decision = ReviewDecision(
            outcome=Outcome.FORWARD,
            decided_by=principal.client_id,
            decided_at=now,
            member_state=request.member_state,
            europol_only=request.europol_only,
            do_not_inform_until=request.do_not_inform_until,
            internal_note=request.internal_note,
            four_eyes=four_eyes,
        )
        if not four_eyes:
            return self._forward(principal, report, transition, decision, now, events=events)
        proposed = self._advance(report, transition, principal, now, decision=decision, claim=None)
        self._record(report, proposed, transition, principal)
        return proposed

    def _forward(
        self,
        principal: Principal,
        report: Report,
        transition: Transition,
        decision: ReviewDecision,
        now: datetime,
        *,
        events: Mapping[str, MatchEvent] | None = None,
    ) -> Report:
        """Queue one message per recipient, then record the forwarding (see the module doc)."""
        if events is None:
            events = self._match_events.get_many(report.filing.details.match_ids)
        indicators = self._indicators.get_many({e.indicator_id for e in events.values()})
        payload = forwarded_report(
            report, decision, events=events.values(), indicators=indicators, forwarded_at=now
        )
        deliveries = {r: Delivery(delivery_id=new_delivery_id()) for r in recipients_of(decision)}
        forwarded = self._decided(
            report,
            transition,
            principal,
            decision,
            keep_for=self._policy.forwarded_reports,
            outbound=Outbound(
                forwarded_at=now,
                message=payload.model_dump_json(),
                deliveries=deliveries,
                erase_after=now + self._policy.outbound_messages,
            ),
        )
        self._outbound.send(
            [
                ForwardedReportMessage(delivery_id=d.delivery_id, recipient=r, report=payload)
                for r, d in deliveries.items()
            ]
        )
        self._record(
            report,
            forwarded,
            transition,
            principal,
            details={
                "recipients": sorted(deliveries),
                "four_eyes": decision.four_eyes,
                "decided_by": decision.decided_by,
            },
        )
        return forwarded

    # -- information requests ------------------------------------------------------------------

    def request_information(
        self, principal: Principal, report_id: str, body: InformationRequestBody
    ) -> InformationRequest:
        report = self._report(report_id)
        transition = step_from(report_id, report.status, Action.REQUEST_INFORMATION)
        self._check_actor(transition, principal, report)
        now = self._clock.now()
        request = InformationRequest(
            request_id=new_information_request_id(),
            asked_by=principal.client_id,
            asked_at=now,
            question=body.question,
        )
        asked = self._advance(
            report,
            transition,
            principal,
            now,
            claim=None,
            information_requests=(*report.information_requests, request),
        )
        self._record(report, asked, transition, principal, targets=(request.request_id,))
        return request

    # -- checks --------------------------------------------------------------------------------

    def _check_do_not_inform(self, request: ForwardDecision, now: datetime) -> None:
        until = request.do_not_inform_until
        latest = now + self.rules.do_not_inform_max
        if until is not None and not now < until <= latest:
            raise InvalidInput(
                f"do_not_inform_until must lie after now and within "
                f"{self.rules.do_not_inform_max.days} days",
                errors=[
                    {
                        "loc": ["body", "do_not_inform_until"],
                        "msg": f"between now and {latest.date().isoformat()}",
                    }
                ],
            )

    def _duplicate_is_own(self, report: Report, duplicate_of: str | None) -> bool:
        if duplicate_of is None:
            return False
        original = self._reports.get(duplicate_of) if duplicate_of != report.report_id else None
        if original is None:
            raise InvalidInput(
                f"duplicate_of names no other report ({duplicate_of})",
                errors=[{"loc": ["body", "duplicate_of"], "msg": "no such other report"}],
            )
        return original.provider == report.provider

    def _disputed_indicators(self, report: Report, request: UnfoundedDecision) -> set[str]:
        if not INDICATOR_FEEDBACK_REASONS.intersection(request.reasons):
            return set()
        events = self._match_events.get_many(report.filing.details.match_ids)
        return {event.indicator_id for event in events.values()}

    def _decided(
        self,
        report: Report,
        transition: Transition,
        principal: Principal,
        decision: ReviewDecision,
        *,
        keep_for: timedelta,
        **changes: Any,
    ) -> Report:
        """The report with its final step: the decision, no claim, and the erasure dates of the
        report and of its information requests' texts."""
        now = decision.confirmed_at or decision.decided_at
        texts_until = (
            now + self._policy.information_requests if report.information_requests else None
        )
        return self._advance(
            report,
            transition,
            principal,
            now,
            decision=decision,
            claim=None,
            erase_after=now + keep_for,
            information_erase_after=texts_until,
            **changes,
        )


class InformationAnswers(_Workflow):
    """The provider's side of an information request (file_reports)."""

    def answer(self, principal: Principal, report_id: str, body: InformationAnswer) -> Report:
        """Answer the open request of one of your reports: it goes back to the review queue.

        Another provider's report is NotFound, as a report that does not exist is."""
        report = self._report(report_id)
        if not is_own_report(principal, report):
            raise _not_found(report_id)
        transition = step_from(report_id, report.status, Action.ANSWER)
        self._check_actor(transition, principal, report)
        request = report.open_information_request
        if request is None or request.request_id != body.request_id:
            raise InvalidInput(
                f"{body.request_id} is not the open information request of report {report_id}",
                errors=[{"loc": ["body", "request_id"], "msg": "not the open request"}],
            )
        now = self._clock.now()
        answered = request.model_copy(
            update={"answered_by": principal.client_id, "answered_at": now, "answer": body.answer}
        )
        provided = self._advance(
            report,
            transition,
            principal,
            now,
            information_requests=tuple(
                answered if r.request_id == request.request_id else r
                for r in report.information_requests
            ),
        )
        self._record(report, provided, transition, principal, targets=(request.request_id,))
        return provided


# The statuses the review queue lists: every one a stored report can be in (a report only
# received is still on its way to the table). Spelled out so the API's schema names them.
class QueueStatus(StrEnum):
    STORED = ReportStatus.STORED.value
    AWAITING_PROVIDER = ReportStatus.AWAITING_PROVIDER.value
    AWAITING_CONFIRMATION = ReportStatus.AWAITING_CONFIRMATION.value
    FORWARDED = ReportStatus.FORWARDED.value
    UNFOUNDED = ReportStatus.UNFOUNDED.value


def queue_status_of(value: QueueStatus | ReportStatus | None) -> ReportStatus:
    """The queue lists undecided (stored) reports unless another status is asked for."""
    if value is not None and value.value not in set(QueueStatus):
        raise InvalidInput(
            "received reports are not stored yet",
            errors=[{"loc": ["query", "status"], "msg": "not a status of stored reports"}],
        )
    return ReportStatus(value.value) if value is not None else ReportStatus.STORED

"""The review API's response bodies (reviewers see everything, the internal note included)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hashmatch.indicators.model import Indicator, IndicatorStatus
from hashmatch.matching.events import MatchEvent
from hashmatch.reports.model import (
    Report,
    ReportDetails,
    ReportId,
    ReportPage,
    ReportStatus,
    StatusChange,
    Step,
)
from hashmatch.reports.review import ReviewDetail
from hashmatch.reports.review_records import (
    Claim,
    DeliveryState,
    InformationRequest,
    Outcome,
    ReviewDecision,
    UnfoundedReason,
)


class ClaimView(BaseModel):
    """Your lease on the report: nobody else decides it until ``until``."""

    report_id: ReportId
    holder: str
    since: AwareDatetime
    until: AwareDatetime

    @classmethod
    def of(cls, report_id: str, claim: Claim) -> ClaimView:
        return cls(report_id=report_id, holder=claim.holder, since=claim.since, until=claim.until)


class ClaimReleased(BaseModel):
    report_id: ReportId
    released: bool = Field(description="False if you held no claim on it (nothing changed)")


class DeliveryView(BaseModel):
    recipient: str = Field(description='"europol" or the Member State code')
    state: DeliveryState
    attempts: int
    last_attempt_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    receipt: str | None = Field(default=None, description="The recipient's reference")


def _deliveries(report: Report) -> list[DeliveryView]:
    outbound = report.outbound
    if outbound is None:
        return []
    return [
        DeliveryView(
            recipient=recipient,
            state=delivery.state,
            attempts=delivery.attempts,
            last_attempt_at=delivery.last_attempt_at,
            delivered_at=delivery.delivered_at,
            receipt=delivery.receipt,
        )
        for recipient, delivery in sorted(outbound.deliveries.items())
    ]


class QueueEntry(BaseModel):
    """One report of the queue: enough to choose what to open next."""

    report_id: ReportId
    status: ReportStatus
    urgent: bool
    filed_at: AwareDatetime
    age_seconds: int = Field(description="Since it was filed")
    content_type: str
    suspected_member_state: str | None
    databases: list[str] = Field(description="The databases its matches are in")
    match_count: int
    claimed_by: str | None = Field(description="Who holds a live claim on it, if anyone")
    claimed_until: AwareDatetime | None
    decided_by: str | None = Field(
        default=None, description="awaiting_confirmation: who proposed forwarding it"
    )
    deliveries: list[DeliveryView] = Field(default_factory=list, description="forwarded only")

    @classmethod
    def of(cls, report: Report, now: datetime) -> QueueEntry:
        details = report.filing.details
        claim = report.live_claim(now)
        decision = report.decision
        return cls(
            report_id=report.report_id,
            status=report.status,
            urgent=details.urgent,
            filed_at=report.filing.filed_at,
            age_seconds=max(0, int((now - report.filing.filed_at).total_seconds())),
            content_type=details.content_type.value,
            suspected_member_state=details.suspected_member_state,
            databases=list(report.databases),
            match_count=len(details.match_ids),
            claimed_by=claim.holder if claim else None,
            claimed_until=claim.until if claim else None,
            decided_by=decision.decided_by
            if decision and report.status is ReportStatus.AWAITING_CONFIRMATION
            else None,
            deliveries=_deliveries(report),
        )


class ReviewQueuePage(BaseModel):
    """Urgent first, then oldest first. Pass `next` back as `?next=` for the next page."""

    reports: list[QueueEntry]
    next: str | None = Field(default=None, description="Cursor of the next page; absent at the end")

    @classmethod
    def of(cls, page: ReportPage, now: datetime) -> ReviewQueuePage:
        return cls(reports=[QueueEntry.of(r, now) for r in page.reports], next=page.cursor)


class HistoryEntryView(BaseModel):
    status: ReportStatus
    step: Step
    at: AwareDatetime
    by: str = Field(description="A client id, or the function that acted")
    recipient: str | None = None
    attempt: int | None = None
    detail: str | None = None

    @classmethod
    def of(cls, entry: StatusChange) -> HistoryEntryView:
        return cls(
            status=entry.status,
            step=entry.what,
            at=entry.at,
            by=entry.by,
            recipient=entry.recipient,
            attempt=entry.attempt,
            detail=entry.detail,
        )


class DecisionView(BaseModel):
    outcome: Outcome
    decided_by: str
    decided_at: AwareDatetime
    reasons: list[UnfoundedReason]
    duplicate_of: str | None
    member_state: str | None
    europol_only: bool
    do_not_inform_until: AwareDatetime | None
    internal_note: str | None
    four_eyes: bool = Field(description="Forwarding needs a second reviewer's confirmation")
    confirmed_by: str | None
    confirmed_at: AwareDatetime | None

    @classmethod
    def of(cls, decision: ReviewDecision) -> DecisionView:
        return cls(
            outcome=decision.outcome,
            decided_by=decision.decided_by,
            decided_at=decision.decided_at,
            reasons=list(decision.reasons),
            duplicate_of=decision.duplicate_of,
            member_state=decision.member_state,
            europol_only=decision.europol_only,
            do_not_inform_until=decision.do_not_inform_until,
            internal_note=decision.internal_note,
            four_eyes=decision.four_eyes,
            confirmed_by=decision.confirmed_by,
            confirmed_at=decision.confirmed_at,
        )


class InformationRequestView(BaseModel):
    request_id: str
    report_id: ReportId
    asked_by: str
    asked_at: AwareDatetime
    question: str | None = Field(description="None once erased (InformationRequestRetentionDays)")
    answered_at: AwareDatetime | None = None
    answer: str | None = None
    texts_erased_at: AwareDatetime | None = None

    @classmethod
    def of(cls, report_id: str, request: InformationRequest) -> InformationRequestView:
        return cls(
            request_id=request.request_id,
            report_id=report_id,
            asked_by=request.asked_by,
            asked_at=request.asked_at,
            question=request.question,
            answered_at=request.answered_at,
            answer=request.answer,
            texts_erased_at=request.texts_erased_at,
        )


class MatchView(BaseModel):
    match_id: str
    indicator_id: str
    database: str
    media_type: str
    hash_type: str
    distance: int
    threshold: int
    index_version: int
    matched_at: AwareDatetime
    via: str

    @classmethod
    def of(cls, event: MatchEvent) -> MatchView:
        return cls.model_validate(event.model_dump(include=set(cls.model_fields)))


class ProvenanceSummary(BaseModel):
    authority: str
    member_state: str
    assessment_reference: str
    assessed_at: AwareDatetime


class IndicatorSummary(BaseModel):
    """A cited indicator as the reviewer must weigh it: revoked or suspended ones are flagged."""

    indicator_id: str
    found: bool = Field(description="False: no such indicator any more")
    status: IndicatorStatus | None = None
    revoked: bool = False
    suspended: bool = False
    database: str | None = None
    media_type: str | None = None
    provenance: list[ProvenanceSummary] = Field(default_factory=list)
    provenance_erased: bool = False
    disputes: int = Field(default=0, description="Reports decided unfounded against it")
    needs_review: bool = False

    @classmethod
    def of(cls, indicator_id: str, indicator: Indicator | None) -> IndicatorSummary:
        if indicator is None:
            return cls(indicator_id=indicator_id, found=False)
        return cls(
            indicator_id=indicator_id,
            found=True,
            status=indicator.status,
            revoked=indicator.status is IndicatorStatus.REVOKED,
            suspended=indicator.status is IndicatorStatus.SUSPENDED,
            database=indicator.database.value,
            media_type=indicator.media_type.value,
            provenance=[
                ProvenanceSummary.model_validate(
                    p.model_dump(include=set(ProvenanceSummary.model_fields))
                )
                for p in indicator.provenance
            ],
            provenance_erased=indicator.provenance_erased_at is not None,
            disputes=indicator.disputes,
            needs_review=indicator.needs_review_since is not None,
        )


class ReviewReportView(ReportDetails):
    """Everything a reviewer needs to decide the report (each read is audited)."""

    model_config = ConfigDict(json_schema_extra=None)

    report_id: ReportId
    status: ReportStatus
    provider: str = Field(description="The reporting provider organisation")
    client_id: str
    filed_at: AwareDatetime
    databases: list[str]
    history: list[HistoryEntryView]
    claim: ClaimView | None
    decision: DecisionView | None
    information_requests: list[InformationRequestView]
    deliveries: list[DeliveryView]
    matches: list[MatchView] = Field(description="The cited match events still stored")
    missing_match_ids: list[str] = Field(description="Cited ids whose events are gone")
    indicators: list[IndicatorSummary]

    @classmethod
    def of(cls, detail: ReviewDetail, now: datetime) -> ReviewReportView:
        report = detail.report
        filing = report.filing
        claim = report.live_claim(now)
        cited = filing.details.match_ids
        events = [detail.events[m] for m in cited if m in detail.events]
        indicator_ids = sorted({event.indicator_id for event in events})
        return cls(
            **filing.details.model_dump(),
            report_id=report.report_id,
            status=report.status,
            provider=report.provider,
            client_id=filing.client_id,
            filed_at=filing.filed_at,
            databases=list(report.databases),
            history=[HistoryEntryView.of(entry) for entry in report.history],
            claim=ClaimView.of(report.report_id, claim) if claim else None,
            decision=DecisionView.of(report.decision) if report.decision else None,
            information_requests=[
                InformationRequestView.of(report.report_id, r) for r in report.information_requests
            ],
            deliveries=_deliveries(report),
            matches=[MatchView.of(event) for event in events],
            missing_match_ids=[m for m in cited if m not in detail.events],
            indicators=[IndicatorSummary.of(i, detail.indicators.get(i)) for i in indicator_ids],
        )


class ReviewOutcome(BaseModel):
    """Where the report stands after your step."""

    report_id: ReportId
    status: ReportStatus
    decision: DecisionView | None
    deliveries: list[DeliveryView]
    history: list[HistoryEntryView]

    @classmethod
    def of(cls, report: Report) -> ReviewOutcome:
        return cls(
            report_id=report.report_id,
            status=report.status,
            decision=DecisionView.of(report.decision) if report.decision else None,
            deliveries=_deliveries(report),
            history=[HistoryEntryView.of(entry) for entry in report.history],
        )

"""The reports API's request and response bodies (the HTTP boundary; mapped to the domain here)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hashmatch.reports.model import (
    DELIVERY_STEPS,
    Report,
    ReportDetails,
    ReportId,
    ReportPage,
    ReportReceipt,
    ReportStatus,
    provider_status,
)
from hashmatch.reports.review_records import (
    REASON_DESCRIPTIONS,
    InformationRequest,
    Outcome,
    UnfoundedReason,
)


class ReportAccepted(BaseModel):
    """202 answer: the report is queued for intake; GET /v1/reports/{id} shows it once stored."""

    report_id: ReportId
    status: ReportStatus = Field(description="Always `received` here")
    filed_at: AwareDatetime

    @classmethod
    def of(cls, receipt: ReportReceipt) -> ReportAccepted:
        return cls(report_id=receipt.report_id, status=receipt.status, filed_at=receipt.filed_at)


class StatusStep(BaseModel):
    status: ReportStatus
    at: AwareDatetime


class UnfoundedReasonView(BaseModel):
    code: UnfoundedReason
    description: str


class OpenInformationRequest(BaseModel):
    """A question the Centre asked you: answer with POST /v1/reports/{id}/information."""

    request_id: str
    question: str | None
    asked_at: AwareDatetime

    @classmethod
    def of(cls, request: InformationRequest) -> OpenInformationRequest:
        return cls(
            request_id=request.request_id, question=request.question, asked_at=request.asked_at
        )


class ReportView(ReportDetails):
    """A report as its provider sees it: what was stated, every status it has been in (oldest
    first), and the outcome of its review: the reasons it was found manifestly unfounded, an
    instruction not to inform the user before a date, or a question to answer."""

    model_config = ConfigDict(json_schema_extra=None)

    report_id: ReportId
    status: ReportStatus
    filed_at: AwareDatetime
    history: list[StatusStep]
    unfounded_reasons: list[UnfoundedReasonView] = Field(default_factory=list)
    duplicate_of: ReportId | None = Field(
        default=None, description="With reason `duplicate`: your report this one repeats"
    )
    do_not_inform_until: AwareDatetime | None = Field(
        default=None, description="Forwarded: do not inform the user concerned before this"
    )
    information_request: OpenInformationRequest | None = None

    @classmethod
    def of(cls, report: Report) -> ReportView:
        filing = report.filing
        status = provider_status(report.status)
        decision = report.decision
        unfounded = (
            decision if decision and decision.outcome is Outcome.MANIFESTLY_UNFOUNDED else None
        )
        forwarded = decision if status is ReportStatus.FORWARDED else None
        open_request = report.open_information_request
        return cls(
            report_id=filing.report_id,
            status=status,
            filed_at=filing.filed_at,
            # Who took each step (client ids, reviewers) is for the audit log, not the provider;
            # so are a forwarding awaiting a second reviewer and the deliveries to authorities.
            history=[
                StatusStep(status=step.status, at=step.at)
                for step in report.history
                if step.what not in DELIVERY_STEPS and provider_status(step.status) is step.status
            ],
            unfounded_reasons=[
                UnfoundedReasonView(code=reason, description=REASON_DESCRIPTIONS[reason])
                for reason in (unfounded.reasons if unfounded else ())
            ],
            duplicate_of=unfounded.duplicate_of
            if unfounded and unfounded.duplicate_is_providers_own
            else None,
            do_not_inform_until=forwarded.do_not_inform_until if forwarded else None,
            information_request=OpenInformationRequest.of(open_request) if open_request else None,
            **filing.details.model_dump(),
        )


class ReportList(BaseModel):
    """One page of your reports, newest first. Pass `next` back as `?next=` for the next page."""

    reports: list[ReportView]
    next: str | None = Field(default=None, description="Cursor of the next page; absent at the end")

    @classmethod
    def of(cls, page: ReportPage) -> ReportList:
        return cls(reports=[ReportView.of(report) for report in page.reports], next=page.cursor)

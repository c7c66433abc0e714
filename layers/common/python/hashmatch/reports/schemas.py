"""The reports API's request and response bodies (the HTTP boundary; mapped to the domain here)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hashmatch.reports.model import (
    Report,
    ReportDetails,
    ReportId,
    ReportPage,
    ReportReceipt,
    ReportStatus,
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


class ReportView(ReportDetails):
    """A report as its provider sees it: what was stated, and every status it has been in
    (oldest first)."""

    model_config = ConfigDict(json_schema_extra=None)

    report_id: ReportId
    status: ReportStatus
    filed_at: AwareDatetime
    history: list[StatusStep]

    @classmethod
    def of(cls, report: Report) -> ReportView:
        filing = report.filing
        return cls(
            report_id=filing.report_id,
            status=report.status,
            filed_at=filing.filed_at,
            # Who took each step (client ids, reviewers) is for the audit log, not the provider.
            history=[StatusStep(status=step.status, at=step.at) for step in report.history],
            **filing.details.model_dump(),
        )


class ReportList(BaseModel):
    """One page of your reports, newest first. Pass `next` back as `?next=` for the next page."""

    reports: list[ReportView]
    next: str | None = Field(default=None, description="Cursor of the next page; absent at the end")

    @classmethod
    def of(cls, page: ReportPage) -> ReportList:
        return cls(reports=[ReportView.of(report) for report in page.reports], next=page.cursor)

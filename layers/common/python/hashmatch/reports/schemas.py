"""The reports API's request and response bodies (the HTTP boundary; mapped to the domain here)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hashmatch.reports.model import (
    MAX_MATCH_IDS,
    ContentRef,
    ContentType,
    CountryCode,
    LegalBasis,
    MatchIds,
    Report,
    ReportDetails,
    ReportedToList,
    ReportId,
    ReportPage,
    ReportReceipt,
    ReportStatus,
)


class FileReportRequest(BaseModel):
    """POST /v1/reports: a report about content that matched."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "match_ids": ["mt_0123456789abcdef01234567"],
                    "content_ref": "upload-7f3a",
                    "content_type": "image",
                    "detected_at": "2026-11-29T18:00:00Z",
                    "urgent": False,
                    "suspected_member_state": "DE",
                    "legal_basis": "Regulation (EU) 2024/1307, Art. 12",
                    "removed": True,
                    "also_reported_to": ["NCMEC"],
                }
            ]
        },
    )

    match_ids: MatchIds = Field(
        description=f"1 to {MAX_MATCH_IDS} match ids from POST /v1/match, all your own, unrepeated"
    )
    content_ref: ContentRef = Field(description="Your own opaque id of the content (<= 256 chars)")
    content_type: ContentType
    detected_at: AwareDatetime = Field(description="When you detected it (with a time zone)")
    urgent: bool = Field(default=False, description="Imminent risk to a child: reviewed first")
    suspected_member_state: CountryCode | None = Field(
        default=None, description="ISO 3166-1 alpha-2 code of the state concerned, if known"
    )
    legal_basis: LegalBasis = Field(description="The legal basis you report under (<= 200 chars)")
    removed: bool = Field(default=False, description="You have removed or disabled the content")
    also_reported_to: ReportedToList = Field(
        default=(), description="Other bodies you reported it to (short names, up to 10)"
    )

    def to_details(self) -> ReportDetails:
        return ReportDetails(
            match_ids=self.match_ids,
            content_ref=self.content_ref,
            content_type=self.content_type,
            detected_at=self.detected_at,
            urgent=self.urgent,
            suspected_member_state=self.suspected_member_state,
            legal_basis=self.legal_basis,
            removed=self.removed,
            also_reported_to=self.also_reported_to,
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


class ReportView(BaseModel):
    """A report as its provider sees it, with every status it has been in (oldest first)."""

    report_id: ReportId
    status: ReportStatus
    filed_at: AwareDatetime
    history: list[StatusStep]
    match_ids: list[str]
    content_ref: str
    content_type: ContentType
    detected_at: AwareDatetime
    urgent: bool
    suspected_member_state: str | None
    legal_basis: str
    removed: bool
    also_reported_to: list[str]

    @classmethod
    def of(cls, report: Report) -> ReportView:
        filing, details = report.filing, report.filing.details
        return cls(
            report_id=filing.report_id,
            status=report.status,
            filed_at=filing.filed_at,
            # Who took each step (client ids, reviewers) is for the audit log, not the provider.
            history=[StatusStep(status=step.status, at=step.at) for step in report.history],
            match_ids=list(details.match_ids),
            content_ref=details.content_ref,
            content_type=details.content_type,
            detected_at=details.detected_at,
            urgent=details.urgent,
            suspected_member_state=details.suspected_member_state,
            legal_basis=details.legal_basis,
            removed=details.removed,
            also_reported_to=list(details.also_reported_to),
        )


class ReportList(BaseModel):
    """One page of your reports, newest first. Pass `next` back as `?next=` for the next page."""

    reports: list[ReportView]
    next: str | None = Field(default=None, description="Cursor of the next page; absent at the end")

    @classmethod
    def of(cls, page: ReportPage) -> ReportList:
        return cls(reports=[ReportView.of(report) for report in page.reports], next=page.cursor)

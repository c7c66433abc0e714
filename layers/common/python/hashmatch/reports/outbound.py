"""The forwarded report: what Europol and a Member State's authority receive, and nothing more.

One message per recipient goes on the outbound queue and, by forward_reports, to the recipient
(HTTPS POST of the message as JSON, ``Idempotency-Key: <report_id>``). The format is versioned:
``format`` and ``version`` say which; a change that removes or changes a field is a new version
(docs/review.md, "The forwarded report").

Left out on purpose: the reviewers' internal note, who reviewed, claims, information requests
and the provider's answers, the report's history, the client id of the provider's key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hashmatch.indicators.model import Indicator
from hashmatch.matching.events import MatchEvent
from hashmatch.reports.model import ContentType, Report, ReportId
from hashmatch.reports.review_records import (
    DELIVERY_ID_PATTERN,
    EUROPOL,
    RECIPIENT_PATTERN,
    ReviewDecision,
)

FORMAT: Literal["hashmatch.forwarded-report"] = "hashmatch.forwarded-report"
VERSION: Literal[1] = 1


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ForwardedContent(_Part):
    """What the provider stated about the content (never the content itself)."""

    content_ref: str = Field(description="The provider's own opaque id of the content")
    content_type: ContentType
    detected_at: AwareDatetime
    suspected_member_state: str | None
    legal_basis: str
    removed: bool
    also_reported_to: tuple[str, ...]


class ForwardedMatch(_Part):
    match_id: str
    indicator_id: str
    database: str
    media_type: str
    hash_type: str
    distance: int
    threshold: int
    matched_at: AwareDatetime


class Assessment(_Part):
    """How a cited indicator's material was assessed (Art. 36, 44)."""

    authority: str
    member_state: str
    assessment_reference: str
    assessed_at: AwareDatetime


class ForwardedIndicator(_Part):
    indicator_id: str
    database: str
    media_type: str
    assessments: tuple[Assessment, ...]


class ForwardedReport(_Part):
    """The report as forwarded: the same for every recipient."""

    report_id: ReportId = Field(
        description="Also the Idempotency-Key: the same report twice is one"
    )
    provider: str = Field(description="The reporting provider organisation")
    filed_at: AwareDatetime
    forwarded_at: AwareDatetime
    urgent: bool
    competent_member_state: str | None = Field(description="None when europol_only")
    europol_only: bool
    do_not_inform_until: AwareDatetime | None = Field(
        description="The provider is told not to inform the user before this"
    )
    content: ForwardedContent
    matches: tuple[ForwardedMatch, ...]
    indicators: tuple[ForwardedIndicator, ...]


class ForwardedReportMessage(_Part):
    """One recipient's message (format hashmatch.forwarded-report, version 1)."""

    format: Literal["hashmatch.forwarded-report"] = FORMAT
    version: Literal[1] = VERSION
    delivery_id: str = Field(pattern=DELIVERY_ID_PATTERN)
    recipient: str = Field(pattern=RECIPIENT_PATTERN, description='"europol" or an EU state code')
    report: ForwardedReport


@dataclass(frozen=True)
class DeliveryReceipt:
    """A recipient took the message; ``reference`` is its own id for it, if it gave one."""

    reference: str | None = None


class DeliveryFailed(Exception):
    """A recipient (or webhook) did not take the message; ``detail`` says how, without data."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def recipients_of(decision: ReviewDecision) -> tuple[str, ...]:
    """Europol always; the competent Member State's authority unless europol_only."""
    if decision.europol_only or decision.member_state is None:
        return (EUROPOL,)
    return (EUROPOL, decision.member_state)


def forwarded_report(
    report: Report,
    decision: ReviewDecision,
    *,
    events: Iterable[MatchEvent],
    indicators: Mapping[str, Indicator],
    forwarded_at: datetime,
) -> ForwardedReport:
    details = report.filing.details
    cited = sorted(events, key=lambda event: event.match_id)
    return ForwardedReport(
        report_id=report.report_id,
        provider=report.provider,
        filed_at=report.filing.filed_at,
        forwarded_at=forwarded_at,
        urgent=details.urgent,
        competent_member_state=None if decision.europol_only else decision.member_state,
        europol_only=decision.europol_only,
        do_not_inform_until=decision.do_not_inform_until,
        content=ForwardedContent(
            content_ref=details.content_ref,
            content_type=details.content_type,
            detected_at=details.detected_at,
            suspected_member_state=details.suspected_member_state,
            legal_basis=details.legal_basis,
            removed=details.removed,
            also_reported_to=details.also_reported_to,
        ),
        matches=tuple(
            ForwardedMatch(
                match_id=event.match_id,
                indicator_id=event.indicator_id,
                database=event.database,
                media_type=event.media_type,
                hash_type=event.hash_type,
                distance=event.distance,
                threshold=event.threshold,
                matched_at=event.matched_at,
            )
            for event in cited
        ),
        indicators=tuple(
            ForwardedIndicator(
                indicator_id=indicator.id,
                database=indicator.database.value,
                media_type=indicator.media_type.value,
                assessments=tuple(
                    Assessment(
                        authority=p.authority,
                        member_state=p.member_state,
                        assessment_reference=p.assessment_reference,
                        assessed_at=p.assessed_at,
                    )
                    for p in indicator.provenance
                ),
            )
            for indicator_id in sorted({event.indicator_id for event in cited})
            if (indicator := indicators.get(indicator_id)) is not None
        ),
    )

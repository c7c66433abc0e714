"""The reports queue's message: a filing in transit, versioned so intake can refuse what it
does not understand (it fails the record, which after its retries lands in the DLQ)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from hashmatch.reports.model import (
    ContentType,
    Filing,
    MatchIds,
    ReportDetails,
    ReportedToList,
    ReportId,
)


class ReportMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    report_id: ReportId
    provider: str
    client_id: str
    filed_at: AwareDatetime
    match_ids: MatchIds
    content_ref: str
    content_type: ContentType
    detected_at: AwareDatetime
    urgent: bool
    suspected_member_state: str | None
    legal_basis: str
    removed: bool
    also_reported_to: ReportedToList

    @classmethod
    def of(cls, filing: Filing) -> ReportMessage:
        details = filing.details
        return cls(
            report_id=filing.report_id,
            provider=filing.provider,
            client_id=filing.client_id,
            filed_at=filing.filed_at,
            match_ids=details.match_ids,
            content_ref=details.content_ref,
            content_type=details.content_type,
            detected_at=details.detected_at,
            urgent=details.urgent,
            suspected_member_state=details.suspected_member_state,
            legal_basis=details.legal_basis,
            removed=details.removed,
            also_reported_to=details.also_reported_to,
        )

    def to_filing(self) -> Filing:
        """Validated again on the way in: the queue is a boundary too."""
        return Filing(
            report_id=self.report_id,
            provider=self.provider,
            client_id=self.client_id,
            filed_at=self.filed_at,
            details=ReportDetails(
                match_ids=self.match_ids,
                content_ref=self.content_ref,
                content_type=self.content_type,
                detected_at=self.detected_at,
                urgent=self.urgent,
                suspected_member_state=self.suspected_member_state,
                legal_basis=self.legal_basis,
                removed=self.removed,
                also_reported_to=self.also_reported_to,
            ),
        )

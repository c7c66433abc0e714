"""Reports: what a provider files about matched content, and the status history it goes through.

A report carries the provider's own opaque content reference (never the content), the match
events it cites, and the facts a reviewer needs to triage it. Its statuses and the steps
between them are one table, :mod:`hashmatch.reports.workflow`: received (filed and queued) ->
stored (in the review queue) -> forwarded | unfounded, possibly by way of awaiting_provider (an
information request) or awaiting_confirmation (four eyes). Every step is kept with its time and
who took it, for the audit log and for retention (a report's erasure date follows from its
decision).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from hashmatch.access.model import Principal
from hashmatch.countries import CountryCode
from hashmatch.ids import MATCH_ID_PATTERN, REPORT_ID_PATTERN, REPORT_ID_PREFIX
from hashmatch.input_types import EventTime, Flag, FreeText
from hashmatch.reports.review_records import Claim, InformationRequest, Outbound, ReviewDecision

_REPORT_ID = re.compile(REPORT_ID_PATTERN)
MAX_MATCH_IDS = 100
MAX_CONTENT_REF_LENGTH = 256
MAX_LEGAL_BASIS_LENGTH = 200
MAX_ALSO_REPORTED_TO = 10


class ReportStatus(StrEnum):
    RECEIVED = "received"
    STORED = "stored"
    AWAITING_PROVIDER = "awaiting_provider"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    FORWARDED = "forwarded"
    UNFOUNDED = "unfounded"


# What the provider is shown of each status: a forwarding that waits for a second reviewer is
# still "stored" to the provider (it is not forwarded until confirmed).
_PROVIDER_STATUS = {ReportStatus.AWAITING_CONFIRMATION: ReportStatus.STORED}
PROVIDER_STATUSES = tuple(s for s in ReportStatus if s not in _PROVIDER_STATUS)


def provider_status(status: ReportStatus) -> ReportStatus:
    return _PROVIDER_STATUS.get(status, status)


class Step(StrEnum):
    """What happened in one history entry (the status it left the report in is beside it)."""

    FILED = "filed"
    STORED = "stored"
    INFORMATION_REQUESTED = "information_requested"
    INFORMATION_PROVIDED = "information_provided"
    DECIDED_UNFOUNDED = "decided_unfounded"
    FORWARD_PROPOSED = "forward_proposed"  # four eyes: waits for a second reviewer
    FORWARDED = "forwarded"
    DELIVERY_FAILED = "delivery_failed"  # one attempt to hand it to a recipient failed
    DELIVERED = "delivered"
    DELIVERY_ABANDONED = "delivery_abandoned"  # every retry failed: dead-lettered


# Steps about law-enforcement deliveries: the provider is not shown them.
DELIVERY_STEPS = frozenset({Step.DELIVERY_FAILED, Step.DELIVERED, Step.DELIVERY_ABANDONED})


class ContentType(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a value")
    return values


ReportId = Annotated[str, StringConstraints(pattern=REPORT_ID_PATTERN)]
MatchId = Annotated[str, StringConstraints(pattern=MATCH_ID_PATTERN)]
ContentRef = Annotated[FreeText, Field(max_length=MAX_CONTENT_REF_LENGTH)]
LegalBasis = Annotated[FreeText, Field(max_length=MAX_LEGAL_BASIS_LENGTH)]
# Another body the content was reported to ("NCMEC", "national police"): a short name, no free text.
ReportedTo = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._()-]*$")
]
MatchIds = Annotated[
    tuple[MatchId, ...],
    Field(min_length=1, max_length=MAX_MATCH_IDS, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_unique),
]
ReportedToList = Annotated[
    tuple[ReportedTo, ...],
    Field(max_length=MAX_ALSO_REPORTED_TO, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_unique),
]


# The one model of a report's details: the API body, the queue message (reports.messages), the
# table item (adapters/dynamodb_reports.py) and the provider's view (reports.schemas) all nest
# or extend it, so a new field is added here and nowhere else. (Its docstring is the OpenAPI
# description of the request body.)
class ReportDetails(BaseModel):
    """A report about content that matched: what you state about it."""

    model_config = ConfigDict(
        frozen=True,
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
    detected_at: EventTime = Field(
        description="When you detected it (RFC 3339 with a time zone; not before 2000, not in "
        "the future)"
    )
    urgent: Flag = Field(default=False, description="Imminent risk to a child: reviewed first")
    suspected_member_state: CountryCode | None = Field(
        default=None, description="ISO 3166-1 alpha-2 code of the state concerned, if known"
    )
    legal_basis: LegalBasis = Field(description="The legal basis you report under (<= 200 chars)")
    removed: Flag = Field(default=False, description="You have removed or disabled the content")
    also_reported_to: ReportedToList = Field(
        default=(), description="Other bodies you reported it to (short names, up to 10)"
    )


class StatusChange(BaseModel):
    """One step of a report's life: the status it left, when, and who (a client id or a
    function). Delivery steps also name the recipient, the attempt and what went wrong."""

    model_config = ConfigDict(frozen=True)

    status: ReportStatus
    at: AwareDatetime
    by: str
    step: Step | None = None  # None in entries written before steps were recorded
    recipient: str | None = None
    attempt: int | None = None
    detail: str | None = None

    @property
    def what(self) -> Step:
        if self.step is not None:
            return self.step
        return Step.FILED if self.status is ReportStatus.RECEIVED else Step(self.status.value)


class Filing(BaseModel):
    """A report as filed: an id, who filed it and when, and what they stated. Goes on the queue."""

    model_config = ConfigDict(frozen=True)

    report_id: ReportId
    provider: str = Field(description="the provider's organisation id (org_...)")
    client_id: str
    filed_at: AwareDatetime
    details: ReportDetails


class Report(BaseModel):
    """A stored report: its filing, every status it has been in (oldest first), and what its
    review left on it (:mod:`hashmatch.reports.review_records`)."""

    model_config = ConfigDict(frozen=True)

    filing: Filing
    history: tuple[StatusChange, ...] = Field(min_length=1)
    # Set when a decision makes the report erasable (retention, issue 6); None while pending.
    erase_after: AwareDatetime | None = None
    # The databases of the match events it cites (intake records them: queue filter, four eyes).
    databases: tuple[str, ...] = ()
    claim: Claim | None = None
    decision: ReviewDecision | None = None
    information_requests: tuple[InformationRequest, ...] = ()
    # When the texts of the information requests are erased (set by the decision).
    information_erase_after: AwareDatetime | None = None
    outbound: Outbound | None = None

    @property
    def report_id(self) -> str:
        return self.filing.report_id

    @property
    def provider(self) -> str:
        return self.filing.provider

    @property
    def status(self) -> ReportStatus:
        return self.history[-1].status

    @property
    def urgent(self) -> bool:
        return self.filing.details.urgent

    @property
    def open_information_request(self) -> InformationRequest | None:
        return next((r for r in self.information_requests if r.is_open), None)

    def live_claim(self, now: datetime) -> Claim | None:
        return self.claim if self.claim is not None and self.claim.is_live(now) else None


class ReportReceipt(BaseModel):
    """What the provider gets back for a filing (and, on a retry with its key, gets again)."""

    model_config = ConfigDict(frozen=True)

    report_id: ReportId
    status: ReportStatus
    filed_at: AwareDatetime


class ReportPage(BaseModel):
    """One page of a provider's reports, newest first; ``cursor`` fetches the next page."""

    model_config = ConfigDict(frozen=True)

    reports: tuple[Report, ...]
    cursor: str | None = None


def new_report_id() -> str:
    return REPORT_ID_PREFIX + secrets.token_hex(12)


def received(filing: Filing) -> StatusChange:
    return StatusChange(
        status=ReportStatus.RECEIVED, at=filing.filed_at, by=filing.client_id, step=Step.FILED
    )


def reporting_organisation(principal: Principal) -> str:
    """The organisation a provider client reports for: the one place reports meet clients
    (a report, its match events and its idempotency key belong to this organisation)."""
    return principal.organisation_id


def is_own_report(principal: Principal, report: Report) -> bool:
    return report.provider == reporting_organisation(principal)


def is_report_id(value: str) -> bool:
    return _REPORT_ID.fullmatch(value) is not None

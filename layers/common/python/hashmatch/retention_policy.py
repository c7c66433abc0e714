"""The retention policy: every period of the design, in one place, from one setting.

The periods come from the template's Parameters, handed to the functions as one JSON
environment variable (``RETENTION_DAYS``: ``{"match_events": 90, ...}``, days; see
:class:`~hashmatch.settings.RetentionSettings`). The same Parameters set the DynamoDB TTL
backstops, the S3 lifecycle rule, SQS message retention and CloudWatch log retention in
template.yaml, so no period is written twice (tests/template/test_retention_template.py).

A plain value on the ground floor: the data classes that use a period (reports, match events,
indicator provenance, statistics) and the erasure that enforces them all read it from here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from hashmatch.errors import InvalidInput


def _whole_days(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("a retention period is a whole number of days, at least 1")
    return timedelta(days=value)


Days = Annotated[timedelta, BeforeValidator(_whole_days)]


class RetentionPolicy(BaseModel):
    """Each period, keyed by the name RETENTION_DAYS uses (every key required, no other)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match_events: Days  # MatchEventRetentionDays: uncited match events
    unfounded_reports: Days  # UnfoundedReportRetentionDays: after the decision
    forwarded_reports: Days  # ForwardedReportRetentionDays: after forwarding
    revoked_provenance: Days  # RevokedProvenanceRetentionDays: after revocation
    audit_entries: Days  # AuditRetentionDays
    statistics: Days  # StatisticsRetentionDays: counters per day
    legal_hold_max: Days  # LegalHoldMaxDays: the longest legal hold
    claims: Days  # ClaimRetentionDays: a lapsed review claim, after it lapsed
    information_requests: Days  # InformationRequestRetentionDays: their texts, after the decision
    outbound_messages: Days  # OutboundMessageRetentionDays: the forwarded copy, after forwarding
    probing_sketches: Days  # ProbingSketchRetentionDays: a window's sketch, after the window

    def provenance_erase_after(self, revoked_at: datetime) -> datetime:
        return revoked_at + self.revoked_provenance

    def check_hold_end(self, until: datetime, now: datetime) -> None:
        """A legal hold must end in the future and within the longest hold allowed."""
        latest = now + self.legal_hold_max
        if not now < until <= latest:
            raise InvalidInput(
                f"a legal hold must end after now and within {self.legal_hold_max.days} days",
                errors=[
                    {
                        "loc": ["body", "until"],
                        "msg": f"between now and {due_day(latest)}",
                    }
                ],
            )


def due_day(moment: datetime) -> str:
    """The due-day key (UTC date, YYYY-MM-DD) under which an item waits in a due-date index."""
    return moment.astimezone(UTC).date().isoformat()


def day_of(text: str) -> date:
    return date.fromisoformat(text)


def start_of(day: str) -> datetime:
    """Midnight UTC at the start of a due day."""
    return datetime.combine(day_of(day), datetime.min.time(), tzinfo=UTC)

"""The retention policy: every data class of the design with its period, in one place.

The periods come from the template's Parameters, handed to the functions as one environment
variable (``RETENTION_DAYS``, see :class:`~hashmatch.settings.RetentionSettings`); the same
Parameters set the DynamoDB TTL backstops, the S3 lifecycle rule, SQS message retention and
CloudWatch log retention in template.yaml, so no period is written twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from hashmatch.errors import InvalidInput


class DataClass(StrEnum):
    """The data classes erase_expired enforces (queues, logs and snapshot versions are enforced
    by the services themselves, from the same Parameters)."""

    MATCH_EVENTS = "match_events"
    REPORTS = "reports"
    INDICATOR_PROVENANCE = "indicator_provenance"
    AUDIT_ENTRIES = "audit_entries"
    STATISTICS = "statistics"


class Decision(StrEnum):
    FORWARDED = "forwarded"
    UNFOUNDED = "unfounded"


# The keys of RETENTION_DAYS, each naming one template Parameter.
POLICY_KEYS = (
    "match_events",  # MatchEventRetentionDays
    "unfounded_reports",  # UnfoundedReportRetentionDays
    "forwarded_reports",  # ForwardedReportRetentionDays
    "revoked_provenance",  # RevokedProvenanceRetentionDays
    "audit_entries",  # AuditRetentionDays
    "statistics",  # StatisticsRetentionDays
    "legal_hold_max",  # LegalHoldMaxDays
)


class RetentionPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    match_events: timedelta
    unfounded_reports: timedelta
    forwarded_reports: timedelta
    revoked_provenance: timedelta
    audit_entries: timedelta
    statistics: timedelta
    legal_hold_max: timedelta

    @classmethod
    def from_days(cls, text: str) -> RetentionPolicy:
        """Parse ``match_events=90,unfounded_reports=30,...`` (every key required)."""
        pairs = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
        values = {name.strip(): value for name, value in pairs.items()}
        missing = [key for key in POLICY_KEYS if key not in values]
        if missing:
            raise ValueError(f"RETENTION_DAYS lacks {missing}")
        return cls(**{key: timedelta(days=int(values[key])) for key in POLICY_KEYS})

    def report_erase_after(self, decision: Decision, decided_at: datetime) -> datetime:
        """Unfounded: erased N days after the decision; forwarded: N days after forwarding."""
        period = (
            self.unfounded_reports if decision is Decision.UNFOUNDED else self.forwarded_reports
        )
        return decided_at + period

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

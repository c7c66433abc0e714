"""Audit entries, their canonical form and digests, and the checkpoint erasure leaves behind.

An entry's digest is the SHA-256 of its canonical JSON (sorted keys, no spaces, UTF-8, times as
fixed-width UTC text), and each entry carries the digest of the entry before it, so editing,
deleting or reordering any entry breaks a link that `verify` names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# The "previous digest" of the very first entry.
GENESIS_DIGEST = "0" * 64


class AuditAction(StrEnum):
    INDICATORS_ADDED = "indicators.added"
    INDICATOR_PROVENANCE_ADDED = "indicators.provenance_added"
    INDICATOR_READ = "indicator.read"
    INDICATOR_SUSPENDED = "indicator.suspended"
    INDICATOR_REINSTATED = "indicator.reinstated"
    INDICATOR_REVOKED = "indicator.revoked"
    INDICATOR_QUARANTINED = "indicator.quarantined"
    NEGATIVE_INDICATORS_ADDED = "negative_indicators.added"
    CLIENT_PROBING_DETECTED = "client.probing_detected"
    CLIENT_SUSPENDED = "client.suspended"
    CLIENT_PROBING_HOLD_LIFTED = "client.probing_hold_lifted"
    ORGANISATION_CREATED = "organisation.created"
    CLIENT_CREATED = "client.created"
    CLIENT_REVOKED = "client.revoked"
    REPORT_FILED = "report.filed"
    REPORT_STORED = "report.stored"
    REPORT_READ = "report.read"
    REPORT_CLAIMED = "report.claimed"
    REPORT_CLAIM_RELEASED = "report.claim_released"
    REPORT_INFORMATION_REQUESTED = "report.information_requested"
    REPORT_INFORMATION_PROVIDED = "report.information_provided"
    REPORT_FORWARD_PROPOSED = "report.forward_proposed"
    REPORT_FORWARDED = "report.forwarded"
    REPORT_UNFOUNDED = "report.unfounded"
    REPORT_DELIVERED = "report.delivered"
    REPORT_DELIVERY_ABANDONED = "report.delivery_abandoned"
    INDICATORS_FLAGGED = "indicators.flagged_for_review"
    LEGAL_HOLD_SET = "legal_hold.set"
    LEGAL_HOLD_RELEASED = "legal_hold.released"
    ERASURE_RECEIPT = "erasure.receipt"
    TRANSPARENCY_PUBLISHED = "transparency.published"


def fixed_time(moment: datetime) -> str:
    """Fixed-width UTC with microseconds: one text per instant, whatever the input's zone."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class AuditEntry(BaseModel):
    """One link of the chain. ``details``: ids, counts and periods only, never personal data."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=1)
    at: AwareDatetime
    actor: str = Field(description="client id, or the function that acted")
    role: str
    action: str
    targets: tuple[str, ...] = ()
    details: dict[str, Any] = Field(default_factory=dict)
    prev_digest: str = Field(pattern=r"^[0-9a-f]{64}$")

    def canonical(self) -> bytes:
        return canonical_json(
            {
                "seq": self.seq,
                "at": fixed_time(self.at),
                "actor": self.actor,
                "role": self.role,
                "action": self.action,
                "targets": list(self.targets),
                "details": self.details,
                "prev_digest": self.prev_digest,
            }
        )

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


class Checkpoint(BaseModel):
    """Where the chain starts after erasure: the last erased entry's number and digest, sealed.

    ``pending_from`` is the first entry the erasure that wrote this checkpoint still has to delete
    (the checkpoint is written before the deletes, so an interrupted erasure is finished later).
    """

    model_config = ConfigDict(frozen=True)

    through_seq: int = Field(ge=1)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    erased_at: AwareDatetime
    seal: str
    pending_from: int | None = None

    def sealed_payload(self) -> bytes:
        return checkpoint_payload(self.through_seq, self.digest, self.erased_at)


def checkpoint_payload(through_seq: int, digest: str, erased_at: datetime) -> bytes:
    return canonical_json(
        {
            "purpose": "hashmatch audit checkpoint",
            "through_seq": through_seq,
            "digest": digest,
            "erased_at": fixed_time(erased_at),
        }
    )


class AnchorKind(StrEnum):
    HEAD = "head"  # the chain's newest entry, every few minutes (anchor_audit)
    CHECKPOINT = "checkpoint"  # the last entry an erasure removes, before it removes anything


class Anchor(BaseModel):
    """An entry's number and digest, written outside the audit table where nobody can change or
    remove it (an S3 bucket with Object Lock in compliance mode). ``name`` and ``written_at``
    say where and when, for the verification to name it."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=1)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str = ""
    written_at: AwareDatetime | None = None

    def described(self) -> str:
        when = f", written {fixed_time(self.written_at)}" if self.written_at else ""
        return f"anchor {self.name or self.seq}{when}"


class AuditPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: tuple[AuditEntry, ...]
    next: int | None = Field(default=None, description="the `from` of the next page, if any")


class Verification(BaseModel):
    """The outcome of recomputing the chain. ``broken_at`` names the first entry that fails."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    entries_checked: int
    first_seq: int | None = None
    head_seq: int | None = None
    head_digest: str | None = None
    checkpoint_seq: int | None = None
    broken_at: int | None = None
    problem: str | None = None
    anchors_checked: int = 0  # anchors compared with the chain (or its checkpoint)
    latest_anchor_seq: int | None = None

"""GET /v1/audit's response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from hashmatch.audit.model import AuditEntry, AuditPage


class AuditEntryView(BaseModel):
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    targets: list[str]
    details: dict[str, Any]
    prev_digest: str = Field(description="SHA-256 of the previous entry's canonical JSON")
    digest: str = Field(description="SHA-256 of this entry's canonical JSON (docs/audit.md)")

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryView:
        return cls(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            role=entry.role,
            action=entry.action,
            targets=list(entry.targets),
            details=entry.details,
            prev_digest=entry.prev_digest,
            digest=entry.digest,
        )


class AuditPageView(BaseModel):
    entries: list[AuditEntryView]
    next: int | None = Field(
        default=None, description="Pass as `from` to read the next page; absent at the end"
    )

    @classmethod
    def of(cls, page: AuditPage) -> AuditPageView:
        return cls(entries=[AuditEntryView.of(e) for e in page.entries], next=page.next)

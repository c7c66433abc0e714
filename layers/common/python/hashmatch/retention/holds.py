"""Legal holds: an authority asks that something not be erased yet, for a bounded time.

A hold names its target (a report, a match event, or an indicator's provenance), the requesting
authority and its reference, and when it ends (at most LegalHoldMaxDays ahead). Erasure skips a
held item; when the hold is released or runs out, the item is due again and the next erasure run
takes it (holds are indexed by the day they end, so that run finds them without a scan).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Annotated, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hashmatch.access.model import Principal
from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import Conflict, NotFound
from hashmatch.ids import INDICATOR_ID_PATTERN, MATCH_ID_PATTERN, REPORT_ID_PATTERN
from hashmatch.input_types import FreeText, Timestamp
from hashmatch.retention.ports import HoldTarget
from hashmatch.retention.registry import ErasureRegistry
from hashmatch.retention_policy import RetentionPolicy

HOLD_ID_PATTERN = r"^lh_[0-9a-f]{24}$"
TARGET_ID_PATTERN = "^({})$".format(
    "|".join(p.strip("^$") for p in (REPORT_ID_PATTERN, MATCH_ID_PATTERN, INDICATOR_ID_PATTERN))
)
_HOLD_ID = re.compile(HOLD_ID_PATTERN)


Authority = Annotated[FreeText, Field(max_length=200)]
Reference = Annotated[FreeText, Field(max_length=200)]


class LegalHoldRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    target_class: HoldTarget
    target_id: str = Field(
        pattern=TARGET_ID_PATTERN,
        description="A report (rp_...), match event (mt_...) or indicator (ind_...) id",
    )
    authority: Authority = Field(description="The authority or court that asked for the hold")
    reference: Reference = Field(description="The authority's reference of its request")
    until: Timestamp = Field(description="When the hold ends (at most LegalHoldMaxDays)")


class LegalHold(BaseModel):
    model_config = ConfigDict(frozen=True)

    hold_id: str = Field(pattern=HOLD_ID_PATTERN)
    target_class: HoldTarget
    target_id: str
    authority: str
    reference: str
    until: AwareDatetime
    set_at: AwareDatetime
    set_by: str
    released_at: AwareDatetime | None = None
    released_by: str | None = None

    @property
    def ends_at(self) -> datetime:
        return self.released_at if self.released_at is not None else self.until

    def is_effective(self, now: datetime) -> bool:
        return now < self.ends_at


class LegalHoldStore(Protocol):
    def put_new(self, hold: LegalHold) -> None: ...

    def get(self, hold_id: str) -> LegalHold | None: ...

    def for_target(self, target_class: HoldTarget, target_id: str) -> list[LegalHold]: ...

    def list_current(self) -> list[LegalHold]:
        """Holds not yet forgotten (released holds stay until erasure has acted on them)."""

    def ending_on(self, day: str) -> list[LegalHold]:
        """Holds whose end (release, or ``until``) falls on ``day`` (YYYY-MM-DD)."""

    def release(self, hold_id: str, *, at: datetime, by: str) -> LegalHold:
        """Mark released (Conflict if it already was); its end day becomes the release day."""

    def forget(self, hold_id: str) -> None:
        """Drop an ended hold once erasure has re-examined its target."""


class LegalHoldService:
    def __init__(
        self,
        store: LegalHoldStore,
        clock: Clock,
        audit: AuditLog,
        policy: RetentionPolicy,
        registry: ErasureRegistry,
    ) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit
        self._policy = policy
        self._registry = registry

    def place(self, principal: Principal, request: LegalHoldRequest) -> LegalHold:
        now = self._clock.now()
        target = self._registry.for_target(request.target_class)
        if (
            target is None
            or not target.is_item_id(request.target_id)
            or not target.exists(request.target_id)
        ):
            raise NotFound(
                f"no {request.target_class.value} {request.target_id} to hold "
                "(it never existed, or it was erased)",
                errors=[{"loc": ["body", "target_id"], "msg": "no such item"}],
            )
        self._policy.check_hold_end(request.until, now)
        hold = LegalHold(
            hold_id="lh_" + secrets.token_hex(12),
            target_class=request.target_class,
            target_id=request.target_id,
            authority=request.authority,
            reference=request.reference,
            until=request.until,
            set_at=now,
            set_by=principal.client_id,
        )
        self._store.put_new(hold)
        self._audit.record(
            AuditAction.LEGAL_HOLD_SET,
            actor=principal.client_id,
            role=principal.role.value,
            targets=(hold.hold_id, hold.target_id),
            details={
                "target_class": hold.target_class.value,
                "authority": hold.authority,
                "reference": hold.reference,
                "until": hold.until.isoformat(),
            },
        )
        return hold

    def release(self, principal: Principal, hold_id: str) -> LegalHold:
        hold = self._store.get(hold_id) if _HOLD_ID.fullmatch(hold_id) else None
        if hold is None:
            raise NotFound(f"no legal hold {hold_id}")
        if hold.released_at is not None:
            raise Conflict(f"legal hold {hold_id} was released already")
        released = self._store.release(hold_id, at=self._clock.now(), by=principal.client_id)
        self._audit.record(
            AuditAction.LEGAL_HOLD_RELEASED,
            actor=principal.client_id,
            role=principal.role.value,
            targets=(hold.hold_id, hold.target_id),
            details={"target_class": hold.target_class.value},
        )
        return released

    def list_current(self) -> list[LegalHold]:
        return sorted(self._store.list_current(), key=lambda h: (h.set_at, h.hold_id))

    def is_held(self, target_class: HoldTarget, target_id: str, now: datetime) -> bool:
        return any(h.is_effective(now) for h in self._store.for_target(target_class, target_id))

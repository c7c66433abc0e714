"""The legal-hold routes' response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from hashmatch.retention.holds import LegalHold


class LegalHoldView(BaseModel):
    hold_id: str
    target_class: str
    target_id: str
    authority: str
    reference: str
    until: datetime
    set_at: datetime
    set_by: str
    released_at: datetime | None = None
    released_by: str | None = None

    @classmethod
    def of(cls, hold: LegalHold) -> LegalHoldView:
        return cls.model_validate(hold.model_dump())


class LegalHoldList(BaseModel):
    holds: list[LegalHoldView]

"""A match event: which provider matched which indicator, how closely, against which index.

No content reference and no user data: the provider's own ``ref`` is echoed in the answer to
POST /v1/match but never stored here (a report may cite it later, by the provider's choice).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from hashmatch.ids import MATCH_ID_PATTERN, MATCH_ID_PREFIX


class MatchEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    match_id: str = Field(pattern=MATCH_ID_PATTERN)
    provider: str = Field(description="the provider's organisation id (org_...)")
    client_id: str
    indicator_id: str
    database: str
    media_type: str
    hash_type: str
    distance: int = Field(ge=0)
    threshold: int = Field(ge=0)
    index_version: int = Field(ge=0)
    matched_at: datetime
    expires_at: datetime = Field(description="erased after this unless a report cites it")
    report_id: str | None = Field(default=None, description="the report citing it, if any")
    via: str = Field(
        default="value", description='"value", or "alternate" (a rotation/flip or trimmed copy)'
    )


def new_match_id() -> str:
    return MATCH_ID_PREFIX + secrets.token_hex(12)

"""Indicator entities and the validation of what curators submit.

An indicator's id is derived from (hash type, normalised value, database), so the same hash in the
same database always has the same id: lookup by exact value is a key read, and two concurrent adds
of one hash meet on one conditional write instead of creating two indicators.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from hashmatch.errors import HashmatchError
from hashmatch.hashtypes import get_hash_type

ID_PREFIX = "ind_"
# 22 hex digits (88 bits) keep ids at the snapshot's default width of 26 ASCII characters.
ID_HEX_DIGITS = 22
ID_WIDTH = len(ID_PREFIX) + ID_HEX_DIGITS
ID_PATTERN = rf"^{ID_PREFIX}[0-9a-f]{{{ID_HEX_DIGITS}}}$"

# ISO 3166-1 alpha-2 codes of the EU Member States. Greece is GR in ISO 3166 (the EU's own
# protocol order writes EL): both are accepted and stored as GR.
EU_MEMBER_STATES: frozenset[str] = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
_MEMBER_STATE_ALIASES = {"EL": "GR"}


class Database(StrEnum):
    KNOWN = "known"
    NEW = "new"
    SOLICITATION = "solicitation"


class MediaType(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class IndicatorStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


def indicator_id(hash_type: str, hash_value: str, database: str) -> str:
    """The id of a hash (canonical type name, normalised hex) in a database."""
    digest = hashlib.sha256(f"{hash_type}:{hash_value}:{database}".encode()).hexdigest()
    return ID_PREFIX + digest[:ID_HEX_DIGITS]


def timestamp(moment: datetime) -> str:
    """Fixed-width UTC ISO 8601 with microseconds, so text order is time order (feed keys)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _member_state(value: str) -> str:
    code = value.strip().upper()
    code = _MEMBER_STATE_ALIASES.get(code, code)
    if code not in EU_MEMBER_STATES:
        raise ValueError(f"{value!r} is not the ISO 3166-1 alpha-2 code of an EU Member State")
    return code


MemberState = Annotated[str, AfterValidator(_member_state)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class Provenance(BaseModel):
    """How one assessment produced this indicator (Art. 44(4)): kept as long as the indicator."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    authority: ShortText = Field(description="The submitting authority or court")
    member_state: MemberState = Field(description="ISO 3166-1 alpha-2 code, EU Member States only")
    assessment_reference: ShortText = Field(description="The authority's reference of the decision")
    assessed_at: AwareDatetime = Field(description="When the material was assessed")
    submitted_by: str = Field(min_length=1, max_length=100, description="Curator client id")

    @property
    def key(self) -> str:
        """Identifies the assessment: the same assessment submitted again is not appended twice."""
        text = f"{self.member_state}|{self.authority}|{self.assessment_reference}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]


class Indicator(BaseModel):
    """One indicator. ``changed_at`` is when it last changed in a way the index must see."""

    model_config = ConfigDict(frozen=True)

    id: str
    hash_type: str
    hash_value: str
    database: Database
    media_type: MediaType
    status: IndicatorStatus = IndicatorStatus.ACTIVE
    status_reason: str | None = None
    status_changed_at: datetime | None = None
    status_changed_by: str | None = None
    provenance: tuple[Provenance, ...]
    created_at: datetime
    updated_at: datetime
    changed_at: datetime
    # Set at revocation (retention): the provenance is erased then; the record stays as the
    # tombstone that keeps the hash revoked.
    provenance_erase_after: datetime | None = None
    provenance_erased_at: datetime | None = None
    # Review feedback: how many reports were decided manifestly unfounded because this
    # indicator is wrong or did not match, and since when it waits for a curator to re-verify.
    disputes: int = 0
    needs_review_since: datetime | None = None

    @property
    def provenance_keys(self) -> frozenset[str]:
        return frozenset(p.key for p in self.provenance)


class IndicatorPage(BaseModel):
    """One page of indicators; ``cursor`` fetches the next."""

    model_config = ConfigDict(frozen=True)

    indicators: tuple[Indicator, ...]
    cursor: str | None = None


class ProvenanceInput(BaseModel):
    """Provenance as a curator submits it (``submitted_by`` comes from the authenticated caller)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    authority: ShortText
    member_state: MemberState
    assessment_reference: ShortText
    assessed_at: AwareDatetime


class Submission(BaseModel):
    """One indicator as submitted: validated field by field so each fault names its field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hash_type: str
    hash: str = Field(description="Hex (PDQ also base64); normalised to lower-case hex")
    database: Database
    media_type: MediaType
    quality: int | None = Field(default=None, ge=0, le=100, description="PDQ quality, if known")
    provenance: ProvenanceInput

    @field_validator("hash_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        try:
            return get_hash_type(value).name
        except HashmatchError as error:
            raise ValueError(error.detail) from error

    @field_validator("hash")
    @classmethod
    def _parsed_hash(cls, value: str, info: ValidationInfo) -> str:
        hash_type = info.data.get("hash_type")
        if hash_type is None:
            return value  # the type is already reported as the fault
        try:
            return get_hash_type(hash_type).parse(value)
        except HashmatchError as error:
            raise ValueError(error.detail) from error

    @field_validator("quality")
    @classmethod
    def _usable_quality(cls, value: int | None, info: ValidationInfo) -> int | None:
        # Low-quality PDQ hashes (flat or tiny images) collide with unrelated images.
        hash_type = info.data.get("hash_type")
        problem = get_hash_type(hash_type).quality_problem(value) if hash_type else None
        if problem is not None:
            raise ValueError(problem)
        return value

    @property
    def indicator_id(self) -> str:
        return indicator_id(self.hash_type, self.hash, self.database.value)

    def provenance_by(self, submitted_by: str) -> Provenance:
        return Provenance(**self.provenance.model_dump(), submitted_by=submitted_by)


def validation_faults(error: ValidationError, *prefix: str | int) -> list[dict[str, Any]]:
    """Pydantic errors as problem items: ``loc`` is ``prefix`` then the field path."""
    return [
        {"loc": [*prefix, *item["loc"]], "msg": str(item["msg"]).removeprefix("Value error, ")}
        for item in error.errors()
    ]

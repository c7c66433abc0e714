"""Indicator entities and the validation of what curators submit.

An indicator's id is derived from (hash type, normalised value, database), so the same hash in the
same database always has the same id: lookup by exact value is a key read, and two concurrent adds
of one hash meet on one conditional write instead of creating two indicators.
"""

from __future__ import annotations

import hashlib
import re
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

from hashmatch.countries import MemberState
from hashmatch.errors import HashmatchError
from hashmatch.hashtypes import HASH_TYPES, MAX_INDICATOR_HASHES, HashType, get_hash_type
from hashmatch.ids import INDICATOR_ID_HEX_DIGITS, INDICATOR_ID_PATTERN, INDICATOR_ID_PREFIX
from hashmatch.input_types import EventTime, FreeText, Quality

ID_PREFIX = INDICATOR_ID_PREFIX
ID_HEX_DIGITS = INDICATOR_ID_HEX_DIGITS
ID_WIDTH = len(ID_PREFIX) + ID_HEX_DIGITS
ID_PATTERN = INDICATOR_ID_PATTERN


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


ShortText = Annotated[FreeText, Field(max_length=200)]
Reason = Annotated[FreeText, Field(max_length=500)]


class Provenance(BaseModel):
    """How one assessment produced this indicator (Art. 44(4)): kept as long as the indicator."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    authority: ShortText = Field(description="The submitting authority or court")
    member_state: MemberState = Field(description="ISO 3166-1 alpha-2 code, EU Member States only")
    assessment_reference: ShortText = Field(description="The authority's reference of the decision")
    assessed_at: AwareDatetime = Field(description="When the material was assessed")
    submitted_by: str = Field(min_length=1, max_length=100, description="Curator client id")
    quality_override: str | None = Field(
        default=None, description="Why a hash below the quality gate was accepted, if it was"
    )

    @property
    def key(self) -> str:
        """Identifies the assessment: the same assessment submitted again is not appended twice."""
        text = f"{self.member_state}|{self.authority}|{self.assessment_reference}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]


class IndicatorVariant(BaseModel):
    """One more hash of the indicator's assessed image (a crop, a small rotation, the trimmed
    image), with its companion (the same image's hash of the type's companion type)."""

    model_config = ConfigDict(frozen=True)

    hash_value: str
    companion: str
    quality: int | None = None


class Indicator(BaseModel):
    """One indicator. ``changed_at`` is when it last changed in a way the index must see.

    ``companion``: the assessed image's hash of the type's companion type (PDQ: dHash), which
    lets the agreement rule decide its matches; ``variants``: more hashes of the same image (at
    most MAX_INDICATOR_HASHES - 1), each matched like the hash itself. Both are fixed at
    creation, like the hash."""

    model_config = ConfigDict(frozen=True)

    id: str
    hash_type: str
    hash_value: str
    companion: str | None = None
    variants: tuple[IndicatorVariant, ...] = ()
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
    # A negative indicator: a hash that must never produce a match (a benign image that
    # false-matches; grid or lattice images). A query near it is no match in any database.
    negative: bool = False
    # Flood quarantine (indicators.quarantine): when the system suspended it, pending a curator.
    quarantined_at: datetime | None = None

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

    model_config = ConfigDict(extra="forbid")

    authority: ShortText = Field(description="The submitting authority or court")
    member_state: MemberState = Field(description="ISO 3166-1 alpha-2 code, EU Member States only")
    assessment_reference: ShortText = Field(description="The authority's reference of the decision")
    assessed_at: EventTime = Field(
        description="When the material was assessed (not before 2000, not in the future)"
    )


def _registered_type(value: str) -> str:
    if value not in HASH_TYPES:
        raise ValueError(f"unknown hash type {value!r}; known types: {', '.join(HASH_TYPES)}")
    return value


def _hash_of_some_type(value: str) -> str:
    if not any(re.fullmatch(t.value_pattern, value) for t in HASH_TYPES.values()):
        raise ValueError("not a hash of any type: hex digits (PDQ also base64)")
    return value


def _types_enum(schema: dict[str, Any]) -> None:
    schema["enum"] = list(HASH_TYPES)


def _hashes_pattern(schema: dict[str, Any]) -> None:
    schema["pattern"] = "^({})$".format("|".join(t.value_pattern for t in HASH_TYPES.values()))


# The registry at the time the schema is made (or a value is checked), not at import: a type
# registered later (tests/integration/test_hash_type_registry.py) is documented and accepted.
HashTypeName = Annotated[
    str, AfterValidator(_registered_type), Field(json_schema_extra=_types_enum)
]
HashText = Annotated[
    str, AfterValidator(_hash_of_some_type), Field(json_schema_extra=_hashes_pattern)
]


def _companion_types() -> list[HashType]:
    return [c for t in HASH_TYPES.values() if (c := HASH_TYPES.companion_of(t)) is not None]


def _companion_of_some_type(value: str) -> str:
    if not any(re.fullmatch(t.value_pattern, value) for t in _companion_types()):
        raise ValueError("not a hash of any companion type (PDQ's companion: dHash, hex)")
    return value


def _companions_pattern(schema: dict[str, Any]) -> None:
    schema["pattern"] = "^({})$".format("|".join(t.value_pattern for t in _companion_types()))


CompanionText = Annotated[
    str, AfterValidator(_companion_of_some_type), Field(json_schema_extra=_companions_pattern)
]
MAX_VARIANTS = MAX_INDICATOR_HASHES - 1


class VariantShape(BaseModel):
    """One variant as it must be written (checked against its indicator's type per item)."""

    model_config = ConfigDict(extra="forbid")

    hash: HashText = Field(description="Of the indicator's type: a hash of a variant of the image")
    companion: CompanionText = Field(
        description="The same variant's hash of the type's companion type (PDQ: dHash)"
    )
    quality: Quality = Field(
        description="The variant's quality (PDQ: 0-100); below the type's gate (50) the item is "
        "refused (no override: leave the variant out)"
    )


class SubmissionShape(BaseModel):
    """One indicator item as it must be written: what the API's schema says of it (a batch
    holding an item that breaks it is refused as a whole, 422). Whether it is acceptable —
    a hash of its type, above the quality gate, assessed in the past, in the curator's scope —
    is decided per item (:class:`Submission`)."""

    model_config = ConfigDict(extra="forbid")

    hash_type: HashTypeName
    # Before the fields it relaxes, so their validators see it.
    quality_override: Reason | None = Field(
        default=None,
        description=(
            "Accept a PDQ hash that the quality gate would refuse (quality below 50, or the "
            "all-zero hash of a blank image): why this one is trustworthy anyway. Recorded "
            "with the provenance."
        ),
    )
    hash: HashText = Field(
        description="Hex digits of the type's length, either case (PDQ also base64); stored as "
        "lower-case hex"
    )
    database: Database
    media_type: MediaType
    quality: Quality | None = Field(
        default=None,
        description="PDQ quality (0-100); below 50 the item is refused without quality_override",
    )
    provenance: ProvenanceInput
    companion: CompanionText | None = Field(
        default=None,
        description=(
            "The same image's hash of the type's companion type (PDQ: dHash, 16 hex digits): "
            "with it, matches of queries that carry their companion are decided by the "
            "agreement rule (docs/matching.md); required with variants"
        ),
    )
    variants: list[VariantShape] = Field(
        default_factory=list,
        max_length=MAX_VARIANTS,
        description=(
            f"At most {MAX_VARIANTS} more hashes of the same assessed image (hashmatch "
            "indicators hash --variants: crops, small rotations, the trimmed image), so that "
            f"the indicator holds at most {MAX_INDICATOR_HASHES}; each with its companion and "
            "quality. Only for types with a companion (PDQ). A match on any is one match of "
            "the indicator; queries without companions match the hash itself only. Repeats "
            "(of the hash or of another variant) are dropped. Fixed at creation: sending the "
            "indicator again adds provenance only."
        ),
    )


class Submission(SubmissionShape):
    """One indicator as submitted and acceptable: validated field by field so each fault names
    its field."""

    @field_validator("hash")
    @classmethod
    def _parsed_hash(cls, value: str, info: ValidationInfo) -> str:
        hash_type = info.data.get("hash_type")
        if hash_type is None:
            return value  # the type is already reported as the fault
        try:
            parsed = get_hash_type(hash_type).parse(value)
        except HashmatchError as error:
            raise ValueError(error.detail) from error
        gated = get_hash_type(hash_type).min_quality is not None
        if gated and int(parsed, 16) == 0 and info.data.get("quality_override") is None:
            # The hash of a blank or flat image: it matches every other such image.
            raise ValueError(
                f"an all-zero {hash_type} hash (a blank image) matches every blank image; "
                "give quality_override to accept it"
            )
        return parsed

    @field_validator("quality")
    @classmethod
    def _usable_quality(cls, value: int | None, info: ValidationInfo) -> int | None:
        # Low-quality PDQ hashes (flat or tiny images) collide with unrelated images.
        hash_type = info.data.get("hash_type")
        problem = get_hash_type(hash_type).quality_problem(value) if hash_type else None
        if problem is not None and info.data.get("quality_override") is None:
            raise ValueError(f"{problem}; give quality_override to accept it")
        return value

    @field_validator("companion")
    @classmethod
    def _parsed_companion(cls, value: str | None, info: ValidationInfo) -> str | None:
        hash_type = info.data.get("hash_type")
        if value is None or hash_type is None:
            return value
        companion = HASH_TYPES.companion_of(get_hash_type(hash_type))
        if companion is None:
            raise ValueError(f"{hash_type} has no companion type: leave companion out")
        try:
            return companion.parse(value)
        except HashmatchError as error:
            raise ValueError(error.detail) from error

    @field_validator("variants")
    @classmethod
    def _usable_variants(
        cls, value: list[VariantShape], info: ValidationInfo
    ) -> list[VariantShape]:
        hash_type_name = info.data.get("hash_type")
        if not value or hash_type_name is None:
            return value
        hash_type = get_hash_type(hash_type_name)
        companion = HASH_TYPES.companion_of(hash_type)
        if companion is None:
            raise ValueError(f"{hash_type.name} has no companion type, so no variants")
        if "companion" not in info.data or info.data.get("companion") is None:
            raise ValueError("variants need the indicator's own companion too")
        kept: list[VariantShape] = []
        seen = {info.data.get("hash")}
        for number, variant in enumerate(value):
            try:
                parsed = hash_type.parse(variant.hash)
                parsed_companion = companion.parse(variant.companion)
            except HashmatchError as error:
                raise ValueError(f"variant {number}: {error.detail}") from error
            problem = hash_type.quality_problem(variant.quality)
            if problem is not None:
                raise ValueError(f"variant {number}: {problem}; leave it out")
            if hash_type.min_quality is not None and int(parsed, 16) == 0:
                raise ValueError(f"variant {number}: an all-zero {hash_type.name} hash")
            if parsed in seen:
                continue
            seen.add(parsed)
            kept.append(
                VariantShape(hash=parsed, companion=parsed_companion, quality=variant.quality)
            )
        return kept

    @property
    def indicator_id(self) -> str:
        return indicator_id(self.hash_type, self.hash, self.database.value)

    @property
    def indicator_variants(self) -> tuple[IndicatorVariant, ...]:
        return tuple(
            IndicatorVariant(hash_value=v.hash, companion=v.companion, quality=v.quality)
            for v in self.variants
        )

    def provenance_by(self, submitted_by: str) -> Provenance:
        return Provenance(
            **self.provenance.model_dump(),
            submitted_by=submitted_by,
            quality_override=self.quality_override,
        )


def validation_faults(error: ValidationError, *prefix: str | int) -> list[dict[str, Any]]:
    """Pydantic errors as problem items: ``loc`` is ``prefix`` then the field path."""
    return [
        {"loc": [*prefix, *item["loc"]], "msg": str(item["msg"]).removeprefix("Value error, ")}
        for item in error.errors()
    ]

"""Negative indicators: hashes a curator declares must never produce a match.

A benign image that false-matches an indicator (a grid, a lattice, a flat gradient) is added as
a negative indicator; a query within the threshold of it is then no match in any database, even
when it is also near an indicator, and the suppression is counted (``negative_suppressions``).
Negative indicators live in the indicators table (``negative`` set; no provenance: they are not
assessed material, the curator's reason is their record) and in the index snapshot as rows of
the pseudo database ``negative``; revoking one (DELETE /v1/indicators/{id}) ends its effect at
once, as for any indicator (the matcher confirms every candidate against the table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import Conflict, HashmatchError, InvalidInput
from hashmatch.hashtypes import HASH_TYPES, MatchKind, get_hash_type
from hashmatch.index import NEGATIVE_DATABASE
from hashmatch.indicators.model import (
    Database,
    HashText,
    Indicator,
    MediaType,
    Reason,
    indicator_id,
)
from hashmatch.indicators.ports import IndicatorStore
from hashmatch.indicators.service import CURATOR_ROLE, CuratorScope

MAX_NEGATIVES_PER_REQUEST = 100


def _near_duplicate_type(value: str) -> str:
    hash_type = HASH_TYPES.get(value)
    if hash_type is None or hash_type.kind is not MatchKind.HAMMING:
        raise ValueError(
            f"{value!r} is not a near-duplicate hash type (an exact hash matches only the "
            "identical file): " + ", ".join(_hamming_names())
        )
    return value


def _hamming_names() -> list[str]:
    return [name for name, t in HASH_TYPES.items() if t.kind is MatchKind.HAMMING]


def _near_duplicate_types(schema: dict[str, Any]) -> None:
    schema["enum"] = _hamming_names()


class NegativeSubmission(BaseModel):
    """One negative indicator as it must be written (a request holding an item that breaks
    this is refused whole, 422); whether its hash parses for its type and it is in the
    curator's scope is decided per item (an invalid item is reported, the others stored)."""

    model_config = ConfigDict(extra="forbid")

    hash_type: Annotated[
        str, AfterValidator(_near_duplicate_type), Field(json_schema_extra=_near_duplicate_types)
    ] = Field(description="A near-duplicate type (pdq, phash, dhash)")
    hash: HashText = Field(description="Hex digits of the type's length (PDQ also base64)")
    database: Database = Field(
        description="The database whose curators own it (your scope); it suppresses matches in "
        "every database"
    )
    reason: Reason = Field(description="Why no match near this hash is to be trusted")


def negative_id(hash_type: str, hash_value: str) -> str:
    """One negative indicator per hash, whichever database's curator added it."""
    return indicator_id(hash_type, hash_value, NEGATIVE_DATABASE)


@dataclass(frozen=True)
class NegativeResult:
    indicator: Indicator | None  # None: the item was refused (``errors``)
    created: bool = False
    errors: tuple[dict[str, Any], ...] = ()


def _faults(
    item: NegativeSubmission, number: int, scope: CuratorScope | None
) -> list[dict[str, Any]]:
    where = ["items", number]
    hash_type = get_hash_type(item.hash_type)
    try:
        hash_type.parse(item.hash)
    except HashmatchError as error:
        return [{"loc": [*where, "hash"], "msg": error.detail}]
    if scope is not None and not scope.admits(item.database.value, item.hash_type):
        return [
            {
                "loc": where,
                "msg": f"not-allowed: this client may not curate "
                f"{item.hash_type} in {item.database.value}",
            }
        ]
    return []


class NegativeIndicators:
    def __init__(self, store: IndicatorStore, clock: Clock, audit: AuditLog) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit

    def add(
        self,
        items: Sequence[NegativeSubmission],
        *,
        by: str,
        scope: CuratorScope | None = None,
    ) -> list[NegativeResult]:
        """Store each valid item (an existing one is returned as it is); a refused item is
        reported with its faults and changes nothing. Audited as one entry."""
        if not 0 < len(items) <= MAX_NEGATIVES_PER_REQUEST:
            raise InvalidInput(
                f"a request holds 1 to {MAX_NEGATIVES_PER_REQUEST} negative indicators"
            )
        now = self._clock.now()
        results = []
        for number, item in enumerate(items):
            faults = _faults(item, number, scope)
            if faults:
                results.append(NegativeResult(None, errors=tuple(faults)))
                continue
            value = get_hash_type(item.hash_type).parse(item.hash)
            indicator = Indicator(
                id=negative_id(item.hash_type, value),
                hash_type=item.hash_type,
                hash_value=value,
                database=item.database,
                media_type=MediaType.IMAGE,
                status_reason=item.reason,
                status_changed_at=now,
                status_changed_by=by,
                provenance=(),
                created_at=now,
                updated_at=now,
                changed_at=now,
                negative=True,
            )
            try:
                self._store.create(indicator)
            except Conflict:
                existing = self._store.get(indicator.id)
                if existing is None:
                    raise
                results.append(NegativeResult(existing, created=False))
            else:
                results.append(NegativeResult(indicator, created=True))
        created = [r.indicator.id for r in results if r.created and r.indicator is not None]
        if created:
            self._audit.record(
                AuditAction.NEGATIVE_INDICATORS_ADDED,
                actor=by,
                role=CURATOR_ROLE,
                targets=created,
            )
        return results

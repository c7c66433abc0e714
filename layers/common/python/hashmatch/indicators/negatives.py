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

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import Conflict, HashmatchError, InvalidInput
from hashmatch.hashtypes import MatchKind, get_hash_type
from hashmatch.index import NEGATIVE_DATABASE
from hashmatch.indicators.model import (
    Database,
    HashText,
    HashTypeName,
    Indicator,
    MediaType,
    Reason,
    indicator_id,
)
from hashmatch.indicators.ports import IndicatorStore
from hashmatch.indicators.service import CURATOR_ROLE, CuratorScope

MAX_NEGATIVES_PER_REQUEST = 100


class NegativeSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hash_type: HashTypeName = Field(description="A near-duplicate type (pdq, phash, dhash)")
    hash: HashText = Field(description="Hex digits of the type's length (PDQ also base64)")
    database: Database = Field(
        description="The database whose curators own it (your scope); it suppresses matches in "
        "every database"
    )
    reason: Reason = Field(description="Why no match near this hash is to be trusted")

    @field_validator("hash")
    @classmethod
    def _parsed_hash(cls, value: str, info: ValidationInfo) -> str:
        type_name = info.data.get("hash_type")
        if type_name is None:
            return value
        hash_type = get_hash_type(type_name)
        if hash_type.kind is not MatchKind.HAMMING:
            raise ValueError(
                f"{type_name} matches only the identical file: a negative indicator is for "
                "near-duplicate types"
            )
        try:
            return hash_type.parse(value)
        except HashmatchError as error:
            raise ValueError(error.detail) from error

    @property
    def indicator_id(self) -> str:
        return negative_id(self.hash_type, self.hash)


def negative_id(hash_type: str, hash_value: str) -> str:
    """One negative indicator per hash, whichever database's curator added it."""
    return indicator_id(hash_type, hash_value, NEGATIVE_DATABASE)


@dataclass(frozen=True)
class NegativeResult:
    indicator: Indicator
    created: bool


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
        """Store each (an existing one is returned as it is); audited as one entry."""
        if not 0 < len(items) <= MAX_NEGATIVES_PER_REQUEST:
            raise InvalidInput(
                f"a request holds 1 to {MAX_NEGATIVES_PER_REQUEST} negative indicators"
            )
        refused = [
            {
                "loc": ["items", number],
                "msg": f"not-allowed: this client may not curate {item.hash_type} in "
                f"{item.database.value}",
            }
            for number, item in enumerate(items)
            if scope is not None and not scope.admits(item.database.value, item.hash_type)
        ]
        if refused:
            raise InvalidInput("some items are outside your scope; nothing stored", errors=refused)
        now = self._clock.now()
        results = []
        for item in items:
            indicator = Indicator(
                id=item.indicator_id,
                hash_type=item.hash_type,
                hash_value=item.hash,
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
        created = [result.indicator.id for result in results if result.created]
        if created:
            self._audit.record(
                AuditAction.NEGATIVE_INDICATORS_ADDED,
                actor=by,
                role=CURATOR_ROLE,
                targets=created,
            )
        return results

"""The curator API's request and response models, and their mapping from domain results."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hashmatch.api.problems import ProblemItem
from hashmatch.indicators.model import Indicator, IndicatorPage, Reason, SubmissionShape
from hashmatch.indicators.negatives import (
    MAX_NEGATIVES_PER_REQUEST,
    NegativeResult,
    NegativeSubmission,
)
from hashmatch.indicators.service import MAX_BATCH_ITEMS, BatchResult, ItemOutcome, ItemResult


class IndicatorBatchRequest(BaseModel):
    """Indicators to add. A batch with an item that breaks the schema is refused whole (422,
    each fault named); the service then decides item by item whether each is acceptable, so a
    refused item never hides the good ones (207)."""

    model_config = ConfigDict(extra="forbid")

    items: list[SubmissionShape] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)

    def submitted(self) -> list[dict[str, Any]]:
        """The items as submitted (what the service validates one by one)."""
        return [item.model_dump(exclude_none=True) for item in self.items]


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class SuspendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class ReinstateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


class ProvenanceView(BaseModel):
    authority: str
    member_state: str
    assessment_reference: str
    assessed_at: datetime
    submitted_by: str
    quality_override: str | None = None


class VariantView(BaseModel):
    hash: str
    companion: str
    quality: int | None = None


class _IndicatorIdentity(BaseModel):
    """What every view of an indicator starts with."""

    id: str
    hash_type: str
    hash: str
    database: str
    media_type: str
    status: Literal["active", "suspended", "revoked"]


class IndicatorView(_IndicatorIdentity):
    companion: str | None = Field(
        default=None, description="The image's hash of the type's companion type (PDQ: dHash)"
    )
    variants: list[VariantView] = Field(
        default_factory=list, description="More hashes of the same image (a match on any is one)"
    )
    status_reason: str | None = None
    status_changed_at: datetime | None = None
    negative: bool = Field(
        default=False, description="A hash that must never produce a match (no provenance)"
    )
    quarantined_at: datetime | None = Field(
        default=None,
        description="When flood quarantine suspended it, pending your re-verification",
    )
    provenance: list[ProvenanceView]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, indicator: Indicator) -> IndicatorView:
        return cls(
            **_identity(indicator),
            companion=indicator.companion,
            variants=[
                VariantView(hash=v.hash_value, companion=v.companion, quality=v.quality)
                for v in indicator.variants
            ],
            status_reason=indicator.status_reason,
            status_changed_at=indicator.status_changed_at,
            negative=indicator.negative,
            quarantined_at=indicator.quarantined_at,
            provenance=[
                ProvenanceView.model_validate(p.model_dump()) for p in indicator.provenance
            ],
            created_at=indicator.created_at,
            updated_at=indicator.updated_at,
        )


def _identity(indicator: Indicator) -> dict[str, Any]:
    return {
        "id": indicator.id,
        "hash_type": indicator.hash_type,
        "hash": indicator.hash_value,
        "database": indicator.database.value,
        "media_type": indicator.media_type.value,
        "status": indicator.status.value,
    }


class IndicatorToReview(_IndicatorIdentity):
    disputes: int = Field(description="Reports decided unfounded: indicator wrong or no match")
    needs_review_since: datetime
    quarantined_at: datetime | None = Field(
        default=None,
        description="Set when its matches flooded and it was suspended automatically: reinstate "
        "or revoke it",
    )

    @classmethod
    def of(cls, indicator: Indicator) -> IndicatorToReview:
        return cls(
            **_identity(indicator),
            disputes=indicator.disputes,
            needs_review_since=indicator.needs_review_since or indicator.updated_at,
            quarantined_at=indicator.quarantined_at,
        )


class IndicatorReviewList(BaseModel):
    """Longest waiting first. Pass `next` back as `?next=` for the next page."""

    indicators: list[IndicatorToReview]
    next: str | None = Field(default=None, description="Cursor of the next page; absent at the end")

    @classmethod
    def of(cls, page: IndicatorPage) -> IndicatorReviewList:
        return cls(indicators=[IndicatorToReview.of(i) for i in page.indicators], next=page.cursor)


class ItemResultView(BaseModel):
    index: int | None = Field(default=None, description="Position in the batch (POST /indicators)")
    line: int | None = Field(default=None, description="Line of the import body (import)")
    result: Literal["created", "existing", "invalid"]
    id: str | None = None
    status: Literal["active", "suspended", "revoked"] | None = None
    provenance_added: bool = False
    errors: list[ProblemItem] = Field(default_factory=list)


class BatchResponse(BaseModel):
    created: int
    existing: int
    invalid: int
    items: list[ItemResultView]


def batch_status(result: BatchResult) -> HTTPStatus:
    """200: every item stored or found; 207: some or all refused (each reported with its
    faults; nothing changed for them)."""
    return HTTPStatus.MULTI_STATUS if result.count(ItemOutcome.INVALID) else HTTPStatus.OK


def batch_response(result: BatchResult, *, position: Literal["index", "line"]) -> BatchResponse:
    return BatchResponse(
        created=result.count(ItemOutcome.CREATED),
        existing=result.count(ItemOutcome.EXISTING),
        invalid=result.count(ItemOutcome.INVALID),
        items=[_item_view(item, position) for item in result.items],
    )


def _item_view(item: ItemResult, position: Literal["index", "line"]) -> ItemResultView:
    indicator = item.indicator
    return ItemResultView(
        **{position: item.position},
        result=item.outcome.value,
        id=indicator.id if indicator else None,
        status=indicator.status.value if indicator else None,
        provenance_added=item.provenance_added,
        errors=[ProblemItem.model_validate(fault) for fault in item.errors],
    )


class NegativeIndicatorRequest(BaseModel):
    """Hashes that must never produce a match: a query within the threshold of one is no match
    in any database, even when it is near an indicator too."""

    model_config = ConfigDict(extra="forbid")

    items: list[NegativeSubmission] = Field(min_length=1, max_length=MAX_NEGATIVES_PER_REQUEST)


class NegativeItemView(BaseModel):
    index: int
    result: Literal["created", "existing", "invalid"]
    id: str | None = None
    status: Literal["active", "suspended", "revoked"] | None = None
    errors: list[ProblemItem] = Field(default_factory=list)


class NegativeIndicatorResponse(BaseModel):
    created: int
    existing: int
    invalid: int
    items: list[NegativeItemView]

    @classmethod
    def of(cls, results: list[NegativeResult]) -> NegativeIndicatorResponse:
        return cls(
            created=sum(1 for result in results if result.created),
            existing=sum(1 for r in results if r.indicator is not None and not r.created),
            invalid=sum(1 for result in results if result.indicator is None),
            items=[_negative_view(number, result) for number, result in enumerate(results)],
        )

    @property
    def status(self) -> HTTPStatus:
        return HTTPStatus.MULTI_STATUS if self.invalid else HTTPStatus.OK


def _negative_view(number: int, result: NegativeResult) -> NegativeItemView:
    if result.indicator is None:
        return NegativeItemView(
            index=number,
            result="invalid",
            errors=[ProblemItem.model_validate(fault) for fault in result.errors],
        )
    return NegativeItemView(
        index=number,
        result="created" if result.created else "existing",
        id=result.indicator.id,
        status=result.indicator.status.value,
    )

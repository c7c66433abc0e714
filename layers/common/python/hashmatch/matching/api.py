"""POST /v1/match: the request and response models, and their mapping to the domain.

The response models document the answer (OpenAPI); the handler writes the same document as
plain data (``match_response_body``), which tests hold to the models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)
from pydantic_core import to_json

from hashmatch.hashtypes import HASH_TYPES
from hashmatch.ids import MATCH_ID_PATTERN
from hashmatch.input_types import FreeText, Quality
from hashmatch.matching.disclosure import Band, Disclosure, DistanceBands
from hashmatch.matching.limits import (
    MAX_ALTERNATES_PER_ITEM,
    MAX_HASHES_PER_REQUEST,
    MAX_ITEMS_PER_REQUEST,
)
from hashmatch.matching.service import BatchAnswer, MatchItem

HashText = Annotated[str, Field(max_length=128)]
OpaqueRef = Annotated[FreeText, Field(max_length=256)]


def _type_names() -> str:
    *others, last = HASH_TYPES
    return f"{', '.join(others)} or {last}"


class MatchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    type: str = Field(max_length=16, description=_type_names())
    value: str = Field(max_length=128, description="The hash: hex (PDQ also as base64)")
    ref: OpaqueRef | None = Field(
        default=None, description="Your own opaque content id: echoed back, never stored"
    )
    quality: Quality | None = Field(
        default=None,
        description="PDQ quality (0-100), required for PDQ; below 50 the item is rejected",
    )
    alternates: list[HashText] = Field(
        default_factory=list,
        max_length=MAX_ALTERNATES_PER_ITEM,
        description=(
            "Other hashes of the same image, of the same type (hashmatch hash --rotations: the 7"
            " other rotations/flips; --trim-borders: the image with its uniform border trimmed)."
            " The item matches if the value or any alternate is within the threshold; each"
            " alternate costs one more lookup and counts towards the request's"
            f" {MAX_HASHES_PER_REQUEST:,} hashes. A malformed alternate rejects the item."
        ),
    )
    companion: HashText | None = Field(
        default=None,
        description=(
            "The same image's hash of the type's companion type (PDQ: dHash, 16 hex digits)."
            " With it the agreement rule decides: a stored hash that carries its companion too"
            " matches when the two distances together are within the agreement threshold"
            " (`agreement_thresholds`), and the indicator's variants can match; an indicator's"
            " own hash still matches within `thresholds` too. Without it only the indicators'"
            " own hashes match, within `thresholds` (as before companions existed). Does not"
            " count as a hash of the request."
        ),
    )
    alternate_companions: list[HashText] = Field(
        default_factory=list,
        max_length=MAX_ALTERNATES_PER_ITEM,
        description="The companion of each alternate, in the same order: one per alternate, or"
        " none; needs `companion` (otherwise the item is rejected, `invalid-input`)",
    )


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    items: list[MatchQuery] = Field(
        min_length=1,
        max_length=MAX_ITEMS_PER_REQUEST,
        description=f"At most {MAX_HASHES_PER_REQUEST:,} hashes in all (values and alternates)",
    )

    @field_validator("items")
    @classmethod
    def _hashes_within_limit(cls, items: list[MatchQuery]) -> list[MatchQuery]:
        total = sum(1 + len(item.alternates) for item in items)
        if total > MAX_HASHES_PER_REQUEST:
            raise ValueError(
                f"{total:,} hashes (values and alternates) in one request, at most "
                f"{MAX_HASHES_PER_REQUEST:,}: send fewer items per request"
            )
        return items

    def __repr__(self) -> str:
        # Short, and without the hashes: Powertools formats the route's arguments into a debug
        # line whether or not it is logged (1,000 items: ~2.5 ms per request).
        return f"MatchRequest({len(self.items)} items)"

    def to_domain(self) -> list[MatchItem]:
        return [
            MatchItem(
                hash_type=item.type,
                value=item.value,
                ref=item.ref,
                quality=item.quality,
                alternates=tuple(item.alternates),
                companion=item.companion,
                alternate_companions=tuple(item.alternate_companions),
            )
            for item in self.items
        ]


class MatchView(BaseModel):
    match_id: str = Field(description="Cite it in POST /v1/reports", pattern=MATCH_ID_PATTERN)
    indicator_ref: str = Field(
        description=(
            "The matched indicator as your organisation sees it: the same in every answer to "
            "you (not to others), so two matches of one indicator can be told apart from two "
            "indicators (hashmatch scan files one report per content and indicators)"
        ),
        pattern=r"^ir_[0-9a-f]{24}$",
    )
    database: str
    media_type: str
    band: Band = Field(
        description=(
            "How close the nearest of the value and alternates is: exact (distance 0), close (up"
            " to CloseBandPercent of the threshold) or near (up to the threshold). Providers get"
            " the band, not the distance: exact distances would let a key holder recover the"
            " indicator bit by bit (docs/threat-model.md)"
        )
    )
    distance: int | None = Field(
        default=None,
        description=(
            "The smallest distance over the value and alternates; absent unless the deployment"
            " discloses exact distances to providers (ProviderDistanceDisclosure=exact)"
        ),
    )
    threshold: int
    via: Literal["value", "alternate"] = Field(
        default="value",
        description="What matched at that distance: the value, or one of the item's alternates",
    )
    companion_distance: int | None = Field(
        default=None,
        description="When the agreement rule decided the match: the companions' distance"
        " (distance + companion_distance <= agreement_threshold); absent unless the deployment"
        " discloses exact distances to providers, as distance",
    )
    agreement_threshold: int | None = Field(
        default=None,
        description="Set when the agreement rule decided the match: the threshold it applied",
    )

    @model_serializer(mode="wrap")
    def _without_undisclosed_distance(
        self, handler: SerializerFunctionWrapHandler
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in ("distance", "companion_distance"):
            if data.get(name) is None:
                data.pop(name, None)  # not disclosed: absent, not null
        return data


class RejectionView(BaseModel):
    code: str
    detail: str


class ItemView(BaseModel):
    type: str
    ref: str | None = None
    status: Literal["matched", "no_match", "rejected"]
    matches: list[MatchView] = Field(default_factory=list)
    thresholds: dict[str, int] = Field(
        default_factory=dict,
        description="The threshold applied in each database you may see (each match also says "
        "its own)",
    )
    agreement_thresholds: dict[str, int] = Field(
        default_factory=dict,
        description="The agreement threshold applied in each database you may see, when the"
        " item carried its companion",
    )
    truncated: bool = Field(default=False, description="More matches than returned")
    quality_gate: int | None = Field(default=None, description="Minimum PDQ quality applied")
    rejection: RejectionView | None = None


class MatchResponse(BaseModel):
    index_version: int
    items: list[ItemView]


def match_response_body(
    result: BatchAnswer,
    *,
    bands: DistanceBands | None = None,
    disclosure: Disclosure = Disclosure.BANDS,
) -> str:
    """The answer as JSON text: a ``MatchResponse`` document built as plain data and serialised
    in one call. Building, validating and serialising 1,000 ``ItemView`` models cost ~10 ms a
    batch (docs/api.md, "Performance"); tests/unit/test_match_api.py checks that the text is a
    valid ``MatchResponse``, field for field, for every kind of item.

    Each match carries its band; its distance only if ``disclosure`` is exact."""
    bands = bands or DistanceBands()
    exact = disclosure is Disclosure.EXACT
    items = []
    for item in result.items:
        rejection = item.rejection
        items.append(
            {
                "type": item.hash_type,
                "ref": item.ref,
                "status": item.outcome.value,
                "matches": [
                    {
                        "match_id": match.match_id,
                        "indicator_ref": match.indicator_ref,
                        "database": match.database,
                        "media_type": match.media_type,
                        "band": bands.band(match.distance, match.threshold).value,
                        **({"distance": match.distance} if exact else {}),
                        "threshold": match.threshold,
                        "via": "alternate" if match.via == "alternate" else "value",
                        # The companions' distance is a distance too: disclosed only as one.
                        **({"companion_distance": match.companion_distance} if exact else {}),
                        "agreement_threshold": match.agreement_threshold,
                    }
                    for match in item.matches
                ],
                "thresholds": item.thresholds,
                "agreement_thresholds": item.agreements,
                "truncated": item.truncated,
                "quality_gate": item.quality_gate,
                "rejection": None
                if rejection is None
                else {"code": rejection.code, "detail": rejection.detail},
            }
        )
    document = {"index_version": result.index_version, "items": items}
    return to_json(document).decode()

"""POST /v1/match: the request and response models, and their mapping to the domain."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hashmatch.matches.service import MAX_ITEMS_PER_REQUEST, MatchItem, MatchResult


class MatchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(max_length=16, description="pdq, phash, dhash, md5, sha1 or sha256")
    value: str = Field(max_length=128, description="The hash: hex (PDQ also as base64)")
    ref: str | None = Field(
        default=None,
        max_length=256,
        description="Your own opaque content id: echoed back, never stored",
    )
    quality: int | None = Field(
        default=None, ge=0, le=100, description="PDQ quality; below 50 the item is rejected"
    )


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[MatchQuery] = Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)

    def to_domain(self) -> list[MatchItem]:
        return [
            MatchItem(hash_type=item.type, value=item.value, ref=item.ref, quality=item.quality)
            for item in self.items
        ]


class MatchView(BaseModel):
    match_id: str = Field(description="Cite it in POST /v1/reports")
    database: str
    media_type: str
    distance: int
    threshold: int


class RejectionView(BaseModel):
    code: str
    detail: str


class ItemView(BaseModel):
    type: str
    ref: str | None = None
    status: Literal["matched", "no_match", "rejected"]
    matches: list[MatchView] = Field(default_factory=list)
    threshold: int | None = Field(default=None, description="The threshold applied")
    truncated: bool = Field(default=False, description="More matches than returned")
    quality_gate: int | None = Field(default=None, description="Minimum PDQ quality applied")
    rejection: RejectionView | None = None


class MatchResponse(BaseModel):
    index_version: int
    items: list[ItemView]


def match_response(result: MatchResult) -> MatchResponse:
    return MatchResponse(
        index_version=result.index_version,
        items=[
            ItemView(
                type=item.hash_type,
                ref=item.ref,
                status=item.outcome.value,
                matches=[
                    MatchView(
                        match_id=match.match_id,
                        database=match.database,
                        media_type=match.media_type,
                        distance=match.distance,
                        threshold=match.threshold,
                    )
                    for match in item.matches
                ],
                threshold=item.threshold,
                truncated=item.truncated,
                quality_gate=item.quality_gate,
                rejection=RejectionView(code=item.rejection.code, detail=item.rejection.detail)
                if item.rejection
                else None,
            )
            for item in result.items
        ],
    )

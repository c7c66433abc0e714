"""The transparency report's published form: a versioned JSON schema (docs/transparency.md).

A count is an integer, or the text "<5" when small-cell suppression hides it. Every figure
carries the articles of COM(2022) 209 that ask for it, the previous year's published value and
the change. The schema's name carries its major version: a reader refuses a major it does not
know; minor additions keep the name.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA: Literal["hashmatch-transparency/1"] = "hashmatch-transparency/1"
SCHEMA_MINOR = 0

# A published count: exact, or "<N" when suppressed.
Shown = int | str


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    previous: Shown | None = Field(
        default=None, description="The previous year's published count (null: not published)"
    )
    change: int | None = Field(default=None, description="This year's count less the previous")
    change_percent: float | None = Field(default=None, description="change / previous, in %")


class Row(Change):
    key: dict[str, str] = Field(description="The breakdown's values, by name")
    count: Shown


class Figure(Change):
    id: str
    title: str
    articles: list[str] = Field(description="What COM(2022) 209 asks for it (or 'context')")
    count: Shown = Field(description="The year's total")
    breakdown_by: list[str] = Field(default_factory=list)
    rows: list[Row] = Field(default_factory=list)
    note: str | None = None


class Histogram(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    articles: list[str]
    count: Shown
    rows: list[Row] = Field(description='One row per bucket: key {"within_hours": "24"}')
    median_within_hours: str | None = Field(
        default=None, description="The bucket holding the median: its upper bound, hours"
    )
    p90_within_hours: str | None = None
    note: str | None = None


class TransformationRecall(BaseModel):
    transformation: str
    recall: float


class HashTypeErrorRates(BaseModel):
    hash_type: str
    threshold: int = Field(description="The deployed match threshold (Hamming distance)")
    databases: list[str] = Field(description="The databases matched at this threshold")
    recall: float = Field(description="Modified copies found, over every transformation")
    recall_per_transformation: list[TransformationRecall]
    false_match_rate: float = Field(
        description="Matched pairs among distinct unrelated originals / such pairs"
    )
    false_matches: int
    pairs: int


class ErrorRates(BaseModel):
    dataset: str
    evaluated_on: date
    command: str
    fingerprint: str = Field(description="Digest of every hash the evaluation computed")
    hash_types: list[HashTypeErrorRates]
    note: str


class AuditHead(BaseModel):
    seq: int
    digest: str = Field(description="SHA-256 of the head entry's canonical JSON (docs/audit.md)")


class Suppression(BaseModel):
    threshold: int
    rule: str


class PreviousYear(BaseModel):
    year: int
    published: bool
    digest: str | None = Field(default=None, description="SHA-256 of its published JSON")


class TransparencyReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["hashmatch-transparency/1"] = Field(default=SCHEMA, alias="schema")
    schema_minor: int = SCHEMA_MINOR
    status: Literal["draft", "published"]
    year: int
    period_from: date
    period_to: date
    generated_at: datetime
    service: str = "hashmatch"
    suppression: Suppression
    previous_year: PreviousYear
    audit_head: AuditHead | None = Field(
        default=None, description="The audit chain's head when the report was made"
    )
    figures: list[Figure]
    time_to_decision: Histogram
    error_rates: ErrorRates
    notes: list[str] = Field(default_factory=list)

    def figure(self, figure_id: str) -> Figure:
        return next(f for f in self.figures if f.id == figure_id)

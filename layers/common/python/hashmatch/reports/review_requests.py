"""What reviewers and providers send in the review workflow (request bodies, validated once)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from hashmatch.countries import MemberState
from hashmatch.reports.model import ReportId
from hashmatch.reports.review_records import (
    INFORMATION_REQUEST_ID_PATTERN,
    Text,
    UnfoundedReason,
)


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnfoundedDecision(_Request):
    """The report is manifestly unfounded: it goes back to the provider with the reasons."""

    # The rules below, said in the schema too: `duplicate_of` names a report exactly when a
    # reason is `duplicate`.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {
                "properties": {"reasons": {"contains": {"const": UnfoundedReason.DUPLICATE}}},
                "required": ["reasons"],
            },
            "then": {
                "required": ["duplicate_of"],
                "properties": {"duplicate_of": {"type": "string"}},
            },
            "else": {"properties": {"duplicate_of": {"type": "null"}}},
        }
    )

    outcome: Literal["manifestly_unfounded"]
    reasons: tuple[UnfoundedReason, ...] = Field(
        min_length=1,
        max_length=len(UnfoundedReason),
        description="One or more reason codes, each once",
        json_schema_extra={"uniqueItems": True},
    )
    duplicate_of: ReportId | None = Field(
        default=None, description="With reason `duplicate`: the report this one repeats"
    )
    internal_note: Text | None = Field(default=None, description="For the Centre only")

    @model_validator(mode="after")
    def _duplicate_names_its_report(self) -> UnfoundedDecision:
        if len(set(self.reasons)) != len(self.reasons):
            raise ValueError("reasons must not repeat a code")
        if (UnfoundedReason.DUPLICATE in self.reasons) != (self.duplicate_of is not None):
            raise ValueError("duplicate_of is given exactly when a reason is `duplicate`")
        return self


class ForwardDecision(_Request):
    """The report goes to Europol and (unless europol_only) the competent Member State."""

    # The one-destination rule below, said in the schema too (so a client generated from the
    # OpenAPI document knows it): a Member State, or europol_only true, never both nor neither.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["member_state"],
                    "properties": {
                        "member_state": {"type": "string"},
                        "europol_only": {"const": False},
                    },
                },
                {
                    "required": ["europol_only"],
                    "properties": {
                        "europol_only": {"const": True},
                        "member_state": {"type": "null"},
                    },
                },
            ]
        }
    )

    outcome: Literal["forward"]
    member_state: MemberState | None = Field(
        default=None, description="The competent Member State (ISO 3166-1 alpha-2, upper case)"
    )
    europol_only: bool = Field(
        default=False, description="Jurisdiction is unclear: forward to Europol only"
    )
    internal_note: Text = Field(description="For the Centre only; never shown to the provider")
    do_not_inform_until: AwareDatetime | None = Field(
        default=None,
        description="Tell the provider not to inform the user before this (at most "
        "DoNotInformMaxDays ahead, 18 months by default)",
    )

    @model_validator(mode="after")
    def _one_destination(self) -> ForwardDecision:
        if (self.member_state is None) == (not self.europol_only):
            raise ValueError("give the competent member_state, or europol_only: true (not both)")
        return self


DecisionRequest = Annotated[UnfoundedDecision | ForwardDecision, Field(discriminator="outcome")]


class InformationRequestBody(_Request):
    """A question for the provider; the report waits (awaiting_provider) for the answer."""

    question: Text


class InformationAnswer(_Request):
    """The provider's answer to the open information request of its report."""

    request_id: str = Field(
        pattern=INFORMATION_REQUEST_ID_PATTERN, description="The open request's id"
    )
    answer: Text

"""One typing policy for the whole API (docs/api.md, "Types"), on every model that meets a client.

Regression tests of issue 11, items 4 (strict types: booleans, timestamps and integral numbers),
5 (unknown fields refused everywhere) and 9 (garbage in free text and implausible times refused).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from hashmatch.indicators.api import (
    IndicatorBatchRequest,
    ReinstateRequest,
    RevokeRequest,
    SuspendRequest,
)
from hashmatch.indicators.model import Submission
from hashmatch.input_types import MULTILINE_TEXT_PATTERN, NOW, MultilineText
from hashmatch.matching.api import MatchRequest
from hashmatch.reports.model import ReportDetails
from hashmatch.retention.holds import LegalHoldRequest

CLOCK = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
REPORT: dict[str, Any] = {
    "match_ids": ["mt_" + "1" * 24],
    "content_ref": "upload-7f3a",
    "content_type": "image",
    "detected_at": "2026-11-29T11:00:00Z",
    "legal_basis": "Regulation (EU) 2024/1307",
}
SUBMISSION: dict[str, Any] = {
    "hash_type": "md5",
    "hash": "0123456789abcdef0123456789abcdef",
    "database": "known",
    "media_type": "image",
    "provenance": {
        "authority": "Bundeskriminalamt",
        "member_state": "DE",
        "assessment_reference": "BKA-2026-17",
        "assessed_at": "2026-03-01T10:00:00Z",
    },
}
HOLD: dict[str, Any] = {
    "target_class": "report",
    "target_id": "rp_" + "1" * 24,
    "authority": "Court of Vienna",
    "reference": "4 St 12/26",
    "until": "2027-01-01T00:00:00Z",
}


def refuses(model: type[BaseModel], data: dict[str, Any], **context: Any) -> list[Any]:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(data, context=context or None)
    return [error["loc"] for error in refused.value.errors()]


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "1", None])
@pytest.mark.parametrize("field", ["urgent", "removed"])
def test_a_boolean_is_a_json_boolean_only(field, value):
    assert refuses(ReportDetails, {**REPORT, field: value}) == [(field,)]


@pytest.mark.parametrize("value", [1700000000, 1700000000.5, "1700000000"])
def test_a_date_time_is_an_rfc_3339_string_not_an_epoch_number(value):
    assert (refuses(ReportDetails, {**REPORT, "detected_at": value}))[0][0] == "detected_at"


@pytest.mark.parametrize("value", [16, 16.0])
def test_an_integral_number_is_an_integer_wherever_an_integer_is_asked(value):
    query = MatchRequest.model_validate(
        {"items": [{"type": "pdq", "value": "0" * 64, "quality": value}]}
    )
    submission = Submission.model_validate({**SUBMISSION, "quality": value})

    assert query.items[0].quality == submission.quality == 16


@pytest.mark.parametrize("value", [16.5, "16", True])
def test_a_fraction_a_string_or_a_boolean_is_not_an_integer(value):
    assert refuses(MatchRequest, {"items": [{"type": "pdq", "value": "0", "quality": value}]})
    assert refuses(Submission, {**SUBMISSION, "quality": value}) == [("quality",)]


def test_a_lower_case_member_state_is_refused_not_upper_cased():
    lower = {**SUBMISSION, "provenance": {**SUBMISSION["provenance"], "member_state": "de"}}

    assert refuses(Submission, lower) == [("provenance", "member_state")]
    assert refuses(ReportDetails, {**REPORT, "suspected_member_state": "de"}) == [
        ("suspected_member_state",)
    ]


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (MatchRequest, {"items": [{"type": "md5", "value": "0" * 32}]}),
        (ReportDetails, REPORT),
        (IndicatorBatchRequest, {"items": [SUBMISSION]}),
        (Submission, SUBMISSION),
        (RevokeRequest, {"reason": "court order"}),
        (SuspendRequest, {"reason": "under review"}),
        (ReinstateRequest, {}),
        (LegalHoldRequest, HOLD),
    ],
)
def test_every_request_model_refuses_an_unknown_field(model, data):
    assert refuses(model, {**data, "dry_run": True}) == [("dry_run",)]


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\t\n", "upload\x00", "\x1b[31mred\x1b[0m", "line\nbreak", "a\u202eb", "\x85"],
)
@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (ReportDetails, REPORT, ("content_ref",)),
        (ReportDetails, REPORT, ("legal_basis",)),
        (LegalHoldRequest, HOLD, ("authority",)),
        (LegalHoldRequest, HOLD, ("reference",)),
        (RevokeRequest, {"reason": "x"}, ("reason",)),
    ],
)
def test_free_text_with_control_characters_escapes_or_only_blanks_is_refused(
    model, data, field, text
):
    assert refuses(model, {**data, field[0]: text}) == [field]


@pytest.mark.parametrize("field", ["authority", "assessment_reference"])
def test_provenance_text_is_free_text_too(field):
    bad = {**SUBMISSION, "provenance": {**SUBMISSION["provenance"], field: "BKA\x00"}}

    assert refuses(Submission, bad) == [("provenance", field)]


@pytest.mark.parametrize("moment", ["1999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_a_time_something_happened_before_2000_is_refused(moment):
    old = {**SUBMISSION, "provenance": {**SUBMISSION["provenance"], "assessed_at": moment}}

    assert refuses(ReportDetails, {**REPORT, "detected_at": moment}) == [("detected_at",)]
    assert refuses(Submission, old) == [("provenance", "assessed_at")]


def test_an_assessment_in_the_future_is_refused_against_the_callers_clock():
    future = {
        **SUBMISSION,
        "provenance": {**SUBMISSION["provenance"], "assessed_at": "2026-11-29T12:06:00Z"},
    }
    skewed = {
        **SUBMISSION,
        "provenance": {**SUBMISSION["provenance"], "assessed_at": "2026-11-29T12:04:00Z"},
    }

    assert refuses(Submission, future, **{NOW: CLOCK}) == [("provenance", "assessed_at")]
    assert Submission.model_validate(skewed, context={NOW: CLOCK})


def test_the_window_starts_with_the_year_2000_as_written_as_the_schema_says():
    written_in_2000 = {**REPORT, "detected_at": "2000-01-01T00:00:00+10:00"}  # 1999 in UTC

    assert ReportDetails.model_validate(written_in_2000).detected_at.year == 2000


def test_the_schema_names_exactly_the_country_codes_the_service_accepts():
    schema = ReportDetails.model_json_schema()["properties"]["suspected_member_state"]
    (codes,) = [option["enum"] for option in schema["anyOf"] if "enum" in option]

    assert "DE" in codes
    assert "AA" not in codes  # user-assigned, refused
    assert refuses(ReportDetails, {**REPORT, "suspected_member_state": "AA"})


class _Note(BaseModel):
    text: MultilineText


@pytest.mark.parametrize(
    "text", ["", "   ", "\t\n", "note\x00", "\x1b[31mred", "a\u202eb", "\x85", "\x05\u00df"]
)
def test_text_in_lines_refuses_what_free_text_refuses_but_line_breaks(text):
    assert refuses(_Note, {"text": text}) == [("text",)]


def test_text_in_lines_takes_line_breaks_and_tabs_as_sent():
    note = "Seen twice:\n\t1. the upload\n\t2. its copy\n"

    assert _Note.model_validate({"text": note}).text == note


@given(st.text(max_size=40))
def test_the_schema_pattern_of_text_in_lines_says_what_the_validator_does(text):
    try:
        _Note.model_validate({"text": text})
        accepted = True
    except ValidationError:
        accepted = False

    assert accepted == bool(re.fullmatch(MULTILINE_TEXT_PATTERN, text))

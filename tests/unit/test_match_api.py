"""POST /v1/match's wire format: the answer written as plain data is the documented model."""

from __future__ import annotations

import json

import pytest

from hashmatch.matching.api import MatchRequest, MatchResponse, match_response_body
from hashmatch.matching.service import BatchAnswer, ItemAnswer, ItemMatch, Rejection

MATCH = ItemMatch(
    match_id="mt_" + "a" * 24,
    database="known",
    media_type="image",
    distance=7,
    threshold=31,
    via="value",
    indicator_ref="ir_" + "b" * 24,
)
ANSWERS = {
    "matched": ItemAnswer("pdq", "ref-1", [MATCH], {"known": 31}, False, 50),
    "matched-twice-via-an-alternate": ItemAnswer(
        "pdq",
        None,
        [
            MATCH,
            ItemMatch("mt_" + "c" * 24, "new", "video", 12, 20, "alternate", "ir_" + "d" * 24),
        ],
        {"known": 31, "new": 20},
        True,
        50,
    ),
    "no-match": ItemAnswer("md5", "ünïcode ref ✓", [], {"known": 0}, False, None),
    "rejected": ItemAnswer(
        "pdq", "r", rejection=Rejection("quality-too-low", 'pdq quality 10 is below 50: "x"')
    ),
    "unknown-type": ItemAnswer("nope", None, rejection=Rejection("unknown-hash-type", "nope")),
}


@pytest.mark.parametrize("name", ANSWERS)
def test_the_body_is_a_valid_match_response_field_for_field(name):
    answer = BatchAnswer(index_version=42, items=[ANSWERS[name]])

    body = match_response_body(answer)

    # Valid against the documented model, and nothing missing, extra or differently typed:
    # the model's own dump of it is the same document.
    document = json.loads(body)
    assert MatchResponse.model_validate_json(body).model_dump(mode="json") == document
    (item,) = document["items"]
    expected = ANSWERS[name]
    assert item["status"] == expected.outcome.value
    assert item["type"] == expected.hash_type
    assert item["ref"] == expected.ref
    assert [m["match_id"] for m in item["matches"]] == [m.match_id for m in expected.matches]
    assert [m["via"] for m in item["matches"]] == [m.via for m in expected.matches]
    assert item["truncated"] is expected.truncated
    assert document["index_version"] == 42


def test_a_whole_batch_keeps_the_items_order():
    answer = BatchAnswer(index_version=1, items=list(ANSWERS.values()))

    document = json.loads(match_response_body(answer))

    assert [item["status"] for item in document["items"]] == [
        "matched",
        "matched",
        "no_match",
        "rejected",
        "rejected",
    ]


def test_a_match_requests_repr_names_no_hash():
    value = "ab" * 32
    request = MatchRequest.model_validate(
        {"items": [{"type": "pdq", "value": value, "quality": 90}] * 3}
    )

    assert value not in repr(request)
    assert repr(request) == "MatchRequest(3 items)"

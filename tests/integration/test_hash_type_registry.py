"""A hash type added to the registry alone flows through parsing, the index and POST /v1/match."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.build_index import app as build_index
from functions.match_hashes import app as match_hashes
from hashmatch import bootstrap
from hashmatch.hashtypes import HASH_TYPES, HashType
from tests.factories import ToyHash, flip_bits, submission
from tests.integration.conftest import api_event
from tests.integration.indicator_fixtures import CURATOR, call

STORED = "0123456789abcdef"
PROVIDER = {
    "client_id": "cl_" + "t" * 24,
    "role": "provider",
    "organisation_id": "org_" + "t" * 24,
    "owner": "Toy Hosting SA",
    "databases": "known",
    "hash_types": "toy64",
}


@pytest.fixture
def toy_type() -> Iterator[HashType]:
    with HASH_TYPES.registered(ToyHash()) as hash_type:
        yield hash_type


def match(context: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    event = api_event("POST", "/v1/match", principal=PROVIDER, body=json.dumps({"items": items}))
    response = match_hashes.lambda_handler(event, context)
    assert response["statusCode"] == 200, response["body"]
    answer: dict[str, Any] = json.loads(response["body"])
    return answer


@pytest.mark.usefixtures("toy_type")
def test_a_registered_type_is_curated_indexed_and_matched_within_its_default_threshold(
    deployment, lambda_context
):
    # Given an indicator of the toy type, curated and folded into the index
    status, added = call(
        lambda_context,
        "POST",
        "/v1/indicators",
        body={"items": [submission(STORED.upper(), hash_type="toy64")]},
        principal={**CURATOR, "hash_types": "toy64"},
    )
    assert status == 200, added
    build_index.lambda_handler({}, lambda_context)

    # When a provider matches a copy 3 bits away, one 5 bits away and a malformed value
    answer = match(
        lambda_context,
        [
            {"type": "toy64", "value": flip_bits(STORED, 3)},
            {"type": "toy64", "value": flip_bits(STORED, 5)},
            {"type": "toy64", "value": "xyz"},
        ],
    )

    # Then the type's own parsing, width, kind and default threshold applied everywhere
    near, far, malformed = answer["items"]
    assert near["status"] == "matched"
    (found,) = near["matches"]
    assert (found["band"], found["threshold"]) == ("near", 4)  # 3 of 4: past half the threshold
    assert set(near["thresholds"].values()) == {4}
    assert near["quality_gate"] is None
    assert far["status"] == "no_match"
    assert malformed["rejection"]["code"] == "invalid-hash"
    snapshot = bootstrap.matcher()._current()
    assert snapshot.counts()["toy64"] == {"known": 1}

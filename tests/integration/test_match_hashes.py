"""POST /v1/match in-process against moto: matches, events, counters, rejections, 422s."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from functions.build_index import app as build_index
from functions.match_hashes import app as match_hashes
from hashmatch.adapters.aws import s3_client
from tests.factories import flip_bits, pdq_hex, submission
from tests.integration.conftest import REGION, api_event
from tests.integration.indicator_fixtures import call

PROVIDER = {
    "client_id": "cl_" + "p" * 24,
    "role": "provider",
    "organisation_id": "org_" + "p" * 24,
    "owner": "Example Hosting SA",
    "databases": "known",
    "hash_types": "pdq,md5",
}
KNOWN = pdq_hex(7)


def match(context: Any, body: Any, principal: dict[str, str] | None = None) -> tuple[int, Any]:
    event = api_event(
        "POST",
        "/v1/match",
        principal=principal or PROVIDER,
        body=body if isinstance(body, str) else json.dumps(body),
    )
    response = match_hashes.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def indexed(deployment, lambda_context) -> None:
    call(lambda_context, "POST", "/v1/indicators", body={"items": [submission(KNOWN)]})
    build_index.lambda_handler({}, lambda_context)


@pytest.mark.usefixtures("indexed")
def test_a_near_copy_matches_and_its_event_is_stored_without_the_ref(deployment, lambda_context):
    status, body = match(
        lambda_context,
        {
            "items": [
                {"type": "pdq", "value": flip_bits(KNOWN, 3), "ref": "upload-42", "quality": 90}
            ]
        },
    )

    assert status == 200
    (item,) = body["items"]
    assert item["status"] == "matched"
    assert item["ref"] == "upload-42"
    assert item["quality_gate"] == 50
    (found,) = item["matches"]
    # A provider gets the band, never the distance (3 of 31: up to half the threshold).
    assert (found["band"], found["threshold"], found["database"]) == ("close", 31, "known")
    assert "distance" not in found
    stored = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=deployment.physical_id("MatchEventsTable"),
        Key={"match_id": {"S": found["match_id"]}},
    )["Item"]
    assert "upload-42" not in json.dumps(stored)
    assert stored["distance"]["N"] == "3"  # staff see the exact distance in the match event
    assert stored["index_version"]["N"] == str(body["index_version"])


@pytest.mark.usefixtures("indexed")
def test_queries_are_counted_per_provider_type_and_outcome(deployment, lambda_context):
    match(
        lambda_context,
        {
            "items": [
                {"type": "pdq", "value": KNOWN, "quality": 90},
                {"type": "pdq", "value": pdq_hex(8), "quality": 90},
                {"type": "phash", "value": "0" * 16},
            ]
        },
    )

    items = boto3.client("dynamodb", region_name=REGION).scan(
        TableName=deployment.physical_id("StatisticsTable")
    )["Items"]
    counts = {
        item["counter"]["S"]: int(item["count"]["N"])
        for item in items
        if item["counter"]["S"].startswith(("queries#", "matches#"))
    }
    assert counts == {
        "queries#" + PROVIDER["organisation_id"] + "#pdq#matched#-": 1,
        "queries#" + PROVIDER["organisation_id"] + "#pdq#no_match#-": 1,
        "queries#" + PROVIDER["organisation_id"] + "#phash#rejected#hash-type-not-allowed": 1,
        "matches#" + PROVIDER["organisation_id"] + "#known#image#pdq": 1,
    }


@pytest.mark.usefixtures("deployment")
@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": [{"type": "pdq"}]},
        {"items": [{"type": "pdq", "value": "00", "extra": 1}]},
        {"items": [{"type": "pdq", "value": "00"}] * 1001},
        {"nothing": True},
        "not json",
    ],
)
def test_a_malformed_request_is_422_problem_json(lambda_context, body):
    status, problem = match(lambda_context, body)

    assert status == 422
    assert problem["type"] == "urn:hashmatch:problem:invalid-request"
    assert problem["errors"]


@pytest.mark.usefixtures("deployment")
def test_a_curator_may_not_match(lambda_context):
    curator = {**PROVIDER, "role": "curator"}

    status, problem = match(
        lambda_context, {"items": [{"type": "md5", "value": "0" * 32}]}, curator
    )

    assert status == 403
    assert problem["type"] == "urn:hashmatch:problem:forbidden"


@pytest.mark.usefixtures("deployment")
@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"type": "pdq", "value": KNOWN, "alternates": [KNOWN] * 10}], "alternates"),
        ([{"type": "pdq", "value": KNOWN, "alternates": [KNOWN] * 9}] * 401, "items"),
    ],
    ids=["10 alternates in an item", "4,010 hashes in a request"],
)
def test_alternates_over_the_limits_are_422_naming_the_field(lambda_context, items, field):
    status, problem = match(lambda_context, {"items": items})

    assert status == 422
    assert problem["type"] == "urn:hashmatch:problem:invalid-request"
    assert any(field in error["loc"] for error in problem["errors"]), problem["errors"]


@pytest.mark.usefixtures("indexed")
def test_an_alternate_that_matches_says_so(lambda_context):
    far = pdq_hex(8)

    status, body = match(
        lambda_context,
        {
            "items": [
                {"type": "pdq", "value": far, "quality": 90, "alternates": [flip_bits(KNOWN, 2)]}
            ]
        },
    )

    assert status == 200
    (found,) = body["items"][0]["matches"]
    assert (found["band"], found["via"]) == ("close", "alternate")


@pytest.mark.usefixtures("deployment")
@pytest.mark.parametrize(
    ("body", "base64_encoded"),
    [
        (base64.b64encode(b"\xff\xfe{").decode(), True),  # not UTF-8
        ("not base64!", True),
        ('{"items": [', False),
    ],
)
def test_an_undecodable_body_is_422_problem_json(lambda_context, body, base64_encoded):
    event = api_event("POST", "/v1/match", principal=PROVIDER, body=body)
    event["isBase64Encoded"] = base64_encoded

    response = match_hashes.lambda_handler(event, lambda_context)

    assert response["statusCode"] == 422
    assert json.loads(response["body"])["type"] == "urn:hashmatch:problem:invalid-request"


def match_response(context: Any, body: Any) -> dict[str, Any]:
    event = api_event("POST", "/v1/match", principal=PROVIDER, body=json.dumps(body))
    return match_hashes.lambda_handler(event, context)


@pytest.mark.usefixtures("deployment")
def test_before_the_first_build_a_match_is_503_with_retry_after_never_a_no_match(
    lambda_context,
):
    response = match_response(lambda_context, {"items": [{"type": "pdq", "value": KNOWN}]})

    assert response["statusCode"] == 503
    assert response["multiValueHeaders"]["Retry-After"] == ["30"]
    problem = json.loads(response["body"])
    assert problem["type"] == "urn:hashmatch:problem:index-unavailable"


@pytest.mark.usefixtures("indexed")
def test_a_corrupt_snapshot_is_a_503_not_a_422_and_the_next_build_repairs_it(
    deployment, lambda_context
):
    # Given a snapshot whose bytes were damaged in the bucket
    bucket = deployment.physical_id("SnapshotBucket")
    stored = s3_client().get_object(Bucket=bucket, Key="index/current.hmsnap")["Body"].read()
    damaged = stored[:-1] + bytes([stored[-1] ^ 0xFF])
    s3_client().put_object(Bucket=bucket, Key="index/current.hmsnap", Body=damaged)
    query = {"items": [{"type": "pdq", "value": KNOWN, "quality": 100}]}

    # When a provider matches, then build_index runs, then the provider matches again
    refused = match_response(lambda_context, query)
    rebuilt = build_index.lambda_handler({}, lambda_context)
    answered = match_response(lambda_context, query)

    # Then the first answer is a retryable 503, the build replaced the snapshot, and it matches
    assert refused["statusCode"] == 503
    assert refused["multiValueHeaders"]["Retry-After"] == ["30"]
    assert json.loads(refused["body"])["type"] == "urn:hashmatch:problem:index-unavailable"
    assert (rebuilt["written"], rebuilt["replaced_corrupt"], rebuilt["version"]) == (True, True, 2)
    assert answered["statusCode"] == 200
    assert json.loads(answered["body"])["items"][0]["status"] == "matched"


def _dhash(seed: int) -> str:
    return f"{(seed * 0x9E3779B97F4A7C15) % (1 << 64):016x}"


def test_an_indicator_with_variants_is_curated_indexed_and_matched_once_by_the_agreement_rule(
    deployment, lambda_context
):
    # Given an indicator with its dHash companion and 15 variants, curated and indexed
    variants = [
        {"hash": pdq_hex(100 + n), "companion": _dhash(100 + n), "quality": 80} for n in range(15)
    ]
    item = submission(KNOWN, quality=90, companion=_dhash(7), variants=variants)
    status, added = call(lambda_context, "POST", "/v1/indicators", body={"items": [item]})
    assert status == 200, added
    build_index.lambda_handler({}, lambda_context)
    indicator_id = added["items"][0]["id"]
    _, shown = call(lambda_context, "GET", "/v1/indicators/{id}", indicator=indicator_id)
    assert shown["companion"] == _dhash(7)
    assert [v["hash"] for v in shown["variants"]] == [v["hash"] for v in variants]

    # When a provider sends a copy near variant 3 (PDQ 33 away, beyond PDQ's own 31) with its
    # companion (2 bits away: 35 <= 36), and an old client sends the same PDQ alone
    near = flip_bits(pdq_hex(103), 33)
    status, body = match(
        lambda_context,
        {
            "items": [
                {
                    "type": "pdq",
                    "value": near,
                    "quality": 90,
                    "companion": flip_bits(_dhash(103), 2),
                },
                {"type": "pdq", "value": pdq_hex(103), "quality": 90},
            ]
        },
    )

    # Then the first is one match decided by the rule; the second matches nothing (variants
    # answer only queries with companions)
    assert status == 200
    with_companion, alone = body["items"]
    (found,) = with_companion["matches"]
    # A provider is told the band, not the distances (issue 15): neither PDQ's nor the companion's
    assert (found["band"], found["agreement_threshold"]) == ("near", 36)
    assert "distance" not in found
    assert "companion_distance" not in found
    assert with_companion["agreement_thresholds"] == {"known": 36}
    assert alone["status"] == "no_match"


def test_more_variants_than_an_indicator_holds_are_422_and_store_nothing(
    deployment, lambda_context
):
    variants = [{"hash": pdq_hex(n), "companion": _dhash(n), "quality": 80} for n in range(16)]
    item = submission(KNOWN, companion=_dhash(7), variants=variants)

    status, problem = call(lambda_context, "POST", "/v1/indicators", body={"items": [item]})

    assert status == 422
    assert problem["errors"][0]["loc"][:4] == ["body", "items", 0, "variants"]
    build_index.lambda_handler({}, lambda_context)
    status, body = match(
        lambda_context, {"items": [{"type": "pdq", "value": KNOWN, "quality": 90}]}
    )
    assert body["items"][0]["status"] == "no_match"

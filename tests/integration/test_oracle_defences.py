"""POST /v1/match is no oracle: bands, negative indicators, flood quarantine and probing
detection, through the handlers in-process against the template's stores in moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from functions.build_index import app as build_index
from functions.match_hashes import app as match_hashes
from hashmatch import bootstrap
from hashmatch.settings import clear_settings_cache
from tests.factories import pdq_hex, submission
from tests.integration.conftest import REGION, api_event
from tests.integration.indicator_fixtures import call

PROVIDER = {
    "client_id": "cl_" + "p" * 24,
    "role": "provider",
    "organisation_id": "org_" + "p" * 24,
    "owner": "Example Hosting SA",
    "databases": "known",
    "hash_types": "pdq",
}
KNOWN = pdq_hex(7)


def match(context: Any, *values: str) -> tuple[int, Any, dict[str, str]]:
    body = {"items": [{"type": "pdq", "value": value, "quality": 90} for value in values]}
    event = api_event("POST", "/v1/match", principal=PROVIDER, body=json.dumps(body))
    response = match_hashes.lambda_handler(event, context)
    headers = {
        name: values[0] for name, values in (response.get("multiValueHeaders") or {}).items()
    }
    return (
        response["statusCode"],
        json.loads(response["body"]),
        {
            **headers,
            **(response.get("headers") or {}),
        },
    )


def flip(value: str, positions: range | list[int]) -> str:
    number = int(value, 16)
    for position in positions:
        number ^= 1 << position
    return f"{number:064x}"


def statuses(body: Any) -> list[str]:
    return [item["status"] for item in body["items"]]


def audit_actions() -> list[tuple[str, tuple[str, ...]]]:
    return [(entry.action, entry.targets) for entry in bootstrap.audit_log().entries_from(1)]


def reconfigure(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    clear_settings_cache()
    bootstrap.reset()


@pytest.fixture
def indexed(deployment, lambda_context) -> str:
    status, body = call(
        lambda_context, "POST", "/v1/indicators", body={"items": [submission(KNOWN)]}
    )
    assert status == 200
    build_index.lambda_handler({}, lambda_context)
    return str(body["items"][0]["id"])


# --- flood quarantine ---------------------------------------------------------------------------


def test_a_flooding_indicator_is_quarantined_stops_matching_and_matches_again_when_reinstated(
    indexed, lambda_context, monkeypatch
):
    # Given a deployment that quarantines an indicator at 10 matches in a window
    reconfigure(monkeypatch, FLOOD_MINIMUM_MATCHES="10", FLOOD_ABSOLUTE_MATCHES="100")

    # When a provider matches it 10 times in one request (a flood), then once more
    status, body, _ = match(lambda_context, *[KNOWN] * 10)
    assert status == 200
    assert statuses(body) == ["matched"] * 10
    _, after, _ = match(lambda_context, KNOWN)

    # Then it no longer matches, waits on the curators' list as quarantined, and is audited
    assert statuses(after) == ["no_match"]
    status, listed = _needs_review(lambda_context)
    (waiting,) = listed["indicators"]
    assert (waiting["id"], waiting["status"]) == (indexed, "suspended")
    assert waiting["quarantined_at"]
    assert ("indicator.quarantined", (indexed,)) in audit_actions()

    # When the curator reinstates it
    status, reinstated = call(
        lambda_context,
        "POST",
        "/v1/indicators/{id}/reinstate",
        indicator=indexed,
        body={"reason": "re-verified: real material gone viral"},
    )
    assert (status, reinstated["status"]) == (200, "active")
    _, again, _ = match(lambda_context, *[KNOWN] * 10)

    # Then it matches again (the rate that tripped it is now its baseline), off the list, and
    # every step is in the audit log in order
    assert statuses(again) == ["matched"] * 10
    assert _needs_review(lambda_context)[1]["indicators"] == []
    actions = [
        action
        for action, targets in audit_actions()
        if indexed in targets and action != "indicator.read"
    ]
    assert actions[-2:] == ["indicator.quarantined", "indicator.reinstated"]


def _needs_review(context: Any) -> tuple[int, Any]:
    from functions.curate_indicators import app as curate
    from tests.integration.indicator_fixtures import CURATOR

    event = api_event(
        "GET", "/v1/indicators", principal=CURATOR, query={"needs_review": "true"}, body=None
    )
    response = curate.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_a_quarantined_indicator_can_be_revoked_by_the_curator(
    indexed, lambda_context, monkeypatch
):
    reconfigure(monkeypatch, FLOOD_MINIMUM_MATCHES="10", FLOOD_ABSOLUTE_MATCHES="100")
    match(lambda_context, *[KNOWN] * 10)

    status, revoked = call(
        lambda_context,
        "DELETE",
        "/v1/indicators/{id}",
        indicator=indexed,
        body={"reason": "a lattice image, not material"},
    )

    assert (status, revoked["status"]) == (200, "revoked")
    assert _needs_review(lambda_context)[1]["indicators"] == []
    assert statuses(match(lambda_context, KNOWN)[1]) == ["no_match"]


def test_matches_under_the_flood_rule_quarantine_nothing(indexed, lambda_context):
    # The template's defaults: 500 matches in an hour before anything is quarantined
    _status, body, _ = match(lambda_context, *[KNOWN] * 50)

    assert statuses(body) == ["matched"] * 50
    assert not any(action == "indicator.quarantined" for action, _ in audit_actions())


# --- negative indicators ------------------------------------------------------------------------


def add_negative(context: Any, value: str) -> tuple[int, Any]:
    return call(
        context,
        "POST",
        "/v1/indicators/negative",
        body={
            "items": [
                {
                    "hash_type": "pdq",
                    "hash": value,
                    "database": "known",
                    "reason": "a grid image that false-matches",
                }
            ]
        },
    )


def test_a_query_near_a_negative_indicator_and_an_indicator_is_no_match_and_is_counted(
    indexed, deployment, lambda_context
):
    # Given a negative indicator 20 bits from the indicator
    negative = flip(KNOWN, range(20))
    status, added = add_negative(lambda_context, negative)
    assert (status, added["created"]) == (200, 1)
    build_index.lambda_handler({}, lambda_context)
    near_both = flip(KNOWN, [0, 1])  # 2 bits from the indicator, 18 from the negative
    near_the_indicator_only = flip(KNOWN, range(200, 212))  # 12 from it, 32 from the negative

    # When both are matched
    status, body, _ = match(lambda_context, near_both, near_the_indicator_only)

    # Then the one near the negative indicator is no match, the other matches, and the
    # suppression is counted
    assert status == 200
    assert statuses(body) == ["no_match", "matched"]
    counters = boto3.client("dynamodb", region_name=REGION).scan(
        TableName=deployment.physical_id("StatisticsTable")
    )["Items"]
    suppressions = [c for c in counters if c["counter"]["S"].startswith("negative_suppressions#")]
    assert [c["counter"]["S"] for c in suppressions] == [
        f"negative_suppressions#{PROVIDER['organisation_id']}#pdq"
    ]
    assert suppressions[0]["count"]["N"] == "1"
    assert ("negative_indicators.added", (added["items"][0]["id"],)) in audit_actions()


def test_revoking_a_negative_indicator_lets_the_query_match_again(indexed, lambda_context):
    _, added = add_negative(lambda_context, flip(KNOWN, range(20)))
    build_index.lambda_handler({}, lambda_context)
    assert statuses(match(lambda_context, flip(KNOWN, [0, 1]))[1]) == ["no_match"]

    status, _ = call(
        lambda_context,
        "DELETE",
        "/v1/indicators/{id}",
        indicator=added["items"][0]["id"],
        body={"reason": "no longer needed"},
    )

    assert status == 200
    assert statuses(match(lambda_context, flip(KNOWN, [0, 1]))[1]) == ["matched"]


def test_an_exact_hash_type_cannot_be_a_negative_indicator(deployment, lambda_context):
    status, body = call(
        lambda_context,
        "POST",
        "/v1/indicators/negative",
        body={
            "items": [{"hash_type": "md5", "hash": "0" * 32, "database": "known", "reason": "x"}]
        },
    )

    assert status == 422
    assert "near-duplicate" in json.dumps(body)


# --- bands and probing --------------------------------------------------------------------------


def test_a_deployment_that_discloses_exact_distances_answers_them(
    indexed, lambda_context, monkeypatch
):
    reconfigure(monkeypatch, PROVIDER_DISTANCE_DISCLOSURE="exact")

    _, body, _ = match(lambda_context, flip(KNOWN, range(20)))

    (found,) = body["items"][0]["matches"]
    assert (found["band"], found["distance"]) == ("near", 20)


def test_distinct_near_duplicates_of_a_match_are_throttled_with_429_and_audited(
    indexed, lambda_context, monkeypatch
):
    # Given a limit of 4 distinct near-duplicates of matched content per window
    reconfigure(monkeypatch, PROBING_VARIANT_LIMIT="4")

    # When a provider sends one bit-flipped variant after another
    answers = [match(lambda_context, flip(KNOWN, [bit])) for bit in range(12)]

    # Then it is throttled before long, with problem+json and Retry-After, and it stays so
    codes = [status for status, _, _ in answers]
    first = codes.index(429)
    assert 3 <= first <= 8
    assert set(codes[first:]) == {429}
    _status, problem, headers = answers[first]
    assert problem["type"] == "urn:hashmatch:problem:probing-suspected"
    assert 1 <= int(headers["Retry-After"]) <= 3600
    assert ("client.probing_detected", (PROVIDER["client_id"],)) in audit_actions()


def test_re_sending_the_same_matching_hash_is_never_throttled(indexed, lambda_context, monkeypatch):
    # Re-uploads of one viral image send the same hash: one fingerprint, however often
    reconfigure(monkeypatch, PROBING_VARIANT_LIMIT="4")

    codes = [match(lambda_context, KNOWN, flip(KNOWN, [5, 9, 77]))[0] for _ in range(30)]

    assert set(codes) == {200}


def test_a_probing_client_with_key_suspension_stays_refused(indexed, lambda_context, monkeypatch):
    reconfigure(monkeypatch, PROBING_VARIANT_LIMIT="4", PROBING_SUSPEND_AFTER="1")
    for bit in range(8):
        match(lambda_context, flip(KNOWN, [bit]))

    status, problem, _ = match(lambda_context, KNOWN)

    assert status == 429
    assert "suspended" in problem["detail"]
    assert ("client.suspended", (PROVIDER["client_id"],)) in audit_actions()
    assert bootstrap.probing_store().lift(PROVIDER["client_id"])


# --- retention of the sketches ------------------------------------------------------------------


def test_a_probing_sketch_is_erased_by_erase_expired_after_its_retention(
    indexed, deployment, lambda_context, monkeypatch
):
    from functions.erase_expired import app as erase_expired
    from hashmatch.clock import CLOCK_OFFSET_VARIABLE

    # Given a sketch (a provider matched a near-duplicate; ProbingSketchRetentionDays = 1)
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, "0")
    match(lambda_context, flip(KNOWN, [3]))
    table = deployment.physical_id("ProbingTable")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    (stored,) = dynamodb.scan(TableName=table)["Items"]
    assert set(stored) >= {"sketch", "due_day", "erase_after"}
    assert KNOWN not in json.dumps(stored, default=str)

    # When erase_expired runs within the retention, and then after it
    kept = erase_expired.lambda_handler({}, lambda_context)
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, str(3 * 86_400))
    erased = erase_expired.lambda_handler({}, lambda_context)

    # Then it is kept, and then erased and counted in the receipt
    assert kept["counts"].get("probing_sketches", 0) == 0
    assert erased["counts"]["probing_sketches"] == 1
    assert dynamodb.scan(TableName=table)["Items"] == []


def test_the_second_detection_suspends_matching_until_an_operator_lifts_it(
    indexed, lambda_context, monkeypatch
):
    from hashmatch.clock import CLOCK_OFFSET_VARIABLE

    # Given the default ProbingSuspendAfter (2) and a client detected once, then paused
    reconfigure(monkeypatch, PROBING_VARIANT_LIMIT="4")
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, "0")
    first = [match(lambda_context, flip(KNOWN, [bit]))[0] for bit in range(8)]
    assert 429 in first
    assert not any(action == "client.suspended" for action, _ in audit_actions())

    # When it waits out the window and probes again
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, "3700")
    assert match(lambda_context, KNOWN)[0] == 200
    second = [match(lambda_context, flip(KNOWN, [bit]))[0] for bit in range(20, 28)]

    # Then its matching stays suspended, in every later window, until the hold is lifted
    assert 429 in second
    assert ("client.suspended", (PROVIDER["client_id"],)) in audit_actions()
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, str(3 * 3600))
    status, problem, _ = match(lambda_context, KNOWN)
    assert status == 429
    assert "suspended" in problem["detail"]
    assert bootstrap.probing_store().lift(PROVIDER["client_id"])
    assert match(lambda_context, KNOWN)[0] == 200


def test_a_negative_indicator_outside_the_curators_scope_is_refused_and_the_others_stored(
    deployment, lambda_context
):
    from tests.integration.indicator_fixtures import CURATOR

    narrow = {**CURATOR, "databases": "new"}
    status, body = call(
        lambda_context,
        "POST",
        "/v1/indicators/negative",
        principal=narrow,
        body={
            "items": [
                {"hash_type": "pdq", "hash": pdq_hex(1), "database": "known", "reason": "grid"},
                {"hash_type": "pdq", "hash": pdq_hex(2), "database": "new", "reason": "grid"},
                {"hash_type": "pdq", "hash": "ab" * 8, "database": "new", "reason": "short"},
            ]
        },
    )

    assert status == 207
    assert [item["result"] for item in body["items"]] == ["invalid", "created", "invalid"]
    assert body["items"][0]["errors"][0]["msg"].startswith("not-allowed")
    assert body["items"][2]["errors"][0]["loc"] == ["items", 2, "hash"]

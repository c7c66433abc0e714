"""The curator API in-process against the template's indicators table in moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hashmatch import bootstrap
from hashmatch.errors import Conflict
from tests.factories import pdq_hex, submission
from tests.integration.indicator_fixtures import PROVIDER, call

pytestmark = pytest.mark.usefixtures("deployment")


def add(context, *items):
    return call(context, "POST", "/v1/indicators", body={"items": list(items)})


def test_adding_creates_an_indicator_readable_by_id(lambda_context):
    status, body = add(lambda_context, submission(pdq_hex(1)))

    assert (status, body["created"]) == (200, 1)
    indicator_id = body["items"][0]["id"]
    status, read = call(lambda_context, "GET", "/v1/indicators/{id}", indicator=indicator_id)
    assert status == 200
    assert (read["hash"], read["status"]) == (pdq_hex(1), "active")
    assert read["provenance"][0]["submitted_by"] == "cl_" + "c" * 24


def test_a_duplicate_add_returns_the_existing_id_and_appends_provenance(lambda_context):
    _, first = add(lambda_context, submission(pdq_hex(2), reference="A"))

    status, second = add(lambda_context, submission(pdq_hex(2), reference="B"))

    assert status == 200
    item = second["items"][0]
    assert (item["result"], item["id"], item["provenance_added"]) == (
        "existing",
        first["items"][0]["id"],
        True,
    )
    _, read = call(lambda_context, "GET", "/v1/indicators/{id}", indicator=item["id"])
    assert [p["assessment_reference"] for p in read["provenance"]] == ["A", "B"]


def test_a_batch_with_items_the_service_refuses_is_207_and_reports_each(lambda_context):
    status, body = add(
        lambda_context,
        submission(pdq_hex(3)),
        submission("ab" * 16),  # an md5-shaped value given as PDQ
        submission("0" * 64),  # the all-zero PDQ hash of a blank image
    )

    assert status == 207
    assert [i["result"] for i in body["items"]] == ["created", "invalid", "invalid"]
    assert body["items"][1]["errors"][0]["loc"] == ["items", 1, "hash"]
    assert body["items"][2]["errors"][0]["loc"] == ["items", 2, "hash"]


def test_a_batch_of_only_refused_items_is_207_and_changes_nothing(lambda_context):
    status, body = add(lambda_context, submission(pdq_hex(6), quality=10))

    assert (status, body["created"], body["invalid"]) == (207, 0, 1)
    assert body["items"][0]["errors"][0]["loc"] == ["items", 0, "quality"]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (submission("gg" * 32), "hash"),
        (submission(pdq_hex(5), database="unknown"), "database"),
        (submission(pdq_hex(5), media_type="audio"), "media_type"),
        (submission(pdq_hex(5), hash_type="PDQ"), "hash_type"),
    ],
)
def test_a_batch_with_an_item_breaking_the_schema_is_422_naming_it_and_changes_nothing(
    lambda_context, item, field
):
    status, problem = add(lambda_context, submission(pdq_hex(7)), item)

    assert status == 422
    assert problem["type"] == "urn:hashmatch:problem:invalid-request"
    assert problem["errors"][0]["loc"][:3] == ["body", "items", 1]
    assert field in problem["errors"][0]["loc"]
    _, again = add(lambda_context, submission(pdq_hex(7)))
    assert again["created"] == 1  # the refused batch stored nothing


def test_a_malformed_request_body_is_422(lambda_context):
    status, problem = call(lambda_context, "POST", "/v1/indicators", body={"items": "nope"})

    assert status == 422
    assert problem["type"] == "urn:hashmatch:problem:invalid-request"


def test_a_provider_may_not_add_indicators(lambda_context):
    status, _ = call(
        lambda_context,
        "POST",
        "/v1/indicators",
        body={"items": [submission(pdq_hex(6))]},
        principal=PROVIDER,
    )

    assert status == 403


def test_revoking_needs_a_reason_and_records_it(lambda_context):
    _, body = add(lambda_context, submission(pdq_hex(7)))
    indicator_id = body["items"][0]["id"]

    missing, _ = call(lambda_context, "DELETE", "/v1/indicators/{id}", indicator=indicator_id)
    status, revoked = call(
        lambda_context,
        "DELETE",
        "/v1/indicators/{id}",
        indicator=indicator_id,
        body={"reason": "court order"},
    )

    assert missing == 422
    assert status == 200
    assert (revoked["status"], revoked["status_reason"]) == ("revoked", "court order")


def test_revoking_an_unknown_id_is_404(lambda_context):
    status, problem = call(
        lambda_context,
        "DELETE",
        "/v1/indicators/{id}",
        indicator="ind_" + "0" * 22,
        body={"reason": "r"},
    )

    assert status == 404
    assert problem["type"] == "urn:hashmatch:problem:not-found"


def test_suspend_then_reinstate(lambda_context):
    _, body = add(lambda_context, submission(pdq_hex(8)))
    indicator_id = body["items"][0]["id"]

    _, suspended = call(
        lambda_context,
        "POST",
        "/v1/indicators/{id}/suspend",
        indicator=indicator_id,
        body={"reason": "re-verification"},
    )
    status, reinstated = call(
        lambda_context, "POST", "/v1/indicators/{id}/reinstate", indicator=indicator_id, body={}
    )

    assert suspended["status"] == "suspended"
    assert (status, reinstated["status"]) == (200, "active")


def test_reinstating_a_revoked_indicator_is_409(lambda_context):
    _, body = add(lambda_context, submission(pdq_hex(9)))
    indicator_id = body["items"][0]["id"]
    call(
        lambda_context,
        "DELETE",
        "/v1/indicators/{id}",
        indicator=indicator_id,
        body={"reason": "r"},
    )

    status, _ = call(
        lambda_context, "POST", "/v1/indicators/{id}/reinstate", indicator=indicator_id, body={}
    )

    assert status == 409


def test_a_csv_import_reports_bad_lines_and_rerunning_it_changes_nothing(lambda_context):
    header = "hash_type,hash,database,media_type,authority,member_state,assessment_reference,"
    rows = [
        f"pdq,{pdq_hex(10)},known,image,Politie,NL,NL-1,2026-02-01T00:00:00Z",
        "pdq,not-a-hash,known,image,Politie,NL,NL-2,2026-02-01T00:00:00Z",
        f"md5,{'a' * 32},new,video,Politie,NL,NL-3,2026-02-01T00:00:00Z",
    ]
    body = header + "assessed_at\n" + "\n".join(rows) + "\n"

    status, first = call(
        lambda_context, "POST", "/v1/indicators/import", body=body, content_type="text/csv"
    )
    again_status, again = call(
        lambda_context, "POST", "/v1/indicators/import", body=body, content_type="text/csv"
    )

    assert status == 207
    assert (first["created"], first["invalid"]) == (2, 1)
    assert first["items"][1]["errors"][0]["loc"] == ["line", 3, "hash"]
    assert again_status == 207
    assert (again["created"], again["existing"]) == (0, 2)
    assert not any(item["provenance_added"] for item in again["items"])


def test_a_json_lines_import_is_accepted(lambda_context):
    body = "\n".join(json.dumps(submission(pdq_hex(20 + i))) for i in range(3))

    status, result = call(
        lambda_context, "POST", "/v1/indicators/import", body=body, content_type="application/jsonl"
    )

    assert (status, result["created"]) == (200, 3)


def test_the_table_refuses_a_second_create_of_the_same_hash(lambda_context):
    _, body = add(lambda_context, submission(pdq_hex(30)))
    store = bootstrap.indicator_store()
    existing = store.get(body["items"][0]["id"])
    assert existing is not None

    with pytest.raises(Conflict):
        store.create(existing)  # what a concurrent add that lost the race would attempt


def test_the_table_appends_the_same_assessment_only_once(lambda_context):
    _, body = add(lambda_context, submission(pdq_hex(31), reference="Z-9"))
    store = bootstrap.indicator_store()
    indicator = store.get(body["items"][0]["id"])
    assert indicator is not None

    appended = store.append_provenance(indicator.id, indicator.provenance[0], datetime.now(UTC))

    assert appended is False
    refreshed = store.get(indicator.id)
    assert refreshed is not None
    assert len(refreshed.provenance) == 1


def test_an_unknown_top_level_field_is_refused_and_creates_nothing(lambda_context):
    status, body = call(
        lambda_context,
        "POST",
        "/v1/indicators",
        body={"items": [submission(pdq_hex(40))], "dry_run": True},
    )

    assert (status, body["errors"][0]["loc"]) == (422, ["body", "dry_run"])
    _, again = add(lambda_context, submission(pdq_hex(40)))
    assert again["created"] == 1  # the refused request had created nothing


def test_a_revocation_with_an_unknown_field_is_refused_and_revokes_nothing(lambda_context):
    _, added = add(lambda_context, submission(pdq_hex(41)))
    indicator_id = added["items"][0]["id"]

    status, body = call(
        lambda_context,
        "DELETE",
        "/v1/indicators/{id}",
        indicator=indicator_id,
        body={"reason": "court order", "cascade": True},
    )

    assert (status, body["errors"][0]["loc"]) == (422, ["body", "cascade"])
    _, read = call(lambda_context, "GET", "/v1/indicators/{id}", indicator=indicator_id)
    assert read["status"] == "active"


def test_a_csv_import_with_stray_carriage_returns_answers_per_row_not_a_server_error(
    lambda_context,
):
    header = "hash_type,hash,database,media_type,authority,member_state,assessment_reference,"
    body = header + "assessed_at\n\x0b\r\x0b\r\rjunk\n"

    status, answer = call(
        lambda_context, "POST", "/v1/indicators/import", body=body, content_type="text/csv"
    )

    assert status == 207
    assert answer["invalid"] == len(answer["items"]) > 0

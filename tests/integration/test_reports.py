"""Reports end to end in-process: file -> reports queue -> intake -> read back, against moto.

The handlers run as in Lambda, on the stores the template declares; SQS events are built from
messages actually received from the template's queue. Faults are injected at the boto3 client.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.file_reports import app as file_reports
from functions.intake_reports import app as intake_reports
from hashmatch import bootstrap
from hashmatch.access.model import Principal, Role
from hashmatch.adapters.aws import dynamodb_client, sqs_client
from hashmatch.errors import Conflict
from hashmatch.reports.model import ReportDetails
from tests.factories import a_match_event, a_principal
from tests.integration.conftest import REGION, Deployment, api_event
from tests.integration.faults import failing_on

PROVIDER = a_principal("a", Role.PROVIDER, "Example Hosting SA")
OTHER = a_principal("b", Role.PROVIDER, "Other Cloud BV")


def stored_match(principal: Principal = PROVIDER) -> str:
    now = datetime.now(UTC)
    event = a_match_event(principal, now)
    bootstrap.match_event_store().put_many([event])
    return event.match_id


def report_body(match_ids: list[str], **changes: Any) -> str:
    return json.dumps(
        {
            "match_ids": match_ids,
            "content_ref": "upload-7f3a",
            "content_type": "image",
            "detected_at": "2026-01-02T03:04:05Z",
            "urgent": True,
            "suspected_member_state": "AT",
            "legal_basis": "Regulation (EU) 2024/1307",
            "removed": True,
            "also_reported_to": ["NCMEC"],
            **changes,
        }
    )


def file_report(context: Any, body: str, key: str | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key else None
    event = api_event(
        "POST", "/v1/reports", principal=PROVIDER.to_context(), body=body, headers=headers
    )
    return file_reports.lambda_handler(event, context)


def read_report(context: Any, report_id: str, principal: Principal = PROVIDER) -> dict[str, Any]:
    event = api_event(
        "GET",
        "/v1/reports/{id}",
        path=f"/v1/reports/{report_id}",
        principal=principal.to_context(),
        path_parameters={"id": report_id},
    )
    return file_reports.lambda_handler(event, context)


def queue_url(deployment: Deployment, logical_id: str = "ReportsQueue") -> str:
    url = deployment.stores.resources[logical_id].url
    assert url is not None
    return url


def receive(deployment: Deployment, **options: Any) -> list[dict[str, Any]]:
    answer = sqs_client().receive_message(
        QueueUrl=queue_url(deployment), MaxNumberOfMessages=10, **options
    )
    return [dict(message) for message in answer.get("Messages", [])]


def sqs_event(deployment: Deployment, messages: list[dict[str, Any]]) -> dict[str, Any]:
    arn = deployment.stores.resources["ReportsQueue"].arn
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }


def poison(message_id: str = "poison-1") -> dict[str, Any]:
    return {
        "MessageId": message_id,
        "ReceiptHandle": "rh-" + message_id,
        "Body": "not a filing",
        "MD5OfBody": "0" * 32,
    }


def stored_report_ids(deployment: Deployment) -> list[str]:
    table = deployment.physical_id("ReportsTable")
    items = dynamodb_client().scan(TableName=table, ProjectionExpression="report_id")["Items"]
    return sorted(item["report_id"]["S"] for item in items)


def test_a_filed_report_is_queued_taken_in_and_read_back_by_its_provider(
    deployment, lambda_context
):
    match_id = stored_match()

    filed = file_report(lambda_context, report_body([match_id]))
    accepted = json.loads(filed["body"])
    messages = receive(deployment)
    intake = intake_reports.lambda_handler(sqs_event(deployment, messages), lambda_context)
    shown = read_report(lambda_context, accepted["report_id"])
    hidden = read_report(lambda_context, accepted["report_id"], OTHER)

    assert filed["statusCode"] == 202
    assert accepted["status"] == "received"
    assert filed["multiValueHeaders"]["Location"] == [f"/v1/reports/{accepted['report_id']}"]
    assert intake == {"batchItemFailures": []}
    assert shown["statusCode"] == 200
    report = json.loads(shown["body"])
    assert report["status"] == "stored"
    assert [step["status"] for step in report["history"]] == ["received", "stored"]
    assert report["match_ids"] == [match_id]
    assert hidden["statusCode"] == 404
    assert hidden["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]


def test_a_provider_lists_its_reports_by_status_a_page_at_a_time(deployment, lambda_context):
    for _ in range(3):
        file_report(lambda_context, report_body([stored_match()]))
    intake_reports.lambda_handler(sqs_event(deployment, receive(deployment)), lambda_context)

    def page(query: dict[str, str]) -> dict[str, Any]:
        event = api_event("GET", "/v1/reports", principal=PROVIDER.to_context(), query=query)
        response = file_reports.lambda_handler(event, lambda_context)
        assert response["statusCode"] == 200, response["body"]
        return dict(json.loads(response["body"]))

    first = page({"status": "stored", "limit": "2"})
    second = page({"status": "stored", "limit": "2", "next": first["next"]})
    forwarded = page({"status": "forwarded"})

    listed = [r["report_id"] for r in first["reports"] + second["reports"]]
    assert len(listed) == 3
    assert sorted(listed) == stored_report_ids(deployment)
    assert forwarded["reports"] == []


def test_a_cursor_of_one_organisations_listing_names_no_page_of_anothers(
    deployment, lambda_context
):
    # Given a page of the provider's reports with a `next` cursor (issue 11, item 8)
    for _ in range(2):
        file_report(lambda_context, report_body([stored_match()]))
    intake_reports.lambda_handler(sqs_event(deployment, receive(deployment)), lambda_context)

    def page(principal: Principal, query: dict[str, str]) -> dict[str, Any]:
        event = api_event("GET", "/v1/reports", principal=principal.to_context(), query=query)
        return file_reports.lambda_handler(event, lambda_context)

    first = json.loads(page(PROVIDER, {"limit": "1"})["body"])

    # When another organisation (of the same name) sends that cursor
    same_name = OTHER.model_copy(update={"owner": PROVIDER.owner})
    theirs = page(same_name, {"limit": "1", "next": first["next"]})

    # Then it is a 404 problem naming the cursor, and shows none of the provider's reports
    assert theirs["statusCode"] == 404
    body = json.loads(theirs["body"])
    assert body["errors"] == [{"loc": ["query", "next"], "msg": "not a cursor of this listing"}]
    assert "reports" not in body


def test_a_match_id_of_another_provider_is_refused_as_unknown(deployment, lambda_context):
    theirs = stored_match(OTHER)

    response = file_report(lambda_context, report_body([theirs]))

    assert response["statusCode"] == 404
    (item,) = json.loads(response["body"])["errors"]
    assert item == {"loc": ["body", "match_ids", 0], "msg": f"{theirs}: unknown or not yours"}
    assert receive(deployment) == []


def test_one_bad_record_in_a_batch_fails_alone(deployment, lambda_context):
    file_report(lambda_context, report_body([stored_match()]))
    (good,) = receive(deployment)

    answer = intake_reports.lambda_handler(sqs_event(deployment, [good, poison()]), lambda_context)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    assert len(stored_report_ids(deployment)) == 1


def test_a_refused_send_is_a_503_and_the_retry_with_its_key_files_exactly_one_report(
    deployment, lambda_context, monkeypatch
):
    match_id = stored_match()
    sqs = sqs_client()
    original_send = sqs.send_message
    monkeypatch.setattr(
        sqs, "send_message", failing_on(original_send, lambda _: True, "ServiceUnavailable")
    )

    refused = file_report(lambda_context, report_body([match_id]), key="retry-me")
    monkeypatch.setattr(sqs, "send_message", original_send)
    retried = file_report(lambda_context, report_body([match_id]), key="retry-me")
    again = file_report(lambda_context, report_body([match_id]), key="retry-me")
    intake_reports.lambda_handler(sqs_event(deployment, receive(deployment)), lambda_context)

    assert refused["statusCode"] == 503
    assert refused["multiValueHeaders"]["Retry-After"] == ["1"]
    assert (retried["statusCode"], again["statusCode"]) == (202, 202)
    report_id = json.loads(retried["body"])["report_id"]
    assert json.loads(again["body"])["report_id"] == report_id
    assert stored_report_ids(deployment) == [report_id]


def test_a_consumer_failing_mid_batch_loses_nothing_and_stores_nothing_twice(
    deployment, lambda_context, monkeypatch
):
    for _ in range(3):
        file_report(lambda_context, report_body([stored_match()]))
    messages = receive(deployment)
    dynamodb = dynamodb_client()
    puts = {"count": 0}
    reports_table = deployment.physical_id("ReportsTable")

    def second_put(request: dict[str, Any]) -> bool:
        # Only the reports table's puts count (intake also appends to the audit log).
        if request["TableName"] != reports_table:
            return False
        puts["count"] += 1
        return puts["count"] == 2

    monkeypatch.setattr(
        dynamodb, "put_item", failing_on(dynamodb.put_item, second_put, "InternalServerError")
    )
    first = intake_reports.lambda_handler(sqs_event(deployment, messages), lambda_context)
    monkeypatch.undo()
    # SQS redelivers the failed record; deliver the whole batch again to include duplicates.
    second = intake_reports.lambda_handler(sqs_event(deployment, messages), lambda_context)

    assert first == {"batchItemFailures": [{"itemIdentifier": messages[1]["MessageId"]}]}
    assert second == {"batchItemFailures": []}
    filed = sorted(json.loads(m["Body"])["filing"]["report_id"] for m in messages)
    assert stored_report_ids(deployment) == filed


def test_a_poison_message_lands_in_the_dead_letter_queue_after_five_receives(
    deployment, lambda_context
):
    sqs_client().send_message(QueueUrl=queue_url(deployment), MessageBody="not a filing")

    for _ in range(6):  # the sixth receive finds it moved
        messages = receive(deployment, VisibilityTimeout=0)
        if messages:
            # A batch whose every record failed fails the invocation (Powertools' default):
            # SQS retries it all the same, and Lambda's Errors metric shows it.
            with pytest.raises(BatchProcessingError):
                intake_reports.lambda_handler(sqs_event(deployment, messages), lambda_context)

    dead = sqs_client().receive_message(QueueUrl=queue_url(deployment, "ReportsDeadLetterQueue"))
    assert [message["Body"] for message in dead.get("Messages", [])] == ["not a filing"]
    assert receive(deployment) == []


def test_ten_concurrent_filings_citing_one_match_file_exactly_one_report(
    deployment, lambda_context
):
    match_id = stored_match()
    details = ReportDetails.model_validate_json(report_body([match_id]))
    service = bootstrap.report_service()
    start = threading.Barrier(10)

    def file_one(_: int) -> str:
        start.wait()
        try:
            return service.file(PROVIDER, details).report_id
        except Conflict as refused:
            return f"409 {refused.errors[0]['msg']}"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(file_one, range(10)))
    messages = receive(deployment)
    intake_reports.lambda_handler(sqs_event(deployment, messages), lambda_context)

    filed = [outcome for outcome in outcomes if outcome.startswith("rp_")]
    refused = [outcome for outcome in outcomes if outcome.startswith("409")]
    assert len(filed) == 1, outcomes
    assert len(refused) == 9
    assert all(f"{match_id}: already cited by" in outcome for outcome in refused)
    assert len(messages) == 1
    assert stored_report_ids(deployment) == filed
    event = bootstrap.match_event_store().get_many([match_id])[match_id]
    assert event.report_id == filed[0]


def test_a_second_filing_citing_a_match_is_409_problem_json(deployment, lambda_context):
    match_id = stored_match()
    first = json.loads(file_report(lambda_context, report_body([match_id]))["body"])

    second = file_report(lambda_context, report_body([match_id], content_ref="other"))

    assert second["statusCode"] == 409
    problem = json.loads(second["body"])
    assert problem["type"] == "urn:hashmatch:problem:conflict"
    assert problem["errors"] == [
        {
            "loc": ["body", "match_ids", 0],
            "msg": f"{match_id}: already cited by {first['report_id']}",
        }
    ]
    assert len(receive(deployment)) == 1


def test_an_audit_failure_after_the_send_does_not_let_the_retry_queue_a_second_report(
    deployment, lambda_context, monkeypatch
):
    match_id = stored_match()
    dynamodb = dynamodb_client()
    audit_table = deployment.physical_id("AuditTable")
    original_put = dynamodb.put_item
    monkeypatch.setattr(
        dynamodb,
        "put_item",
        failing_on(
            original_put, lambda call: call["TableName"] == audit_table, "ServiceUnavailable"
        ),
    )

    failed = file_report(lambda_context, report_body([match_id]), key="after-send")
    monkeypatch.setattr(dynamodb, "put_item", original_put)
    retried = file_report(lambda_context, report_body([match_id]), key="after-send")
    intake_reports.lambda_handler(sqs_event(deployment, receive(deployment)), lambda_context)

    assert (failed["statusCode"], retried["statusCode"]) == (503, 202)
    report_id = json.loads(retried["body"])["report_id"]
    assert stored_report_ids(deployment) == [report_id]


def test_a_key_reused_for_another_report_is_409_naming_the_report_it_filed(
    deployment, lambda_context
):
    first = file_report(lambda_context, report_body([stored_match()]), key="k-reused")
    other = file_report(
        lambda_context, report_body([stored_match()], content_ref="another"), key="k-reused"
    )

    assert other["statusCode"] == 409
    problem = json.loads(other["body"])
    assert problem["type"] == "urn:hashmatch:problem:idempotency-key-reused"
    assert problem["report_id"] == json.loads(first["body"])["report_id"]

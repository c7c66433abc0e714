"""Fault injection across the stores: for every component and every store call it makes, a
throttling and a service error (tests/fault_matrix.py's codes), injected at the boto3 client.

Each test asserts what must hold (the caller gets a 503 with Retry-After, or the message or the
run is retried; nothing is lost; nothing is stored or counted twice) and records what it
observed as one cell of the fault matrix in docs/operations.md. Run with
HASHMATCH_RECORD_FAULTS=1 (``make fault-matrix``) to record the cells into fault_matrix.json;
otherwise every test also checks that the recorded cell still says what it observed.

Where a requirement does not hold yet, the test pins the observed behaviour and its cell says
KNOWN GAP, with where it is being fixed or why it is not: a fix makes the test fail, and the
test and the matrix are updated with it.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.anchor_audit import app as anchor_audit
from functions.build_index import app as build_index
from functions.curate_indicators import app as curate
from functions.erase_expired import app as erase_expired
from functions.intake_reports import app as intake_reports
from functions.match_hashes import app as match_hashes
from hashmatch import bootstrap
from hashmatch.access.model import Role
from hashmatch.adapters.aws import dynamodb_client, kms_client, s3_client, sqs_client
from hashmatch.clock import CLOCK_OFFSET_VARIABLE
from hashmatch.errors import DependencyUnavailable
from hashmatch.matching.matcher import HashQuery
from hashmatch.settings import clear_settings_cache
from hashmatch_devtools.localstack.api_gateway import HttpRequest
from hashmatch_operators import audit_command
from tests.factories import a_match_event, in_new_organisation, pdq_hex, submission
from tests.fault_matrix import CODES, FAULTS, Cell, load, save
from tests.integration.conftest import Deployment, api_event
from tests.integration.faults import inject, on_bucket, on_table
from tests.integration.indicator_fixtures import CURATOR, call
from tests.integration.test_reports import (
    PROVIDER,
    file_report,
    receive,
    report_body,
    sqs_event,
    stored_report_ids,
)

RECORDING = os.environ.get("HASHMATCH_RECORD_FAULTS") == "1"
CLIENTS = {"s3": s3_client, "dynamodb": dynamodb_client, "sqs": sqs_client, "kms": kms_client}
_recorded: list[Cell] = []
DAY = 86_400

pytestmark = pytest.mark.usefixtures("deployment")


@pytest.fixture(scope="module", autouse=True)
def fault_matrix() -> Iterator[None]:
    yield
    if RECORDING:
        save(_recorded)


@pytest.fixture
def faults() -> Iterator[pytest.MonkeyPatch]:
    """Patches of the injected faults alone: ``faults.undo()`` heals the stores."""
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def observed(component: str, operation: str, store: str, fault: str, behaviour: str) -> None:
    """Record the cell; unless recording, it must be what fault_matrix.json already says."""
    cell = Cell(component, operation, store, fault, behaviour)
    _recorded.append(cell)
    if not RECORDING:
        recorded = load().get(cell.key)
        said = recorded.observed if recorded else None
        assert said == behaviour, (
            f"the fault matrix is stale for {cell.key!r}: run `make fault-matrix`\n"
            f"  recorded: {said}\n  observed: {behaviour}"
        )


def code(fault: str, store: str) -> str:
    return CODES[fault][store]


def answer(response: dict[str, Any]) -> str:
    """``503 dependency-unavailable, Retry-After 1`` (the status, the problem, the retry hint)."""
    status = response["statusCode"]
    text = str(status)
    if status >= 400:
        text += " " + json.loads(response["body"])["type"].rsplit(":", 1)[-1]
    retry = (response.get("multiValueHeaders") or {}).get("Retry-After")
    return text + (f", Retry-After {retry[0]}" if retry else "")


def table(deployment: Deployment, logical_id: str) -> str:
    return deployment.physical_id(logical_id)


@dataclass(frozen=True)
class StoreCall:
    """One call a component makes: what it is for, the store, the boto3 client and method, and
    the template resource it names (None: every call of that method)."""

    operation: str
    store: str
    client: str
    method: str
    resource: str | None

    def __str__(self) -> str:
        return f"{self.operation} ({self.store})"


def every_fault_of(*calls: StoreCall) -> Callable[[Any], Any]:
    """Parametrize a test over ``calls`` (as ``target``) and both kinds of fault."""

    def parametrized(test: Any) -> Any:
        over_calls = pytest.mark.parametrize("target", calls, ids=[str(c) for c in calls])
        return pytest.mark.parametrize("fault", FAULTS)(over_calls(test))

    return parametrized


def fail_calls(
    faults: pytest.MonkeyPatch,
    deployment: Deployment,
    fault: str,
    target: StoreCall,
    **options: Any,
) -> None:
    """Make the target's method fail with its store's code for ``fault``."""
    client = CLIENTS[target.client]()
    failing = code(fault, target.store)
    if target.resource is None:
        inject(faults, client, target.method, failing, **options)
        return
    physical = table(deployment, target.resource)
    when = on_bucket(physical) if target.store == "S3" else on_table(physical)
    inject(faults, client, target.method, failing, when=when, **options)


def dynamodb_call(operation: str, method: str, resource: str) -> StoreCall:
    return StoreCall(operation, "DynamoDB", "dynamodb", method, resource)


def audit_actions() -> list[str]:
    return [entry.action for entry in bootstrap.audit_log().entries_from(1)]


def counted(deployment: Deployment) -> int:
    """The queries counted (the daily query counters; not the event markers or totals)."""
    items = dynamodb_client().scan(TableName=table(deployment, "StatisticsTable"))["Items"]
    return sum(
        int(item["count"]["N"]) for item in items if item["counter"]["S"].startswith("queries#")
    )


def match_event_ids(deployment: Deployment) -> set[str]:
    items = dynamodb_client().scan(TableName=table(deployment, "MatchEventsTable"))["Items"]
    return {item["match_id"]["S"] for item in items}


# -- authorize (through the template's API as the local stack emulates API Gateway) -------------


@pytest.mark.parametrize("fault", FAULTS)
def test_authorize_reading_the_client_fails_as_a_retryable_503(deployment, faults, fault):
    key = (
        bootstrap.client_service()
        .create(
            role=Role.PROVIDER,
            organisation_id=in_new_organisation(bootstrap.client_service(), "Example Hosting SA"),
            purpose="fault injection",
            legal_basis="test",
            valid_for=timedelta(days=1),
        )
        .api_key
    )
    gateway = deployment.api_gateway()
    request = HttpRequest("GET", "/v1/whoami", (), (("Authorization", f"Bearer {key}"),), b"", "")
    fail_calls(
        faults, deployment, fault, StoreCall("", "DynamoDB", "dynamodb", "get_item", "ClientsTable")
    )

    refused = gateway.handle(request)
    faults.undo()
    retried = gateway.handle(request)

    headers = dict(refused.headers)
    assert (refused.status, headers["Retry-After"]) == (503, "2")
    assert json.loads(refused.body)["type"].endswith("dependency-unavailable")
    assert retried.status == 200
    observed(
        "authorize",
        "read the client by key digest",
        "DynamoDB",
        fault,
        "503 dependency-unavailable, Retry-After 2 (the gateway response); retry: 200",
    )


# -- match_hashes ---------------------------------------------------------------------------------

KNOWN = pdq_hex(41)


def index_one(context: Any) -> None:
    call(context, "POST", "/v1/indicators", body={"items": [submission(KNOWN)]})
    build_index.lambda_handler({}, context)


def match(context: Any) -> dict[str, Any]:
    principal = {**PROVIDER.to_context(), "databases": "known", "hash_types": "pdq"}
    body = json.dumps(
        {
            "items": [
                {"type": "pdq", "value": KNOWN, "quality": 100},
                {"type": "pdq", "value": "0" * 64, "quality": 100},
            ]
        }
    )
    return match_hashes.lambda_handler(
        api_event("POST", "/v1/match", principal=principal, body=body), context
    )


MATCH_CALLS = (
    StoreCall("load the snapshot", "S3", "s3", "get_object", "SnapshotBucket"),
    StoreCall("confirm candidates", "DynamoDB", "dynamodb", "batch_get_item", "IndicatorsTable"),
    StoreCall("store match events", "DynamoDB", "dynamodb", "batch_write_item", "MatchEventsTable"),
    StoreCall("count queries", "DynamoDB", "dynamodb", "transact_write_items", "StatisticsTable"),
    StoreCall("read the probing sketch", "DynamoDB", "dynamodb", "batch_get_item", "ProbingTable"),
    StoreCall("save the probing sketch", "DynamoDB", "dynamodb", "put_item", "ProbingTable"),
)


@every_fault_of(*MATCH_CALLS)
def test_match_hashes_fails_closed_and_counts_once(
    deployment, lambda_context, faults, fault, target
):
    # Given one indexed indicator, and a store call of the match path failing
    index_one(lambda_context)
    fail_calls(faults, deployment, fault, target)
    counted_before = counted(deployment)

    # When a provider matches two hashes (one matches), then retries
    refused = match(lambda_context)
    left_behind = (match_event_ids(deployment), counted(deployment) - counted_before)
    faults.undo()
    retried = match(lambda_context)

    # Then the failure stored and counted nothing, and the retry stored one event, counted two
    assert refused["statusCode"] == 503
    assert left_behind == (set(), 0)
    assert retried["statusCode"] == 200
    assert len(match_event_ids(deployment)) == 1
    assert counted(deployment) - counted_before == 2
    observed(
        "match_hashes",
        target.operation,
        target.store,
        fault,
        f"{answer(refused)}; nothing stored, nothing counted; retry: 200, "
        "its match event stored and its queries counted once",
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_match_hashes_refuses_when_it_cannot_check_the_snapshot_is_current(
    deployment, lambda_context, monkeypatch, faults, fault
):
    # Given a warm matcher that checks for a newer snapshot at every call
    monkeypatch.setenv("SNAPSHOT_REFRESH_SECONDS", "0")
    clear_settings_cache()
    bootstrap.reset()
    index_one(lambda_context)
    first = match(lambda_context)
    fail_calls(
        faults, deployment, fault, StoreCall("", "S3", "s3", "head_object", "SnapshotBucket")
    )

    refused = match(lambda_context)
    faults.undo()
    retried = match(lambda_context)

    assert (first["statusCode"], refused["statusCode"], retried["statusCode"]) == (200, 503, 200)
    assert len(match_event_ids(deployment)) == 2  # one per answered request
    observed(
        "match_hashes",
        "check the snapshot is current",
        "S3",
        fault,
        f"{answer(refused)} (it never answers from a snapshot it cannot check); "
        "nothing stored, nothing counted; retry: 200",
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_match_hashes_answers_when_flood_counting_fails(deployment, lambda_context, faults, fault):
    # Given one indexed indicator, and the flood counts on its item failing
    index_one(lambda_context)
    fail_calls(
        faults,
        deployment,
        fault,
        StoreCall("", "DynamoDB", "dynamodb", "update_item", "IndicatorsTable"),
    )
    counted_before = counted(deployment)

    # When a provider matches it
    answered = match(lambda_context)

    # Then the answer stands (stored and counted once: failing it now would count the retry
    # twice); only flood quarantine misses this request's match
    assert answered["statusCode"] == 200
    assert len(match_event_ids(deployment)) == 1
    assert counted(deployment) - counted_before == 2
    observed(
        "match_hashes",
        "count matches for flood quarantine",
        "DynamoDB",
        fault,
        "200: the answer stands, stored and counted once; this request's matches are not "
        "counted towards flood quarantine (a warning is logged)",
    )


# -- file_reports ---------------------------------------------------------------------------------


def a_stored_match() -> str:
    event = a_match_event(PROVIDER, datetime.now(UTC))
    bootstrap.match_event_store().put_many([event])
    return event.match_id


def take_in_everything(deployment: Deployment, context: Any) -> None:
    while messages := receive(deployment):
        intake_reports.lambda_handler(sqs_event(deployment, messages), context)


FILING_CALLS = (
    StoreCall(
        "check the cited match events", "DynamoDB", "dynamodb", "batch_get_item", "MatchEventsTable"
    ),
    StoreCall(
        "remember the Idempotency-Key", "DynamoDB", "dynamodb", "put_item", "IdempotencyTable"
    ),
    StoreCall("queue the filing", "SQS", "sqs", "send_message", None),
    StoreCall("queue the filing", "SQS (KMS)", "sqs", "send_message", None),
)


@every_fault_of(*FILING_CALLS)
def test_file_reports_fails_retryably_and_its_retry_files_once(
    deployment, lambda_context, faults, fault, target
):
    # Given a store call of filing failing
    body = report_body([a_stored_match()])
    fail_calls(faults, deployment, fault, target)

    # When a provider files with an Idempotency-Key, then retries with the same key
    refused = file_report(lambda_context, body, key="fault-1")
    queued_meanwhile = receive(deployment)
    faults.undo()
    retried = file_report(lambda_context, body, key="fault-1")
    take_in_everything(deployment, lambda_context)

    # Then nothing was queued by the failure, and exactly one report is stored
    assert refused["statusCode"] == 503
    assert queued_meanwhile == []
    assert retried["statusCode"] == 202
    assert stored_report_ids(deployment) == [json.loads(retried["body"])["report_id"]]
    observed(
        "file_reports",
        target.operation,
        target.store,
        fault,
        f"{answer(refused)}; nothing queued; retry with the same key: 202, one report stored",
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_file_reports_audit_failing_after_the_send_files_once(
    deployment, lambda_context, faults, fault
):
    body = report_body([a_stored_match()])
    fail_calls(
        faults, deployment, fault, StoreCall("", "DynamoDB", "dynamodb", "put_item", "AuditTable")
    )

    refused = file_report(lambda_context, body, key="fault-2")
    faults.undo()
    retried = file_report(lambda_context, body, key="fault-2")
    take_in_everything(deployment, lambda_context)

    # The filing was queued before the audit append failed and the 503 released the key; the
    # report id is derived from the provider and the key, so the retry's message names the same
    # report and intake stores it once.
    assert (refused["statusCode"], retried["statusCode"]) == (503, 202)
    assert len(stored_report_ids(deployment)) == 1
    observed(
        "file_reports",
        "audit the filing, after it is queued",
        "DynamoDB",
        fault,
        f"{answer(refused)}, but the filing was queued; retry with the same key: 202, "
        "the same report id, one report stored",
    )


# -- intake_reports -------------------------------------------------------------------------------

INTAKE_CALLS = (
    dynamodb_call("store the report", "put_item", "ReportsTable"),
    dynamodb_call("cite its match events", "update_item", "MatchEventsTable"),
)


def two_filings(deployment: Deployment, context: Any) -> tuple[dict[str, Any], list[str]]:
    match_ids = [a_stored_match(), a_stored_match()]
    for match_id in match_ids:
        file_report(context, report_body([match_id]))
    messages = receive(deployment)
    assert len(messages) == 2
    return sqs_event(deployment, messages), match_ids


def cited_by(match_ids: list[str]) -> set[str | None]:
    events = bootstrap.match_event_store().get_many(match_ids)
    return {events[match_id].report_id for match_id in match_ids}


@every_fault_of(*INTAKE_CALLS)
def test_intake_fails_the_record_and_its_redelivery_stores_once(
    deployment, lambda_context, faults, fault, target
):
    # Given two filings on the queue, and a store call of intake failing once
    event, match_ids = two_filings(deployment, lambda_context)
    fail_calls(faults, deployment, fault, target, times=1)

    # When intake takes the batch, and SQS redelivers all of it (duplicates included)
    first = intake_reports.lambda_handler(event, lambda_context)
    faults.undo()
    second = intake_reports.lambda_handler(event, lambda_context)

    # Then only the failed record was handed back, and each report is stored once, cited
    failed = event["Records"][0]["messageId"]
    assert first == {"batchItemFailures": [{"itemIdentifier": failed}]}
    assert second == {"batchItemFailures": []}
    stored = stored_report_ids(deployment)
    assert len(stored) == 2
    assert cited_by(match_ids) == set(stored)
    observed(
        "intake_reports",
        target.operation,
        target.store,
        fault,
        "that record alone is reported failed, for SQS to redeliver; redelivery of the whole "
        "batch: each report stored once, its match event cited",
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_intake_audit_failing_after_the_report_is_stored_known_gap(
    deployment, lambda_context, faults, fault
):
    event, _ = two_filings(deployment, lambda_context)
    fail_calls(
        faults,
        deployment,
        fault,
        StoreCall("", "DynamoDB", "dynamodb", "put_item", "AuditTable"),
        times=1,
    )

    first = intake_reports.lambda_handler(event, lambda_context)
    faults.undo()
    second = intake_reports.lambda_handler(event, lambda_context)

    # The redelivery finds the report stored and, by design of take_in, records nothing: the
    # report.stored entry of the first delivery is lost (its history still shows the step).
    assert len(first["batchItemFailures"]) == 1
    assert second == {"batchItemFailures": []}
    assert len(stored_report_ids(deployment)) == 2
    assert audit_actions().count("report.stored") == 1
    observed(
        "intake_reports",
        "audit the storing",
        "DynamoDB",
        fault,
        "KNOWN GAP: that record is reported failed, for SQS to redeliver; redelivery: the "
        "report stored once, but its report.stored audit entry is never written",
    )


# -- curate_indicators ----------------------------------------------------------------------------

CURATION_CALLS = (
    dynamodb_call("find existing indicators", "batch_get_item", "IndicatorsTable"),
    dynamodb_call("create the indicator", "put_item", "IndicatorsTable"),
)


def add_indicator(context: Any, value: str) -> dict[str, Any]:
    body = json.dumps({"items": [submission(value)]})
    event = api_event("POST", "/v1/indicators", principal=CURATOR, body=body)
    return curate.lambda_handler(event, context)


def outcome_of(response: dict[str, Any]) -> str:
    return str(json.loads(response["body"])["items"][0]["result"])


@every_fault_of(*CURATION_CALLS)
def test_curation_fails_retryably_and_its_retry_adds_once(
    deployment, lambda_context, faults, fault, target
):
    value = pdq_hex(43)
    fail_calls(faults, deployment, fault, target)

    refused = add_indicator(lambda_context, value)
    faults.undo()
    retried = add_indicator(lambda_context, value)

    assert refused["statusCode"] == 503
    assert (retried["statusCode"], outcome_of(retried)) == (200, "created")
    assert audit_actions().count("indicators.added") == 1
    observed(
        "curate_indicators",
        target.operation,
        target.store,
        fault,
        f"{answer(refused)}; nothing stored; retry: 200 created, audited once",
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_curation_audit_failing_after_the_indicator_is_stored_known_gap(
    deployment, lambda_context, faults, fault
):
    value = pdq_hex(44)
    fail_calls(
        faults, deployment, fault, StoreCall("", "DynamoDB", "dynamodb", "put_item", "AuditTable")
    )

    refused = add_indicator(lambda_context, value)
    faults.undo()
    retried = add_indicator(lambda_context, value)

    assert refused["statusCode"] == 503
    assert (retried["statusCode"], outcome_of(retried)) == (200, "existing")
    assert "indicators.added" not in audit_actions()
    observed(
        "curate_indicators",
        "audit the addition, after it is stored",
        "DynamoDB",
        fault,
        f"KNOWN GAP: {answer(refused)}, but the indicator was stored; retry: 200 "
        "existing, and its indicators.added audit entry is never written",
    )


# -- build_index ----------------------------------------------------------------------------------

BUILD_CALLS = (
    StoreCall("read the current snapshot", "S3", "s3", "get_object", "SnapshotBucket"),
    StoreCall("read the change feed", "DynamoDB", "dynamodb", "query", "IndicatorsTable"),
    StoreCall("write the new snapshot", "S3", "s3", "put_object", "SnapshotBucket"),
)


def scheduled_run_fails(handler: Any, context: Any) -> bool:
    """A scheduled invocation raising is a Lambda error (the errors alarm counts it)."""
    try:
        handler({}, context)
    except DependencyUnavailable:
        return True
    return False


@every_fault_of(*BUILD_CALLS)
def test_build_index_fails_the_run_and_the_next_run_folds_the_change(
    deployment, lambda_context, faults, fault, target
):
    # Given an index, a new indicator, and a store call of build_index failing
    index_one(lambda_context)
    value = pdq_hex(45)
    add_indicator(lambda_context, value)
    before = bootstrap.snapshot_store().current_etag()
    fail_calls(faults, deployment, fault, target)

    # When a run fails, and the next minute's run does not
    failed = scheduled_run_fails(build_index.lambda_handler, lambda_context)
    after_failure = bootstrap.snapshot_store().current_etag()
    faults.undo()
    outcome = build_index.lambda_handler({}, lambda_context)

    # Then the failed run wrote nothing, and the next one folded the change: it matches
    assert failed
    assert after_failure == before
    assert (outcome["written"], outcome["version"]) == (True, 2)
    assert bootstrap.matcher().search([HashQuery.parse("pdq", value)]).results[0].hits
    observed(
        "build_index",
        target.operation,
        target.store,
        fault,
        "the run fails (a Lambda error: build-index-errors), nothing is written; the next "
        "run, a minute later, folds the change",
    )


# -- erase_expired --------------------------------------------------------------------------------


def due_match_event(monkeypatch: pytest.MonkeyPatch) -> str:
    """A match event no report cites, with the clock moved past its 90 days."""
    event = a_match_event(PROVIDER, datetime.now(UTC))
    bootstrap.match_event_store().put_many([event])
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, str(91 * DAY))
    return event.match_id


def due_audit_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three audit entries, with the clock moved past their 5 years (and a newer head)."""
    for number in range(3):
        bootstrap.audit_log().record(
            "indicator.read", actor="cl_" + "c" * 24, role="curator", targets=[str(number)]
        )
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, str(1830 * DAY))
    bootstrap.audit_log().record("client.created", actor="operator", role="operator")


def receipts() -> list[dict[str, Any]]:
    return [
        entry.details
        for entry in bootstrap.audit_log().entries_from(1)
        if entry.action == "erasure.receipt"
    ]


ERASURE_CALLS = (
    StoreCall("find what is due", "DynamoDB", "dynamodb", "query", "MatchEventsTable"),
    StoreCall("erase a due item", "DynamoDB", "dynamodb", "delete_item", "MatchEventsTable"),
    StoreCall("seal the audit checkpoint", "KMS", "kms", "encrypt", None),
    StoreCall("anchor the checkpoint", "S3", "s3", "put_object", "AuditAnchorBucket"),
)


@every_fault_of(*ERASURE_CALLS)
def test_erase_expired_fails_the_run_and_the_next_run_finishes_it_once(
    deployment,
    lambda_context,
    monkeypatch,
    faults,
    fault,
    target,
):
    # Given data past its retention, and a call of erasure failing
    data_class = "match_events" if target.resource == "MatchEventsTable" else "audit_entries"
    if data_class == "match_events":
        due_match_event(monkeypatch)
    else:
        due_audit_entries(monkeypatch)
    fail_calls(faults, deployment, fault, target)

    # When the hourly run fails, and the next one does not
    failed = scheduled_run_fails(erase_expired.lambda_handler, lambda_context)
    receipts_meanwhile = receipts()
    faults.undo()
    outcome = erase_expired.lambda_handler({}, lambda_context)

    # Then the failed run wrote no receipt, and the next erased everything due, once
    erased = {name: n for name, n in outcome["counts"].items() if n}
    verification = bootstrap.audit_log().verify(
        bootstrap.checkpoint_sealer(), bootstrap.audit_anchors().all()
    )
    assert failed
    assert receipts_meanwhile == []
    assert outcome["finished"] is True
    assert erased == ({"match_events": 1} if data_class == "match_events" else {"audit_entries": 3})
    assert [receipt["erased"][data_class] for receipt in receipts()] == [erased[data_class]]
    assert verification.ok, verification.problem
    observed(
        "erase_expired",
        target.operation,
        target.store,
        fault,
        "the run fails (a Lambda error: erase-expired-errors), its progress saved and no "
        "receipt written; the next run resumes it: everything due erased once, one receipt, "
        "the chain verifies",
    )


# -- anchor_audit ---------------------------------------------------------------------------------

ANCHOR_CALLS = (
    StoreCall("read the audit head", "DynamoDB", "dynamodb", "query", "AuditTable"),
    StoreCall("write the anchor", "S3", "s3", "put_object", "AuditAnchorBucket"),
)


@every_fault_of(*ANCHOR_CALLS)
def test_anchor_audit_fails_the_run_and_the_next_run_anchors_the_head(
    deployment, lambda_context, faults, fault, target
):
    bootstrap.audit_log().record("client.created", actor="operator", role="operator")
    fail_calls(faults, deployment, fault, target)

    failed = scheduled_run_fails(anchor_audit.lambda_handler, lambda_context)
    anchors_meanwhile = bootstrap.audit_anchors().all()
    faults.undo()
    outcome = anchor_audit.lambda_handler({}, lambda_context)

    assert failed
    assert anchors_meanwhile == []
    assert (outcome["seq"], outcome["written"]) == (1, True)
    observed(
        "anchor_audit",
        target.operation,
        target.store,
        fault,
        "the run fails (a Lambda error: anchor-audit-errors), nothing written; the next run, "
        "5 minutes later, anchors the head",
    )


# -- hashmatch audit verify -----------------------------------------------------------------------

VERIFY_CALLS = (
    StoreCall("read the chain", "DynamoDB", "dynamodb", "query", "AuditTable"),
    StoreCall("list the anchors", "S3", "s3", "list_objects_v2", "AuditAnchorBucket"),
    StoreCall("check the checkpoint's seal", "KMS", "kms", "decrypt", None),
)


@every_fault_of(*VERIFY_CALLS)
def test_audit_verify_says_it_could_not_read_rather_than_broken(
    deployment,
    lambda_context,
    monkeypatch,
    faults,
    capsys,
    fault,
    target,
):
    # Given a chain with a sealed checkpoint and anchors
    due_audit_entries(monkeypatch)
    erase_expired.lambda_handler({}, lambda_context)
    monkeypatch.setattr(audit_command, "use_deployment", lambda args: "in-process moto")
    arguments = argparse.Namespace(receipts=False, json=False)
    fail_calls(faults, deployment, fault, target)

    # When an operator verifies while a store fails, then again
    failed = audit_command.run_verify(arguments)
    failed_output = capsys.readouterr()
    faults.undo()
    verified = audit_command.run_verify(arguments)

    # Then the first says it could not read (exit 2, naming the error), never "broken"
    assert failed == 2
    assert f"failed ({code(fault, target.store)})" in failed_output.err
    assert "BROKEN" not in failed_output.out
    assert verified == 0
    observed(
        "hashmatch audit verify",
        target.operation,
        target.store,
        fault,
        "exit 2, naming the failed call and its error code (never a false 'chain BROKEN'); "
        "run again: exit 0",
    )

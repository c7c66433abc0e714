"""Review end to end in-process, against moto: file -> intake -> queue -> claim -> decide ->
outbound queue -> forward_reports -> a fake recipient over HTTP; bad input changes nothing;
concurrent decisions; retries, attempts in the history and the dead-letter queue."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.curate_indicators import app as curate_indicators
from functions.erase_expired import app as erase_expired
from functions.file_reports import app as file_reports
from functions.forward_reports import app as forward_reports
from functions.review_reports import app as review_reports
from hashmatch import bootstrap
from hashmatch.access.model import Principal, Role
from hashmatch.adapters.aws import clear_client_cache, sqs_client
from hashmatch.clock import CLOCK_OFFSET_VARIABLE
from hashmatch.errors import Conflict
from hashmatch.indicators.model import Database
from hashmatch.reports.model import Report, ReportStatus
from hashmatch.reports.outbound import ForwardedReportMessage
from hashmatch.reports.review_requests import ForwardDecision, UnfoundedDecision
from hashmatch.settings import clear_settings_cache
from hashmatch_devtools.fake_recipients import FakeRecipients, local_credentials
from tests.factories import CURATOR, a_filing, a_match_event, a_principal, pdq_hex, submission
from tests.integration.conftest import REGION, Deployment, api_event

PROVIDER = a_principal("a", Role.PROVIDER, "Example Hosting SA")
OTHER = a_principal("b", Role.PROVIDER, "Other Cloud BV")
ALICE = a_principal("1", Role.REVIEWER, "EU Centre")
BOB = a_principal("2", Role.REVIEWER, "EU Centre")
CURATOR_PRINCIPAL = a_principal("c", Role.CURATOR, "EU Centre")
FORWARD = {"outcome": "forward", "member_state": "DE", "internal_note": "clear match"}


@pytest.fixture
def recipients(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRecipients]:
    """Fake recipients over HTTP, their endpoints and credentials given to forward_reports."""
    fake = FakeRecipients().start()
    monkeypatch.setenv("RECIPIENT_ENDPOINTS", json.dumps(fake.endpoints()))
    secret = deployment.environment["RECIPIENT_CREDENTIALS_SECRET"]
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=secret, SecretString=json.dumps(local_credentials())
    )
    clear_settings_cache()
    clear_client_cache()
    bootstrap.reset()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(autouse=True)
def clock_at_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, "0")


def call(
    handler: Any,
    context: Any,
    method: str,
    resource: str,
    principal: Principal,
    *,
    report_id: str | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    path = resource.replace("{id}", report_id) if report_id else resource
    event = api_event(
        method,
        resource,
        path=path,
        principal=principal.to_context(),
        body=None if body is None else json.dumps(body),
        path_parameters={"id": report_id} if report_id else None,
        query=query,
    )
    response = handler.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


def review(context: Any, method: str, resource: str, principal: Principal = ALICE, **kw: Any):
    return call(review_reports, context, method, resource, principal, **kw)


def stored_report(context: Any, *databases: str, urgent: bool = False) -> str:
    """A report filed by PROVIDER and taken in, citing one match per database."""
    now = datetime.now(UTC)
    match_ids = []
    for number, database in enumerate(databases or ("known",)):
        added = bootstrap.indicator_service().add_batch(
            [submission(pdq_hex(hash((database, number, now))), database=database)],
            submitted_by=CURATOR,
        )
        indicator = added.items[0].indicator
        assert indicator is not None
        event = a_match_event(PROVIDER, now, database=database, indicator_id=indicator.id)
        bootstrap.match_event_store().put_many([event])
        match_ids.append(event.match_id)
    filing = a_filing(PROVIDER, now, tuple(match_ids))
    if urgent:
        details = filing.details.model_copy(update={"urgent": True})
        filing = filing.model_copy(update={"details": details})
    bootstrap.report_intake().take_in(filing)
    return filing.report_id


def stored(report_id: str) -> Report:
    report = bootstrap.report_store().get(report_id)
    assert report is not None
    return report


def provider_view(context: Any, report_id: str, principal: Principal = PROVIDER):
    return call(file_reports, context, "GET", "/v1/reports/{id}", principal, report_id=report_id)


def queue_url(deployment: Deployment, logical_id: str) -> str:
    url = deployment.stores.resources[logical_id].url
    assert url is not None
    return url


def receive(deployment: Deployment, logical_id: str = "OutboundQueue", **options: Any):
    answer = sqs_client().receive_message(
        QueueUrl=queue_url(deployment, logical_id),
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        **options,
    )
    return answer.get("Messages", [])


def sqs_event(deployment: Deployment, messages: list[dict[str, Any]]) -> dict[str, Any]:
    arn = deployment.stores.resources["OutboundQueue"].arn
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes") or {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


# -- the flow ----------------------------------------------------------------------------------


def test_a_report_is_claimed_forwarded_and_delivered_once_to_each_recipient(
    deployment, lambda_context, recipients
):
    normal = stored_report(lambda_context)
    urgent = stored_report(lambda_context, urgent=True)

    _, page = review(lambda_context, "GET", "/v1/review/queue")
    assert [r["report_id"] for r in page["reports"]] == [urgent, normal]
    status, claim = review(
        lambda_context, "POST", "/v1/review/reports/{id}/claim", report_id=urgent
    )
    assert (status, claim["holder"]) == (200, ALICE.client_id)
    status, decided = review(
        lambda_context, "POST", "/v1/reports/{id}/decision", report_id=urgent, body=FORWARD
    )
    assert (status, decided["status"]) == (200, "forwarded")
    messages = receive(deployment)
    answer = forward_reports.lambda_handler(sqs_event(deployment, messages), lambda_context)

    assert answer == {"batchItemFailures": []}
    for recipient in ("europol", "DE"):
        (received,) = recipients.received(recipient)
        ForwardedReportMessage.model_validate(received)
        assert received["report"]["report_id"] == urgent
    _, detail = review(lambda_context, "GET", "/v1/review/reports/{id}", report_id=urgent)
    assert {d["recipient"]: d["state"] for d in detail["deliveries"]} == {
        "europol": "delivered",
        "DE": "delivered",
    }
    _, shown = provider_view(lambda_context, urgent)
    assert shown["status"] == "forwarded"
    assert "clear match" not in json.dumps(shown)


def test_a_reviewer_reads_match_events_and_indicator_provenance_and_the_read_is_audited(
    deployment, lambda_context
):
    report_id = stored_report(lambda_context)

    status, detail = review(lambda_context, "GET", "/v1/review/reports/{id}", report_id=report_id)

    assert status == 200
    (match,) = detail["matches"]
    assert {
        "indicator_id",
        "database",
        "media_type",
        "distance",
        "threshold",
        "index_version",
    } <= set(match)
    (indicator,) = detail["indicators"]
    assert indicator["provenance"][0]["authority"] == "Bundeskriminalamt"
    assert (indicator["revoked"], indicator["suspended"]) == (False, False)
    (read,) = [e for e in bootstrap.audit_log().entries_from(1) if e.action == "report.read"]
    assert read.targets == (report_id,)


# -- bad input changes nothing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fault"),
    [
        ({"outcome": "manifestly_unfounded", "reasons": ["looked_fine"]}, "reasons"),
        ({"outcome": "forward", "internal_note": "no state given"}, "member_state"),
        ({**FORWARD, "member_state": "US"}, "member_state"),
        ({**FORWARD, "do_not_inform_until": "2099-01-01T00:00:00Z"}, "do_not_inform_until"),
        ({"outcome": "forward_quietly"}, "outcome"),
    ],
    ids=[
        "unknown reason code",
        "no member state",
        "not an EU state",
        "beyond 18 months",
        "no outcome",
    ],
)
def test_a_bad_decision_is_a_clear_422_and_changes_nothing(deployment, lambda_context, body, fault):
    report_id = stored_report(lambda_context)
    _, before = review(lambda_context, "GET", "/v1/review/reports/{id}", report_id=report_id)

    status, problem = review(
        lambda_context, "POST", "/v1/reports/{id}/decision", report_id=report_id, body=body
    )

    assert status == 422
    assert problem["type"].startswith("urn:hashmatch:problem:invalid")
    assert fault in json.dumps(problem["errors"])
    _, after = review(lambda_context, "GET", "/v1/review/reports/{id}", report_id=report_id)
    assert after["history"] == before["history"]
    assert receive(deployment) == []


def test_a_decision_on_a_report_another_reviewer_holds_is_409(deployment, lambda_context):
    report_id = stored_report(lambda_context)
    review(lambda_context, "POST", "/v1/review/reports/{id}/claim", ALICE, report_id=report_id)

    status, problem = review(
        lambda_context, "POST", "/v1/reports/{id}/decision", BOB, report_id=report_id, body=FORWARD
    )

    assert status == 409
    assert problem["type"] == "urn:hashmatch:problem:claimed"
    assert ALICE.client_id in problem["detail"]
    assert provider_view(lambda_context, report_id)[1]["status"] == "stored"
    assert receive(deployment) == []


def test_a_second_decision_is_409_naming_the_current_status(deployment, lambda_context):
    report_id = stored_report(lambda_context)
    unfounded = {"outcome": "manifestly_unfounded", "reasons": ["outside_scope"]}
    review(lambda_context, "POST", "/v1/reports/{id}/decision", report_id=report_id, body=unfounded)

    status, problem = review(
        lambda_context, "POST", "/v1/reports/{id}/decision", BOB, report_id=report_id, body=FORWARD
    )

    assert status == 409
    assert problem["type"] == "urn:hashmatch:problem:illegal-transition"
    assert problem["errors"] == [{"loc": ["report", "status"], "msg": "unfounded"}]
    assert receive(deployment) == []
    decision = stored(report_id).decision
    assert decision is not None
    assert decision.outcome == "manifestly_unfounded"


def test_four_eyes_nobody_confirms_their_own_decision_and_a_second_reviewer_does(
    deployment, lambda_context
):
    report_id = stored_report(lambda_context, "new")
    review(lambda_context, "POST", "/v1/reports/{id}/decision", report_id=report_id, body=FORWARD)

    own = review(lambda_context, "POST", "/v1/reports/{id}/decision/confirm", report_id=report_id)
    assert receive(deployment) == []
    other = review(
        lambda_context, "POST", "/v1/reports/{id}/decision/confirm", BOB, report_id=report_id
    )

    assert (own[0], own[1]["type"]) == (409, "urn:hashmatch:problem:four-eyes")
    assert (other[0], other[1]["status"]) == (200, "forwarded")
    assert len(receive(deployment)) == 2


def test_information_requests_are_answered_by_the_reports_own_provider_only(
    deployment, lambda_context
):
    report_id = stored_report(lambda_context)
    status, asked = review(
        lambda_context,
        "POST",
        "/v1/review/reports/{id}/information-request",
        report_id=report_id,
        body={"question": "Is the uploader's account still active?"},
    )
    answer = {"request_id": asked["request_id"], "answer": "Yes, suspended since."}

    theirs = call(
        file_reports,
        lambda_context,
        "POST",
        "/v1/reports/{id}/information",
        OTHER,
        report_id=report_id,
        body=answer,
    )
    _, waiting = provider_view(lambda_context, report_id)
    mine = call(
        file_reports,
        lambda_context,
        "POST",
        "/v1/reports/{id}/information",
        PROVIDER,
        report_id=report_id,
        body=answer,
    )

    assert status == 201
    assert theirs[0] == 404
    assert waiting["status"] == "awaiting_provider"
    assert waiting["information_request"]["question"].startswith("Is the uploader")
    assert (mine[0], mine[1]["status"]) == (200, "stored")
    _, page = review(lambda_context, "GET", "/v1/review/queue")
    assert [r["report_id"] for r in page["reports"]] == [report_id]


def test_the_queue_filters_and_pages_with_a_cursor(deployment, lambda_context):
    known = [stored_report(lambda_context) for _ in range(3)]
    new = stored_report(lambda_context, "new")

    _, first = review(lambda_context, "GET", "/v1/review/queue", query={"limit": "2"})
    _, second = review(
        lambda_context, "GET", "/v1/review/queue", query={"limit": "2", "next": first["next"]}
    )
    _, only_new = review(lambda_context, "GET", "/v1/review/queue", query={"database": "new"})
    bad = review(lambda_context, "GET", "/v1/review/queue", query={"next": "bm90IGEgY3Vyc29y"})

    paged = [r["report_id"] for r in first["reports"] + second["reports"]]
    assert paged == [*known, new]
    assert [r["report_id"] for r in only_new["reports"]] == [new]
    assert bad[0] == 404  # a cursor this listing did not issue names no page of it


# -- concurrency -------------------------------------------------------------------------------


class _BothReadFirst:
    """The report store, made to let two reviewers read before either writes."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._barrier = threading.Barrier(2)
        self._waited: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def get(self, report_id: str) -> Any:
        found = self._store.get(report_id)
        name = threading.current_thread().name
        if name.startswith("reviewer") and name not in self._waited:
            self._waited.add(name)
            self._barrier.wait(timeout=10)
        return found


def test_two_reviewers_deciding_the_same_report_at_once_one_wins_the_other_gets_409(
    deployment, lambda_context, monkeypatch
):
    report_id = stored_report(lambda_context)
    service = bootstrap.review_service()
    # The real DynamoDB store and conditional writes; only the reads are made to interleave.
    monkeypatch.setattr(service, "_reports", _BothReadFirst(bootstrap.report_store()))
    decisions: dict[str, tuple[Principal, UnfoundedDecision | ForwardDecision]] = {
        "reviewer-alice": (ALICE, ForwardDecision.model_validate(FORWARD)),
        "reviewer-bob": (
            BOB,
            UnfoundedDecision(outcome="manifestly_unfounded", reasons=("outside_scope",)),
        ),
    }
    outcomes: dict[str, Any] = {}

    def decide(name: str) -> None:
        principal, decision = decisions[name]
        try:
            outcomes[name] = service.decide(principal, report_id, decision).status
        except Conflict as refused:
            outcomes[name] = refused

    threads = [threading.Thread(target=decide, args=(n,), name=n) for n in decisions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    won = [o for o in outcomes.values() if isinstance(o, ReportStatus)]
    lost = [o for o in outcomes.values() if isinstance(o, Conflict)]
    assert len(won) == 1
    assert len(lost) == 1
    assert stored(report_id).status is won[0]
    assert f"is {won[0].value}" in lost[0].detail


# -- delivery faults ---------------------------------------------------------------------------


def forwarded(
    deployment: Deployment, context: Any, recipient_faults: FakeRecipients, **faults: Any
):
    report_id = stored_report(context)
    recipient_faults.fail("europol", **faults)
    body = {"outcome": "forward", "europol_only": True, "internal_note": "unclear jurisdiction"}
    review(context, "POST", "/v1/reports/{id}/decision", report_id=report_id, body=body)
    return report_id


def delivery_steps(context: Any, report_id: str) -> list[tuple[str, int]]:
    _, detail = review(context, "GET", "/v1/review/reports/{id}", report_id=report_id)
    return [(h["step"], h["attempt"]) for h in detail["history"] if h["recipient"]]


def test_a_recipient_failing_twice_then_succeeding_receives_once_and_the_history_shows_it(
    deployment, lambda_context, recipients
):
    report_id = forwarded(deployment, lambda_context, recipients, next_tries=2)

    answer = forward_reports.lambda_handler(
        sqs_event(deployment, receive(deployment)), lambda_context
    )

    assert answer == {"batchItemFailures": []}
    assert recipients.tries("europol") == 3
    assert len(recipients.received("europol")) == 1
    assert delivery_steps(lambda_context, report_id) == [
        ("delivery_failed", 1),
        ("delivery_failed", 2),
        ("delivered", 3),
    ]


def test_a_recipient_that_always_fails_ends_in_the_dead_letter_queue(
    deployment, lambda_context, recipients
):
    report_id = forwarded(deployment, lambda_context, recipients, always=True)

    for _ in range(5):
        messages = receive(deployment, VisibilityTimeout=0)
        # A batch whose every record failed fails the invocation (Powertools): all retried.
        with pytest.raises(BatchProcessingError):
            forward_reports.lambda_handler(sqs_event(deployment, messages), lambda_context)
        sqs_client().change_message_visibility(
            QueueUrl=queue_url(deployment, "OutboundQueue"),
            ReceiptHandle=messages[0]["ReceiptHandle"],
            VisibilityTimeout=0,
        )

    assert receive(deployment) == []  # the sixth receive moved it
    dead = receive(deployment, "OutboundDeadLetterQueue")
    assert [json.loads(m["Body"])["report"]["report_id"] for m in dead] == [report_id]
    steps = delivery_steps(lambda_context, report_id)
    assert steps[-1] == ("delivery_abandoned", 15)
    assert recipients.received("europol") == []


def test_one_bad_record_among_forwarded_reports_fails_alone(deployment, lambda_context, recipients):
    forwarded(deployment, lambda_context, recipients)
    good = receive(deployment)
    poison = {**good[0], "MessageId": "poison-1", "Body": "{}", "ReceiptHandle": "rh-poison"}

    answer = forward_reports.lambda_handler(sqs_event(deployment, [*good, poison]), lambda_context)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    assert len(recipients.received("europol")) == 1


# -- feedback and retention ---------------------------------------------------------------------


def test_an_indicator_found_wrong_is_listed_for_curators_until_revoked(deployment, lambda_context):
    report_id = stored_report(lambda_context)
    body = {"outcome": "manifestly_unfounded", "reasons": ["indicator_wrong"]}
    review(lambda_context, "POST", "/v1/reports/{id}/decision", report_id=report_id, body=body)

    def listed() -> list[dict[str, Any]]:
        status, page = call(
            curate_indicators,
            lambda_context,
            "GET",
            "/v1/indicators",
            CURATOR_PRINCIPAL,
            query={"needs_review": "true"},
        )
        assert status == 200
        return list(page["indicators"])

    (indicator,) = listed()
    assert indicator["disputes"] == 1
    refused = call(
        curate_indicators,
        lambda_context,
        "GET",
        "/v1/indicators",
        CURATOR_PRINCIPAL,
        query={"needs_review": "false"},
    )
    bootstrap.indicator_service().revoke(indicator["id"], reason="wrongly assessed", by=CURATOR)

    assert refused[0] == 422
    assert listed() == []


def test_the_forwarded_copy_is_erased_its_period_after_forwarding(
    deployment, lambda_context, monkeypatch
):
    report_id = stored_report(lambda_context)
    review(lambda_context, "POST", "/v1/reports/{id}/decision", report_id=report_id, body=FORWARD)
    period = bootstrap.retention_policy().outbound_messages
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, str((period + timedelta(hours=1)).total_seconds()))

    result = erase_expired.lambda_handler({}, lambda_context)

    assert result["counts"]["outbound_messages"] == 1
    outbound = stored(report_id).outbound
    assert outbound is not None
    assert outbound.message is None
    assert set(outbound.deliveries) == {"europol", "DE"}


def erase_at(monkeypatch: pytest.MonkeyPatch, context: Any, offset: timedelta) -> dict[str, Any]:
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, str(offset.total_seconds()))
    result: dict[str, Any] = erase_expired.lambda_handler({}, context)
    return dict(result["counts"])


def test_request_texts_go_their_period_after_the_decision_and_a_lapsed_claim_after_its_own(
    deployment, lambda_context, monkeypatch
):
    policy = bootstrap.retention_policy()
    asked_id = stored_report(lambda_context)
    _, asked = review(
        lambda_context,
        "POST",
        "/v1/review/reports/{id}/information-request",
        report_id=asked_id,
        body={"question": "Which country is the uploader in?"},
    )
    call(
        file_reports,
        lambda_context,
        "POST",
        "/v1/reports/{id}/information",
        PROVIDER,
        report_id=asked_id,
        body={"request_id": asked["request_id"], "answer": "France"},
    )
    review(lambda_context, "POST", "/v1/reports/{id}/decision", report_id=asked_id, body=FORWARD)
    claimed_id = stored_report(lambda_context)
    review(lambda_context, "POST", "/v1/review/reports/{id}/claim", report_id=claimed_id)

    counts = erase_at(monkeypatch, lambda_context, policy.claims + timedelta(hours=1))
    assert counts["review_claims"] == 1
    assert stored(claimed_id).claim is None
    counts = erase_at(monkeypatch, lambda_context, policy.information_requests + timedelta(hours=1))

    assert counts["information_requests"] == 1
    (request,) = stored(asked_id).information_requests
    assert (request.question, request.answer) == (None, None)
    assert request.answered_at is not None


def test_database_filter_values_are_the_databases(deployment, lambda_context):
    status, _ = review(lambda_context, "GET", "/v1/review/queue", query={"database": "elsewhere"})

    assert status == 422
    assert {d.value for d in Database} == {"known", "new", "solicitation"}

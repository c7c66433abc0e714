"""Nothing private in logs or traces: a recognisable content reference, sent in good and bad
requests and queue messages, appears in no log line and no trace data.

Handlers run in-process against moto. Logs are captured as Lambda would print them: our logger
at DEBUG (the most the LogLevel parameter allows), every library (Powertools' own loggers
included) at Python's default WARNING, each record rendered by the Powertools JSON formatter (so
`extra` fields and tracebacks count too). Powertools' own DEBUG output, which POWERTOOLS_DEBUG
would switch on, logs route arguments, request bodies included: the template never sets it
(tests/template). Traces are captured by a recording provider in place of X-Ray:
every subsegment name, annotation, metadata value and exception (text and traceback) that would
reach X-Ray.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from functions.build_index import app as build_index
from functions.file_reports import app as file_reports
from functions.intake_reports import app as intake_reports
from functions.match_hashes import app as match_hashes
from hashmatch.adapters.aws import sqs_client
from hashmatch.observability import logger, tracer
from tests.factories import pdq_hex, submission
from tests.integration.conftest import api_event
from tests.integration.indicator_fixtures import call
from tests.integration.test_reports import (
    PROVIDER,
    file_report,
    queue_url,
    read_report,
    receive,
    report_body,
    sqs_event,
    stored_match,
)

MARKER = "upload-PRIVATE-7f3a9e"


class RecordingSubsegment:
    def __init__(self, recorded: list[str], name: str) -> None:
        self._recorded = recorded
        recorded.append(f"subsegment {name}")

    def put_annotation(self, key: str, value: Any) -> None:
        self._recorded.append(f"annotation {key}={value!r}")

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self._recorded.append(f"metadata {namespace}/{key}={value!r}")


class RecordingProvider:
    """What X-Ray would receive: every subsegment, annotation, metadata and exception."""

    def __init__(self) -> None:
        self.recorded: list[str] = []

    @contextmanager
    def in_subsegment(self, name: str = "", **kwargs: Any) -> Iterator[RecordingSubsegment]:
        try:
            yield RecordingSubsegment(self.recorded, name)
        except Exception as error:
            # X-Ray's context manager records the exception's text and stack on the way out.
            self.recorded.append("exception " + "".join(traceback.format_exception(error)))
            raise

    def put_annotation(self, key: str, value: Any) -> None:
        self.recorded.append(f"annotation {key}={value!r}")

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.recorded.append(f"metadata {namespace}/{key}={value!r}")


@pytest.fixture
def traces(monkeypatch: pytest.MonkeyPatch) -> RecordingProvider:
    provider = RecordingProvider()
    monkeypatch.setattr(tracer, "provider", provider)
    return provider


class LogCapture:
    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def lines(self) -> list[str]:
        """Every log line printed so far, rendered as Lambda's log group would get it."""
        formatter = logger.registered_formatter
        return [formatter.format(record) for record in self._caplog.records]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> LogCapture:
    caplog.set_level(logging.DEBUG, logger=logger.name)
    return LogCapture(caplog)


def assert_nowhere(traces: RecordingProvider, logs: LogCapture) -> None:
    lines = logs.lines()
    assert traces.recorded, "nothing was traced: the capture is broken"
    assert [item for item in traces.recorded if MARKER in item] == []
    assert [line for line in lines if MARKER in line] == []


def test_a_report_filed_taken_in_and_read_back_leaves_its_reference_in_no_log_or_trace(
    deployment, lambda_context, traces, logs
):
    # Given a report filed with a recognisable content reference
    match_id = stored_match()
    filed = file_report(lambda_context, report_body([match_id], content_ref=MARKER), key="k-1")

    # When intake stores it and the provider reads and lists its reports
    intake = intake_reports.lambda_handler(
        sqs_event(deployment, receive(deployment)), lambda_context
    )
    shown = read_report(lambda_context, json.loads(filed["body"])["report_id"])
    listed = file_reports.lambda_handler(
        api_event("GET", "/v1/reports", principal=PROVIDER.to_context()), lambda_context
    )

    # Then the provider sees its reference, and no log line or trace holds it
    assert (filed["statusCode"], shown["statusCode"], listed["statusCode"]) == (202, 200, 200)
    assert intake == {"batchItemFailures": []}
    assert MARKER in shown["body"]
    assert MARKER in listed["body"]
    assert any('"message":"report filed"' in line for line in logs.lines())
    assert_nowhere(traces, logs)


@pytest.mark.parametrize(
    "changes",
    [
        {"content_ref": MARKER * 20},  # too long: the reference itself is the bad field
        {"content_ref": MARKER, "content_type": "text"},  # another field is bad
        {"content_ref": MARKER, "suspected_member_state": MARKER},  # a validator names values
    ],
    ids=["bad reference", "bad content type", "bad member state"],
)
def test_a_refused_filing_logs_and_traces_no_input_value(
    deployment, lambda_context, traces, logs, changes
):
    refused = file_report(lambda_context, report_body([stored_match()], **changes))

    assert refused["statusCode"] == 422
    (refusal,) = [line for line in logs.lines() if '"message":"request refused"' in line]
    assert '"faults":["body.' in refusal  # it says where, ...
    assert_nowhere(traces, logs)  # ... never what


def test_queue_messages_intake_refuses_are_logged_and_traced_without_their_values(
    deployment, lambda_context, traces, logs
):
    # Given a filing on the queue that is not JSON, and one whose reference is too long
    file_report(lambda_context, report_body([stored_match()], content_ref=MARKER), key="k-2")
    (good,) = receive(deployment)
    too_long = json.loads(good["Body"])
    too_long["filing"]["details"]["content_ref"] = MARKER * 20
    sqs_client().send_message(QueueUrl=queue_url(deployment), MessageBody=f"not json {MARKER}")
    sqs_client().send_message(QueueUrl=queue_url(deployment), MessageBody=json.dumps(too_long))
    bad = [m for m in receive(deployment) if m["MessageId"] != good["MessageId"]]

    # When intake gets a batch of only those (every record fails: the invocation fails)
    with pytest.raises(BatchProcessingError) as failed:
        intake_reports.lambda_handler(sqs_event(deployment, bad), lambda_context)

    # Then what Lambda prints of the failure, the logs and the traces hold no value of either
    assert len(bad) == 2
    assert "filing.details.content_ref (too_long)" in str(failed.value)
    assert MARKER not in str(failed.value)
    assert_nowhere(traces, logs)


@pytest.mark.usefixtures("deployment")
def test_a_match_leaves_the_items_reference_in_no_log_or_trace(lambda_context, traces, logs):
    value = pdq_hex(31)
    call(lambda_context, "POST", "/v1/indicators", body={"items": [submission(value)]})
    build_index.lambda_handler({}, lambda_context)
    principal = {**PROVIDER.to_context(), "databases": "known", "hash_types": "pdq"}
    body = json.dumps({"items": [{"type": "pdq", "value": value, "ref": MARKER}]})

    answer = match_hashes.lambda_handler(
        api_event("POST", "/v1/match", principal=principal, body=body), lambda_context
    )

    assert answer["statusCode"] == 200
    assert MARKER in answer["body"]
    assert_nowhere(traces, logs)

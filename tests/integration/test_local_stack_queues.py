"""SQS event sources in the local stack: partial batch failures, redelivery, redrive to the DLQ."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from hashmatch_devtools.localstack.lambda_runtime import LocalFunction
from hashmatch_devtools.localstack.pollers import SqsPoller
from hashmatch_devtools.localstack.stack import LocalStack
from hashmatch_devtools.localstack.template import FunctionSpec
from tests.integration.local_stack_fixture import FIXTURE_TEMPLATE
from tests.integration.local_stack_fixture.functions.consume import app as consumer

# Generous: a failed record returns after the 1 s visibility timeout, twice, before redrive.
WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        FIXTURE_TEMPLATE,
        api_port=0,
        run_schedules=False,
        state_directory=tmp_path_factory.mktemp("state"),
    ) as running:
        yield running


def _sqs(stack: LocalStack) -> Any:
    return boto3.client("sqs", endpoint_url=stack.aws_endpoint, region_name=stack.region)


def _wait_for(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _dead_letters(stack: LocalStack, sqs: Any) -> list[str]:
    url = stack.resources["WorkDeadLetterQueue"].url
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in received]


def test_good_record_is_consumed_and_bad_one_retried_then_moved_to_the_dlq(
    stack: LocalStack,
) -> None:
    # Given one good and one bad message on the work queue (the consumer fails "bad..." bodies)
    sqs = _sqs(stack)
    good, bad = f"good-{uuid.uuid4()}", f"bad-{uuid.uuid4()}"
    queue_url = stack.resources["WorkQueue"].url
    sqs.send_message(QueueUrl=queue_url, MessageBody=good)
    sqs.send_message(QueueUrl=queue_url, MessageBody=bad)

    # When the poller feeds them to the consumer until the bad one is redriven
    dead: list[str] = []

    def bad_one_in_dlq() -> bool:
        dead.extend(_dead_letters(stack, sqs))
        return bad in dead

    redriven = _wait_for(bad_one_in_dlq)

    # Then the good one was processed once, the bad one tried maxReceiveCount (2) times
    assert redriven
    assert consumer.processed.count(good) == 1
    assert consumer.attempts.count(bad) == 2
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


class _FakeSqs:
    """Two messages on a queue; remembers what was deleted."""

    def __init__(self) -> None:
        self.deleted: list[str] = []
        self._messages = [
            {
                "MessageId": f"m{i}",
                "ReceiptHandle": f"r{i}",
                "Body": f"body {i}",
                "MD5OfBody": "x",
                "Attributes": {"ApproximateReceiveCount": "1"},
                "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "k"}},
            }
            for i in (1, 2)
        ]

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        return {"Messages": self._messages}

    def delete_message_batch(self, **kwargs: Any) -> None:
        self.deleted.extend(entry["ReceiptHandle"] for entry in kwargs["Entries"])


def _poller(sqs: _FakeSqs, handler: Callable[[Any, Any], Any]) -> SqsPoller:
    spec = FunctionSpec(
        logical_id="Consumer",
        handler="x.y",
        code_uri=".",
        timeout_seconds=3,
        memory_mb=128,
        function_name=None,
        environment={},
    )
    function = LocalFunction(spec=spec, name="consumer", arn="arn", environment={}, handler=handler)
    return SqsPoller(
        sqs=sqs,
        queue_url="url",
        queue_arn="arn:aws:sqs:eu-central-1:123456789012:q",
        function=function,
        batch_size=10,
        report_batch_item_failures=True,
        region="eu-central-1",
    )


def test_handler_exception_leaves_the_whole_batch_on_the_queue() -> None:
    def failing(event: Any, context: Any) -> Any:
        raise RuntimeError("boom")

    sqs = _FakeSqs()

    outcome = _poller(sqs, failing).poll_once()

    assert (outcome.received, outcome.deleted, sqs.deleted) == (2, 0, [])


def test_unknown_item_identifier_fails_the_whole_batch() -> None:
    sqs = _FakeSqs()

    _poller(
        sqs, lambda event, context: {"batchItemFailures": [{"itemIdentifier": "zz"}]}
    ).poll_once()

    assert sqs.deleted == []


def test_sqs_event_has_lambdas_record_shape() -> None:
    seen: list[Any] = []
    sqs = _FakeSqs()

    _poller(sqs, lambda event, context: seen.append(event)).poll_once()

    record = seen[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:eu-central-1:123456789012:q"
    assert record["messageAttributes"]["kind"]["stringValue"] == "k"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert sqs.deleted == ["r1", "r2"]

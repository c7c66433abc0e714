"""SQS event sources: poll a queue in moto and feed batches to the consumer as Lambda does.

Partial batch semantics follow Lambda's event source mapping: with ReportBatchItemFailures, the
records listed in ``batchItemFailures`` stay on the queue and every other record is deleted; a
response that names an unknown or empty itemIdentifier fails the whole batch; a handler exception
deletes nothing. Records left on the queue come back after its visibility timeout, and moto's
redrive moves them to the DLQ after maxReceiveCount receives.

Limit: one receive call per batch, so a batch holds at most 10 records (SQS's per-call maximum)
even when BatchSize is larger; MaximumBatchingWindowInSeconds and FilterCriteria are ignored.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

from hashmatch_devtools.localstack.background import BackgroundLoop
from hashmatch_devtools.localstack.lambda_runtime import LocalFunction

logger = logging.getLogger("local_stack.sqs")

_MAX_MESSAGES_PER_RECEIVE = 10
# Short polls with a pause rather than long polls: a stop request is honoured at once.
_IDLE_SECONDS = 0.2


@dataclass(frozen=True)
class BatchOutcome:
    received: int
    deleted: int
    failed: int


class SqsPoller(BackgroundLoop):
    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        function: LocalFunction,
        batch_size: int,
        report_batch_item_failures: bool,
        region: str,
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function = function
        self._batch_size = max(1, min(batch_size, _MAX_MESSAGES_PER_RECEIVE))
        self._report_failures = report_batch_item_failures
        self._region = region
        super().__init__(f"sqs-{function.logical_id}")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.poll_once().received == 0:
                    self._stop.wait(_IDLE_SECONDS)
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("polling %s failed; retrying", self.queue_url)
                self._stop.wait(1.0)

    def poll_once(self, *, wait_seconds: int = 0) -> BatchOutcome:
        """Receive one batch, invoke the consumer, delete what succeeded."""
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return BatchOutcome(0, 0, 0)
        event = {"Records": [self._record(message) for message in messages]}
        failed_ids = self._failed_message_ids(event, messages)
        to_delete = [m for m in messages if m["MessageId"] not in failed_ids]
        for start in range(0, len(to_delete), _MAX_MESSAGES_PER_RECEIVE):
            chunk = to_delete[start : start + _MAX_MESSAGES_PER_RECEIVE]
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        return BatchOutcome(len(messages), len(to_delete), len(messages) - len(to_delete))

    def _failed_message_ids(self, event: Any, messages: list[dict[str, Any]]) -> set[str]:
        every_id = {m["MessageId"] for m in messages}
        try:
            response = self.function.invoke(event)
        except Exception:
            logger.exception("%s raised: the whole batch stays on the queue", self.function.name)
            return every_id
        if not self._report_failures or not isinstance(response, dict):
            return set()
        failures = response.get("batchItemFailures") or []
        failed = {
            item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures
        }
        if not failed <= every_id:
            logger.error(
                "%s reported unknown itemIdentifiers %s: the whole batch stays on the queue",
                self.function.name,
                failed - every_id,
            )
            return every_id
        return {str(item) for item in failed}

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _lambda_message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self._region,
        }


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS API attribute shape -> the lower-camel shape Lambda puts in SQS events."""
    converted: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return converted

"""SQS adapters of the outbound ports: forwarded reports and provider notifications on their
KMS-encrypted queues, and backing off a message's next delivery (its visibility)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from hashmatch.adapters.aws import translated_errors
from hashmatch.errors import DependencyUnavailable
from hashmatch.reports.notifications import StatusNotification
from hashmatch.reports.outbound import ForwardedReportMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

_MAX_VISIBILITY = timedelta(hours=12)  # SQS's limit


def _report_id(report_id: str) -> dict[str, MessageAttributeValueTypeDef]:
    return {"report_id": {"DataType": "String", "StringValue": report_id}}


class SQSOutboundQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def send(self, messages: Sequence[ForwardedReportMessage]) -> None:
        if not messages:
            return
        # One call for all recipients of a report (at most 10 messages per batch).
        with translated_errors("queueing the forwarded report"):
            answer = self._sqs.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {
                        "Id": str(number),
                        "MessageBody": message.model_dump_json(),
                        "MessageAttributes": _report_id(message.report.report_id),
                    }
                    for number, message in enumerate(messages)
                ],
            )
        if answer.get("Failed"):
            raise DependencyUnavailable("the outbound queue refused a forwarded report")


class SQSNotificationQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def send(self, notification: StatusNotification) -> None:
        with translated_errors("queueing the provider's notification"):
            self._sqs.send_message(
                QueueUrl=self._queue_url,
                MessageBody=notification.model_dump_json(),
                MessageAttributes=_report_id(notification.report_id),
            )


class SQSRedelivery:
    """Retry backoff: a failed message becomes visible again after ``delay``."""

    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def retry_later(self, receipt_handle: str, delay: timedelta) -> None:
        seconds = int(min(delay, _MAX_VISIBILITY).total_seconds())
        with translated_errors("delaying a message's retry"):
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )

"""SQS adapter of the ReportQueue port: one message per filing, on the KMS-encrypted queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashmatch.adapters.aws import translated_errors
from hashmatch.reports.messages import ReportMessage
from hashmatch.reports.model import Filing

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SQSReportQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def send(self, filing: Filing) -> None:
        body = ReportMessage.of(filing).model_dump_json()
        # Every ClientError (throttling, KMS, queue gone) becomes DependencyUnavailable: a 503
        # with Retry-After, and the idempotency record is released for the retry.
        with translated_errors("queueing the report"):
            self._sqs.send_message(
                QueueUrl=self._queue_url,
                MessageBody=body,
                MessageAttributes={
                    "report_id": {"DataType": "String", "StringValue": filing.report_id}
                },
            )

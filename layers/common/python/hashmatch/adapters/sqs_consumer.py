"""The SQS side of an outbound consumer: each record of a batch handed to the service with what
its retries need (how often it was received, its receipt handle), failures reported per record.

Powertools' BatchProcessor with partial batch responses: a record that raises is reported in
``batchItemFailures`` and retried alone; a batch whose every record failed fails the invocation
(Powertools' default, retried the same way by SQS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

# body, receive count, receipt handle
RecordWork = Callable[[str, int, str], object]
Consumer = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]


def partial_batch_consumer(work: RecordWork) -> Consumer:
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> None:
        receive_count = int(record.attributes.approximate_receive_count)
        work(record.body, receive_count, record.receipt_handle)

    def consume(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return consume

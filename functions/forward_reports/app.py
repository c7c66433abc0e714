"""forward_reports: the outbound queue's consumer. Each record is one forwarded report for one
recipient (Europol or a Member State's authority); a record that fails is retried alone, with
backoff, and dead-lettered after its fifth receive (alarmed)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.observability import logger, tracer
from hashmatch.reports.outbound import ForwardedReportMessage

processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def deliver(record: SQSRecord) -> None:
    message = ForwardedReportMessage.model_validate_json(record.body)
    bootstrap.forwarding().deliver(
        message,
        receive_count=int(record.attributes.approximate_receive_count),
        receipt_handle=record.receipt_handle,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=deliver, processor=processor, context=context
    )

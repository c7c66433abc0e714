"""notify_providers: the notifications queue's consumer. Each record tells one provider client
that one of its reports changed status (its webhook, if it has one); a record that fails is
retried alone, with backoff, and dead-lettered after its fifth receive (alarmed)."""

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
from hashmatch.reports.notifications import StatusNotification

processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def notify(record: SQSRecord) -> None:
    notification = StatusNotification.model_validate_json(record.body)
    bootstrap.provider_notifier().notify(
        notification,
        receive_count=int(record.attributes.approximate_receive_count),
        receipt_handle=record.receipt_handle,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=notify, processor=processor, context=context
    )

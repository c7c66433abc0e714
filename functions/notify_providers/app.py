"""notify_providers: the notifications queue's consumer. Each record tells one provider client
that one of its reports changed status (its webhook, if it has one); a record that fails is
retried alone, with backoff, and dead-lettered after its fifth receive (alarmed)."""

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.adapters.sqs_consumer import partial_batch_consumer
from hashmatch.observability import logger, traced, traced_handler
from hashmatch.reports.notifications import StatusNotification


@traced
def notify(body: str, receive_count: int, receipt_handle: str) -> None:
    bootstrap.provider_notifier().notify(
        StatusNotification.model_validate_json(body),
        receive_count=receive_count,
        receipt_handle=receipt_handle,
    )


consume = partial_batch_consumer(notify)


@logger.inject_lambda_context(clear_state=True)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume(event, context)

"""intake_reports: the reports queue's consumer. Each record is one filing; a record that fails
(unparseable, or a store that is down) is reported back alone and retried, then dead-lettered."""

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
from hashmatch.observability import logger, traced, traced_handler
from hashmatch.reports.messages import ReportMessage

processor = BatchProcessor(event_type=EventType.SQS)


@traced
def take_in(record: SQSRecord) -> None:
    filing = ReportMessage.parse(record.body).to_filing()
    bootstrap.report_intake().take_in(filing)


@logger.inject_lambda_context(clear_state=True)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=take_in, processor=processor, context=context
    )

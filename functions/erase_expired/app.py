"""Scheduled hourly: erase what is due (retention, legal holds) and write one erasure receipt
per run. A run stops while Lambda still has time left; the next run resumes it."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.observability import logger, traced_handler

# Stop taking new pages with this much of the invocation left: a page (25 items) and the receipt
# take well under a second each, so 5 s leaves room to save progress (timeout: 300 s).
RESERVE_MILLIS = 5_000


@logger.inject_lambda_context(clear_state=True)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = bootstrap.erasure().run(
        should_stop=lambda: context.get_remaining_time_in_millis() < RESERVE_MILLIS
    )
    summary = outcome.as_dict()
    logger.info("erasure run", extra=summary)
    return summary

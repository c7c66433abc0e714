"""Every 5 minutes: anchor the audit chain's head outside its table (an Object Lock bucket), so
a consistent rewrite of the table is detected by `hashmatch audit verify` (docs/audit.md)."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.observability import logger, traced_handler


@logger.inject_lambda_context(clear_state=True)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = asdict(bootstrap.audit_anchoring().anchor_head())
    logger.info("audit chain anchored", extra=outcome)
    return outcome

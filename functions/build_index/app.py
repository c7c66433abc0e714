"""Scheduled every minute: fold indicator changes into a new index snapshot (the single writer).

Invoke with {"full_rebuild": true} to rebuild from every indicator (recovery).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.errors import Conflict
from hashmatch.observability import logger, measured_handler, traced_handler


@logger.inject_lambda_context(clear_state=True)
@traced_handler
@measured_handler  # metrics flushed even when the invocation fails
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    full = bool(event.get("full_rebuild")) if isinstance(event, dict) else False
    try:
        outcome = bootstrap.index_builder().build(full=full)
    except Conflict:
        # An overlapping run replaced the snapshot first; our changes are folded next minute.
        logger.warning("index build superseded by an overlapping run")
        return {"written": False, "superseded": True}
    summary = asdict(outcome)
    logger.info("index build finished", extra=summary)
    return summary

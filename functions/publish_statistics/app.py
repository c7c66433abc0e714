"""GET /v1/audit (auditor): page through the hash-chained audit log, oldest first.

This is the design's publish_statistics function; its statistics routes come later.
"""

# No `from __future__ import annotations`: Powertools reads the route parameters' annotations
# through tracer's wrapper, whose globals cannot resolve string annotations.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.api.resolver import build_resolver
from hashmatch.audit.api import AuditPageView
from hashmatch.audit.chain import MAX_PAGE_SIZE
from hashmatch.observability import logger, traced, traced_handler

app = build_resolver()


@app.get(
    "/v1/audit",
    summary="Audit log entries from a sequence number on",
    description=(
        "Each entry carries the SHA-256 of the previous entry's canonical JSON "
        "(docs/audit.md); `hashmatch audit verify` recomputes the chain."
    ),
)
@traced
def read_audit_log(
    from_seq: Annotated[
        int, Query(alias="from", ge=1, description="The first sequence number to return")
    ] = 1,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size (1 to {MAX_PAGE_SIZE})")
    ] = 100,
) -> AuditPageView:
    return AuditPageView.of(bootstrap.audit_log().page(from_seq, limit))


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

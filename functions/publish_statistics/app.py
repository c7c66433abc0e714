"""publish_statistics: GET /v1/statistics and GET /v1/audit (auditor), and the yearly
transparency report (its schedule publishes last year's once the year has ended; an event
``{"year": 2026}`` publishes that year on demand).
"""

# No `from __future__ import annotations`: Powertools reads the route parameters' annotations
# through tracer's wrapper, whose globals cannot resolve string annotations.
from datetime import date
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.api.resolver import build_resolver
from hashmatch.audit.api import AuditPageView
from hashmatch.audit.chain import MAX_PAGE_SIZE
from hashmatch.observability import logger, traced, traced_handler
from hashmatch.statistics.api import StatisticsView
from hashmatch.statistics.model import ALL_DIMENSIONS
from hashmatch.statistics.query import Period, counts_csv

app = build_resolver()
CSV_TYPE = "text/csv; charset=utf-8"


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


@app.get(
    "/v1/statistics",
    summary="Counters summed over a period, as JSON or (Accept: text/csv) CSV",
    description=(
        "Every counter of the days `from` to `to` (UTC, both included), or of one `dimension`, "
        "summed; `indicators_active` is the count at the end of `to`. No personal data. "
        "Dimensions: " + ", ".join(ALL_DIMENSIONS) + " (docs/transparency.md)."
    ),
    responses={
        200: {
            "description": "The counters of the period",
            "content": {
                "application/json": {"model": StatisticsView},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
@traced
def read_statistics(
    period_from: Annotated[date, Query(alias="from", description="First day (YYYY-MM-DD)")],
    period_to: Annotated[
        date,
        Query(alias="to", description="Last day (YYYY-MM-DD); before `from`, the period is empty"),
    ],
    dimension: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only this dimension",
            json_schema_extra={"enum": list(ALL_DIMENSIONS)},
        ),
    ] = None,
) -> Response[Any]:
    counts = bootstrap.statistics_query().counts(
        Period(period_from, period_to), [dimension] if dimension else None
    )
    accept = next((v for k, v in app.current_event.headers.items() if k.lower() == "accept"), "")
    if "text/csv" in (accept or "").lower():
        return Response(status_code=200, content_type=CSV_TYPE, body=counts_csv(counts))
    return Response(
        status_code=200,
        content_type="application/json",
        body=StatisticsView.of(counts).model_dump_json(by_alias=True),
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "httpMethod" in event:
        return app.resolve(event, context)
    service = bootstrap.transparency()
    year = event.get("year") if isinstance(event, dict) else None
    publication = service.publish(int(year)) if year is not None else service.publish_due()
    if publication is None:
        return {"published": None}
    return {"published": publication.year, "sha256": publication.digest}

"""The curator API: add, import, read, revoke, suspend and reinstate indicators (role curator)."""

# No `from __future__ import annotations`: Powertools reads the route parameters' annotations
# through tracer's wrapper, whose globals cannot resolve string annotations.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.api.resolver import build_resolver, current_principal
from hashmatch.indicators.api import (
    BatchResponse,
    IndicatorBatchRequest,
    IndicatorView,
    ReinstateRequest,
    RevokeRequest,
    SuspendRequest,
    batch_response,
    batch_status,
)
from hashmatch.observability import logger, traced, traced_handler

app = build_resolver()


@app.post("/v1/indicators")
@traced
def add_indicators(request: Annotated[IndicatorBatchRequest, Body()]) -> Response[BatchResponse]:
    curator = current_principal(app).client_id
    result = bootstrap.indicator_service().add_batch(request.items, submitted_by=curator)
    status = batch_status(result)
    return _json(status, batch_response(result, position="index"))


@app.post("/v1/indicators/import")
@traced
def import_indicators() -> Response[BatchResponse]:
    curator = current_principal(app).client_id
    event = app.current_event
    content_type = event.headers.get("content-type") or ""
    result = bootstrap.indicator_service().import_rows(
        event.decoded_body or "", content_type, submitted_by=curator
    )
    status = batch_status(result)
    return _json(status, batch_response(result, position="line"))


@app.get("/v1/indicators/<id>")
@traced
def get_indicator(id: str) -> IndicatorView:
    curator = current_principal(app).client_id
    return IndicatorView.of(bootstrap.indicator_service().read(id, by=curator))


@app.delete("/v1/indicators/<id>")
@traced
def revoke_indicator(id: str, request: Annotated[RevokeRequest, Body()]) -> IndicatorView:
    curator = current_principal(app).client_id
    revoked = bootstrap.indicator_service().revoke(id, reason=request.reason, by=curator)
    logger.info("indicator revoked", extra={"indicator_id": id})
    return IndicatorView.of(revoked)


@app.post("/v1/indicators/<id>/suspend")
@traced
def suspend_indicator(id: str, request: Annotated[SuspendRequest, Body()]) -> IndicatorView:
    curator = current_principal(app).client_id
    suspended = bootstrap.indicator_service().suspend(id, reason=request.reason, by=curator)
    return IndicatorView.of(suspended)


@app.post("/v1/indicators/<id>/reinstate")
@traced
def reinstate_indicator(
    id: str,
    request: Annotated[ReinstateRequest, Body()],
) -> IndicatorView:
    curator = current_principal(app).client_id
    reinstated = bootstrap.indicator_service().reinstate(id, reason=request.reason, by=curator)
    return IndicatorView.of(reinstated)


def _json(status: int, body: BatchResponse) -> Response[BatchResponse]:
    return Response(status_code=int(status), content_type=content_types.APPLICATION_JSON, body=body)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

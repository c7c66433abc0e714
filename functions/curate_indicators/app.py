"""The curator API: add, import, read, revoke, suspend and reinstate indicators (role curator)."""

# No `from __future__ import annotations`: Powertools reads the route parameters' annotations
# through tracer's wrapper, whose globals cannot resolve string annotations.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.api.resolver import build_resolver, current_principal
from hashmatch.errors import InvalidInput
from hashmatch.indicators.api import (
    BatchResponse,
    IndicatorBatchRequest,
    IndicatorReviewList,
    IndicatorView,
    ReinstateRequest,
    RevokeRequest,
    SuspendRequest,
    batch_response,
    batch_status,
)
from hashmatch.indicators.service import MAX_PAGE_SIZE
from hashmatch.observability import logger, tracer

app = build_resolver()


@app.post("/v1/indicators")
@tracer.capture_method
def add_indicators(request: Annotated[IndicatorBatchRequest, Body()]) -> Response[BatchResponse]:
    curator = current_principal(app).client_id
    result = bootstrap.indicator_service().add_batch(request.items, submitted_by=curator)
    status = batch_status(result)
    return _json(status, batch_response(result, position="index"))


@app.post("/v1/indicators/import")
@tracer.capture_method
def import_indicators() -> Response[BatchResponse]:
    curator = current_principal(app).client_id
    event = app.current_event
    content_type = event.headers.get("content-type") or ""
    result = bootstrap.indicator_service().import_rows(
        event.decoded_body or "", content_type, submitted_by=curator
    )
    status = batch_status(result)
    return _json(status, batch_response(result, position="line"))


@app.get(
    "/v1/indicators",
    summary="Indicators to re-verify: disputed by reports decided manifestly unfounded",
    description=(
        "Only `needs_review=true` is served: the indicators that review decisions found wrong "
        "or not matching, longest waiting first, with how many reports disputed each. Revoking "
        "or reinstating an indicator takes it off the list. Audited as a read."
    ),
)
@tracer.capture_method
def indicators_to_review(
    needs_review: Annotated[bool, Query(description="Must be true")],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")] = 50,
    next: Annotated[
        str | None, Query(max_length=2048, description="The `next` cursor of the previous page")
    ] = None,
) -> IndicatorReviewList:
    if not needs_review:
        raise InvalidInput(
            "only the re-verification list is served: ask for needs_review=true",
            errors=[{"loc": ["query", "needs_review"], "msg": "must be true"}],
        )
    curator = current_principal(app).client_id
    page = bootstrap.indicator_service().needs_review(by=curator, limit=limit, cursor=next)
    return IndicatorReviewList.of(page)


@app.get("/v1/indicators/<id>")
@tracer.capture_method
def get_indicator(id: str) -> IndicatorView:
    curator = current_principal(app).client_id
    return IndicatorView.of(bootstrap.indicator_service().read(id, by=curator))


@app.delete("/v1/indicators/<id>")
@tracer.capture_method
def revoke_indicator(id: str, request: Annotated[RevokeRequest, Body()]) -> IndicatorView:
    curator = current_principal(app).client_id
    revoked = bootstrap.indicator_service().revoke(id, reason=request.reason, by=curator)
    logger.info("indicator revoked", extra={"indicator_id": id})
    return IndicatorView.of(revoked)


@app.post("/v1/indicators/<id>/suspend")
@tracer.capture_method
def suspend_indicator(id: str, request: Annotated[SuspendRequest, Body()]) -> IndicatorView:
    curator = current_principal(app).client_id
    suspended = bootstrap.indicator_service().suspend(id, reason=request.reason, by=curator)
    return IndicatorView.of(suspended)


@app.post("/v1/indicators/<id>/reinstate")
@tracer.capture_method
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
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

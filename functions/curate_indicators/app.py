"""The curator API: add, import, read, revoke, suspend and reinstate indicators (role curator)."""

# No `from __future__ import annotations`: Powertools reads the route parameters' annotations
# through tracer's wrapper, whose globals cannot resolve string annotations.
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.api.openapi import json_response, problem_response
from hashmatch.api.paging import NextCursor, cursor_not_issued
from hashmatch.api.resolver import build_resolver, current_principal
from hashmatch.indicators.api import (
    BatchResponse,
    IndicatorBatchRequest,
    IndicatorReviewList,
    IndicatorView,
    NegativeIndicatorRequest,
    NegativeIndicatorResponse,
    ReinstateRequest,
    RevokeRequest,
    SuspendRequest,
    batch_response,
    batch_status,
)
from hashmatch.indicators.importing import IMPORT_BODIES
from hashmatch.indicators.service import MAX_PAGE_SIZE, CuratorScope
from hashmatch.observability import logger, traced, traced_handler

app = build_resolver()
BATCH_WITH_REFUSALS = (
    "Some or all items refused, each with its faults (nothing changed for them); the others stored"
)
app.accept_media_types("POST", "/v1/indicators/import", IMPORT_BODIES)


@app.post(
    "/v1/indicators",
    summary="Add indicators with their provenance",
    responses={
        200: json_response("Every item stored, or found stored already", BatchResponse),
        207: json_response(BATCH_WITH_REFUSALS, BatchResponse),
    },
)
@traced
def add_indicators(request: Annotated[IndicatorBatchRequest, Body()]) -> Response[BatchResponse]:
    curator = current_principal(app)
    result = bootstrap.indicator_service().add_batch(
        request.submitted(), submitted_by=curator.client_id, scope=CuratorScope.of(curator)
    )
    status = batch_status(result)
    return _json(status, batch_response(result, position="index"))


@app.post(
    "/v1/indicators/import",
    summary="Import indicators from CSV or JSON lines (at most 1,000 rows)",
    responses={
        200: json_response("Every item stored, or found stored already", BatchResponse),
        207: json_response(BATCH_WITH_REFUSALS, BatchResponse),
    },
)
@traced
def import_indicators() -> Response[BatchResponse]:
    curator = current_principal(app)
    event = app.current_event
    content_type = event.headers.get("content-type") or ""
    result = bootstrap.indicator_service().import_rows(
        event.decoded_body or "",
        content_type,
        submitted_by=curator.client_id,
        scope=CuratorScope.of(curator),
    )
    status = batch_status(result)
    return _json(status, batch_response(result, position="line"))


@app.post(
    "/v1/indicators/negative",
    summary="Add negative indicators: hashes that must never produce a match",
    description=(
        "For benign images that false-match (grids, lattices, flat gradients). A query within "
        "the threshold of a negative indicator is no match in any database, even when it is "
        "near an indicator too (counted as `negative_suppressions`). Remove one with `DELETE "
        "/v1/indicators/{id}`. Near-duplicate types only; audited."
    ),
    responses={
        200: json_response("Every item stored, or found stored", NegativeIndicatorResponse),
        207: json_response(
            "Some or all items refused (a hash not of its type, outside your scope), each with "
            "its faults; the others stored",
            NegativeIndicatorResponse,
        ),
    },
)
@traced
def add_negative_indicators(
    request: Annotated[NegativeIndicatorRequest, Body()],
) -> Response[NegativeIndicatorResponse]:
    curator = current_principal(app)
    results = bootstrap.negative_indicators().add(
        request.items, by=curator.client_id, scope=CuratorScope.of(curator)
    )
    body = NegativeIndicatorResponse.of(results)
    return Response(
        status_code=int(body.status), content_type=content_types.APPLICATION_JSON, body=body
    )


@app.get(
    "/v1/indicators",
    summary="Indicators to re-verify: disputed by reports decided manifestly unfounded",
    description=(
        "Only `needs_review=true` is served: the indicators that review decisions found wrong "
        "or not matching, longest waiting first, with how many reports disputed each. Revoking "
        "or reinstating an indicator takes it off the list. Audited as a read."
    ),
    responses={
        200: json_response("One page of the re-verification list", IndicatorReviewList),
        404: cursor_not_issued(),
    },
)
@traced
def indicators_to_review(
    # Only the re-verification list is served, so the schema admits the text `true` alone (a
    # query string is text: a JSON boolean constant would refuse what clients send).
    needs_review: Annotated[Literal["true"], Query(description="Must be `true`")],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")] = 50,
    next: NextCursor = None,
) -> IndicatorReviewList:
    curator = current_principal(app).client_id
    page = bootstrap.indicator_service().needs_review(by=curator, limit=limit, cursor=next)
    return IndicatorReviewList.of(page)


@app.get("/v1/indicators/<id>")
@traced
def get_indicator(id: str) -> IndicatorView:
    curator = current_principal(app)
    indicator = bootstrap.indicator_service().read(
        id, by=curator.client_id, scope=CuratorScope.of(curator)
    )
    return IndicatorView.of(indicator)


@app.delete(
    "/v1/indicators/<id>",
    summary="Revoke an indicator: it never matches again",
    responses={
        200: json_response("The indicator as it is now", IndicatorView),
        409: problem_response("The indicator cannot be revoked from its status"),
    },
)
@traced
def revoke_indicator(id: str, request: Annotated[RevokeRequest, Body()]) -> IndicatorView:
    curator = current_principal(app)
    revoked = bootstrap.indicator_service().revoke(
        id, reason=request.reason, by=curator.client_id, scope=CuratorScope.of(curator)
    )
    logger.info("indicator revoked", extra={"indicator_id": id})
    return IndicatorView.of(revoked)


@app.post(
    "/v1/indicators/<id>/suspend",
    summary="Suspend an indicator: it does not match until reinstated",
    responses={
        200: json_response("The indicator as it is now", IndicatorView),
        409: problem_response("Only an active indicator can be suspended"),
    },
)
@traced
def suspend_indicator(id: str, request: Annotated[SuspendRequest, Body()]) -> IndicatorView:
    curator = current_principal(app)
    suspended = bootstrap.indicator_service().suspend(
        id, reason=request.reason, by=curator.client_id, scope=CuratorScope.of(curator)
    )
    return IndicatorView.of(suspended)


@app.post(
    "/v1/indicators/<id>/reinstate",
    summary="Reinstate a suspended indicator",
    responses={
        200: json_response("The indicator as it is now", IndicatorView),
        409: problem_response("Only a suspended indicator can be reinstated"),
    },
)
@traced
def reinstate_indicator(
    id: str,
    request: Annotated[ReinstateRequest, Body()],
) -> IndicatorView:
    curator = current_principal(app)
    reinstated = bootstrap.indicator_service().reinstate(
        id, reason=request.reason, by=curator.client_id, scope=CuratorScope.of(curator)
    )
    return IndicatorView.of(reinstated)


def _json(status: int, body: BatchResponse) -> Response[BatchResponse]:
    return Response(status_code=int(status), content_type=content_types.APPLICATION_JSON, body=body)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

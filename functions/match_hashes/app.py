"""POST /v1/match (provider): a batch of up to 1,000 hashes in, matches out."""

# No `from __future__ import annotations`: Powertools reads the route's annotations at runtime.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.api.openapi import json_response
from hashmatch.api.resolver import build_resolver, current_principal
from hashmatch.matching.api import MatchRequest, MatchResponse, match_response_body
from hashmatch.matching.limits import MAX_IDEMPOTENCY_KEY_LENGTH
from hashmatch.observability import logger, measured_handler, metrics, traced, traced_handler

app = build_resolver()


# The answer is written as JSON text (match_response_body: 1,000 items as pydantic models cost
# ~10 ms); the decorator documents its model.
@app.post(
    "/v1/match",
    responses={200: json_response("Successful Response", MatchResponse)},
)
@traced
def match_hashes(
    request: Annotated[MatchRequest, Body()],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
            description=(
                "Names the batch: a retry with the same key is answered again but counted once "
                "in the statistics (hashmatch scan sends one per batch)"
            ),
        ),
    ] = None,
) -> Response[str]:
    request_key = idempotency_key or f"request:{app.current_event.request_context.request_id}"
    result = bootstrap.match_service().match(
        current_principal(app), request.to_domain(), request_key=request_key
    )
    matched = sum(1 for item in result.items if item.matches)
    metrics.add_metric(name="QueriesReceived", unit=MetricUnit.Count, value=len(result.items))
    metrics.add_metric(name="QueriesMatched", unit=MetricUnit.Count, value=matched)
    logger.info(
        "batch matched",
        extra={"items": len(result.items), "matched": matched, "index": result.index_version},
    )
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=match_response_body(
            result, bands=bootstrap.distance_bands(), disclosure=bootstrap.provider_disclosure()
        ),
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@traced_handler
@measured_handler  # metrics flushed even when the invocation fails
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

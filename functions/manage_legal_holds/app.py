"""Legal holds (reviewer or auditor): place one, list the current ones, release one."""

# No `from __future__ import annotations`: Powertools reads the route parameters' annotations
# through tracer's wrapper, whose globals cannot resolve string annotations.
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.api.openapi import json_response, problem_response
from hashmatch.api.resolver import build_resolver, current_principal
from hashmatch.observability import logger, traced, traced_handler
from hashmatch.retention.api import LegalHoldList, LegalHoldView
from hashmatch.retention.holds import LegalHoldRequest

app = build_resolver()


@app.post(
    "/v1/legal-holds",
    status_code=HTTPStatus.CREATED,
    summary="Suspend the erasure of a report, match event or indicator provenance",
    description=(
        "Names the requesting authority and its reference; `until` must lie within "
        "LegalHoldMaxDays (18 months by default). Audited."
    ),
    responses={
        201: json_response("The hold", LegalHoldView),
        404: problem_response("No such target to hold (never existed, or erased)"),
    },
)
@traced
def place_legal_hold(request: LegalHoldRequest) -> Response[LegalHoldView]:
    hold = bootstrap.legal_hold_service().place(current_principal(app), request)
    logger.info("legal hold placed", extra={"hold_id": hold.hold_id})
    return Response(
        status_code=HTTPStatus.CREATED,
        content_type="application/json",
        body=LegalHoldView.of(hold),
    )


@app.get("/v1/legal-holds", summary="The current legal holds (released ones until erasure acts)")
@traced
def list_legal_holds() -> LegalHoldList:
    holds = bootstrap.legal_hold_service().list_current()
    return LegalHoldList(holds=[LegalHoldView.of(hold) for hold in holds])


@app.delete(
    "/v1/legal-holds/<id>",
    summary="Release a legal hold: its target is erased at the next run if it is due",
    responses={
        200: json_response("The released hold", LegalHoldView),
        409: problem_response("The hold was released already"),
    },
)
@traced
def release_legal_hold(id: str) -> LegalHoldView:
    hold = bootstrap.legal_hold_service().release(current_principal(app), id)
    logger.info("legal hold released", extra={"hold_id": hold.hold_id})
    return LegalHoldView.of(hold)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""review_reports (reviewer): the queue, a report with its evidence, claims, decisions, four
eyes and information requests (Art. 48; docs/review.md).

No `from __future__ import annotations` in route modules: Powertools reads the route
functions' annotations at runtime to validate and document requests and responses.
"""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.api.openapi import json_response
from hashmatch.api.paging import NextCursor, cursor_not_issued
from hashmatch.api.problems import PROBLEM_CONTENT_TYPE, Problem
from hashmatch.api.resolver import build_resolver, current_principal
from hashmatch.indicators.model import Database
from hashmatch.observability import logger, traced, traced_handler
from hashmatch.reports.model import ContentType
from hashmatch.reports.ports import QueueQuery
from hashmatch.reports.review import (
    DEFAULT_QUEUE_PAGE,
    MAX_QUEUE_PAGE,
    QueueStatus,
    queue_status_of,
)
from hashmatch.reports.review_requests import DecisionRequest, InformationRequestBody
from hashmatch.reports.review_schemas import (
    ClaimReleased,
    ClaimView,
    InformationRequestView,
    ReviewOutcome,
    ReviewQueuePage,
    ReviewReportView,
)

app = build_resolver()

_CONFLICT: dict[int, OpenAPIResponse] = {
    409: {
        "description": "Not allowed in the report's current status (named in `errors`), "
        "claimed by another reviewer, or your own decision to confirm",
        "content": {PROBLEM_CONTENT_TYPE: {"model": Problem}},
    }
}


@app.get(
    "/v1/review/queue",
    summary="Reports to review: urgent first, then oldest first",
    description=(
        "Undecided (`stored`) reports unless `status` asks for another part of the workflow "
        "(`awaiting_confirmation`: forwardings waiting for a second reviewer; `forwarded`: with "
        "their deliveries). Each entry shows its age and who holds a claim on it."
    ),
    responses={
        200: json_response("One page of the queue", ReviewQueuePage),
        404: cursor_not_issued(),
    },
)
@traced
def review_queue(
    status: Annotated[QueueStatus | None, Query(description="Default: stored")] = None,
    database: Annotated[
        Database | None, Query(description="Only reports with a match in it")
    ] = None,
    media_type: Annotated[
        ContentType | None, Query(description="The reported content's type")
    ] = None,
    member_state: Annotated[
        str | None, Query(pattern=r"^[A-Z]{2}$", description="The suspected Member State")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_QUEUE_PAGE, description=f"Page size (1 to {MAX_QUEUE_PAGE})")
    ] = DEFAULT_QUEUE_PAGE,
    next: NextCursor = None,
) -> ReviewQueuePage:
    service = bootstrap.review_service()
    query = QueueQuery(
        status=queue_status_of(status),
        limit=limit,
        cursor=next,
        database=database.value if database else None,
        media_type=media_type.value if media_type else None,
        member_state=member_state,
    )
    return ReviewQueuePage.of(service.queue(query), service.now)


@app.get(
    "/v1/review/reports/<id>",
    summary="A report with its match events and the cited indicators' provenance (audited)",
)
@traced
def review_report(id: str) -> ReviewReportView:
    service = bootstrap.review_service()
    return ReviewReportView.of(service.detail(current_principal(app), id), service.now)


@app.post(
    "/v1/review/reports/<id>/claim",
    summary="Claim the report (a lease, ReviewClaimLeaseMinutes): nobody else decides it",
    responses={
        200: {"description": "Your claim", "content": {"application/json": {"model": ClaimView}}},
        **_CONFLICT,
    },
)
@traced
def claim_report(id: str) -> ClaimView:
    claim = bootstrap.review_service().claim(current_principal(app), id)
    return ClaimView.of(id, claim)


@app.delete(
    "/v1/review/reports/<id>/claim",
    summary="Release your claim on the report",
    responses={
        200: {"description": "Released", "content": {"application/json": {"model": ClaimReleased}}},
        **_CONFLICT,
    },
)
@traced
def release_claim(id: str) -> ClaimReleased:
    released = bootstrap.review_service().release(current_principal(app), id)
    return ClaimReleased(report_id=id, released=released)


@app.post(
    "/v1/review/reports/<id>/information-request",
    status_code=HTTPStatus.CREATED,
    summary="Ask the provider a question: the report waits (awaiting_provider) for the answer",
    responses={
        201: {
            "description": "The question, now open",
            "content": {"application/json": {"model": InformationRequestView}},
        },
        **_CONFLICT,
    },
)
@traced
def request_information(
    id: str, request: Annotated[InformationRequestBody, Body()]
) -> Response[InformationRequestView]:
    asked = bootstrap.review_service().request_information(current_principal(app), id, request)
    return Response(
        status_code=HTTPStatus.CREATED,
        content_type="application/json",
        body=InformationRequestView.of(id, asked),
    )


@app.post(
    "/v1/reports/<id>/decision",
    summary="Decide: manifestly unfounded (with reasons) or forward",
    description=(
        "Forwarding a report whose matches are all in the `new` or `solicitation` databases "
        "waits for a second reviewer (`awaiting_confirmation`); any other forwarding goes to "
        "Europol and the competent Member State at once. A report is decided once; one that "
        "another reviewer holds a claim on cannot be decided (409)."
    ),
    responses={
        200: {
            "description": "The report after the decision",
            "content": {"application/json": {"model": ReviewOutcome}},
        },
        **_CONFLICT,
    },
)
@traced
def decide_report(id: str, decision: Annotated[DecisionRequest, Body()]) -> ReviewOutcome:
    decided = bootstrap.review_service().decide(current_principal(app), id, decision)
    logger.info("report decided", extra={"report_id": id, "status": decided.status.value})
    return ReviewOutcome.of(decided)


@app.post(
    "/v1/reports/<id>/decision/confirm",
    summary="Four eyes: confirm another reviewer's decision to forward the report",
    responses={
        200: {
            "description": "Forwarded",
            "content": {"application/json": {"model": ReviewOutcome}},
        },
        **_CONFLICT,
    },
)
@traced
def confirm_decision(id: str) -> ReviewOutcome:
    return ReviewOutcome.of(bootstrap.review_service().confirm(current_principal(app), id))


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

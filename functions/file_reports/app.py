"""POST /v1/reports, GET /v1/reports/{id}, GET /v1/reports?status= and the answer to an
information request, POST /v1/reports/{id}/information (provider, own reports only).

No `from __future__ import annotations` in route modules: Powertools reads the route
functions' annotations at runtime to validate and document requests and responses.
"""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.api.openapi import json_response, problem_response
from hashmatch.api.paging import NextCursor, cursor_not_issued
from hashmatch.api.problems import PROBLEM_CONTENT_TYPE, Problem
from hashmatch.api.resolver import build_resolver, current_principal
from hashmatch.observability import logger, traced, traced_handler
from hashmatch.reports.model import ReportDetails, ReportStatus
from hashmatch.reports.review_requests import InformationAnswer
from hashmatch.reports.schemas import ReportAccepted, ReportList, ReportView
from hashmatch.reports.service import (
    DEFAULT_PAGE_SIZE,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MAX_PAGE_SIZE,
)

app = build_resolver()


@app.post(
    "/v1/reports",
    status_code=HTTPStatus.ACCEPTED,
    summary="File a report about matched content",
    description=(
        "Queues the report for intake and answers 202 with its id; `Location` names it. "
        "Every match id must be one of yours and still retained (404 names each one that is "
        "not) and cited by no other report (409 names it and the report citing it): of "
        "concurrent filings citing one match, one is filed. With `Idempotency-Key`, a retry "
        "gets the first answer (the request compared as it means: defaults filled in, match "
        "ids as the indicators they matched); a key that filed a different report is 409 "
        "`idempotency-key-reused` naming that report in `report_id`."
    ),
    responses={
        202: json_response(
            "Queued for intake (GET the `Location` once intake has stored it)", ReportAccepted
        ),
        404: problem_response("A match id is unknown, expired or not yours (each one named)"),
        409: {
            "description": (
                "A match id is cited by another report (`conflict`), a filing with this "
                "Idempotency-Key is in progress (`conflict`: retry shortly), or the key filed "
                "another report (`idempotency-key-reused`, naming it in `report_id`)"
            ),
            "content": {PROBLEM_CONTENT_TYPE: {"model": Problem}},
        },
    },
)
@traced
def post_report(
    report: ReportDetails,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
            description="Makes a retry return the same report id (remembered for 24 hours)",
        ),
    ] = None,
) -> Response[ReportAccepted]:
    receipt = bootstrap.report_service().file(current_principal(app), report, idempotency_key)
    logger.info("report filed", extra={"report_id": receipt.report_id})
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type="application/json",
        body=ReportAccepted.of(receipt),
        headers={"Location": _location_of(receipt.report_id)},
    )


@app.get("/v1/reports/<id>", summary="One of your reports, with its status history")
@traced
def get_report(id: str) -> ReportView:
    return ReportView.of(bootstrap.report_service().get(current_principal(app), id))


@app.get(
    "/v1/reports",
    summary="Your reports, newest first, optionally of one status",
    responses={
        200: json_response("One page of your reports", ReportList),
        404: cursor_not_issued(),
    },
)
@traced
def list_reports(
    status: Annotated[ReportStatus | None, Query(description="Only reports in this status")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size (1 to {MAX_PAGE_SIZE})")
    ] = DEFAULT_PAGE_SIZE,
    next: NextCursor = None,
) -> ReportList:
    page = bootstrap.report_service().list(
        current_principal(app), status=status, limit=limit, cursor=next
    )
    return ReportList.of(page)


@app.post(
    "/v1/reports/<id>/information",
    summary="Answer the Centre's question about one of your reports",
    description=(
        "Answers the open information request (`information_request` of GET "
        "/v1/reports/{id}); the report goes back to the review queue. 409 if the report has no "
        "open request (it is not `awaiting_provider`)."
    ),
    responses={
        409: {
            "description": "The report is not awaiting your answer (its status is named)",
            "content": {PROBLEM_CONTENT_TYPE: {"model": Problem}},
        }
    },
)
@traced
def answer_information_request(id: str, answer: Annotated[InformationAnswer, Body()]) -> ReportView:
    report = bootstrap.information_answers().answer(current_principal(app), id, answer)
    logger.info("information provided", extra={"report_id": id})
    return ReportView.of(report)


def _location_of(report_id: str) -> str:
    """The report's URL path as the caller sees it (with the API stage prefix, if any)."""
    event = app.current_event
    base = str((event.get("requestContext") or {}).get("path") or event.path)
    return f"{base.rstrip('/')}/{report_id}"


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Lets the idempotency record of a filing expire with this invocation if it dies mid-way.
    bootstrap.report_service().idempotency.register_lambda_context(context)
    return app.resolve(event, context)

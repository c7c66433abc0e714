"""RFC 9457 problem details: the body of every error the API returns."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from hashmatch.errors import (
    Conflict,
    DependencyUnavailable,
    Forbidden,
    HashmatchError,
    InvalidInput,
    NotFound,
    Throttled,
    Unauthorized,
)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:hashmatch:problem:"

# Status per error class: the one place domain errors meet HTTP. Most specific class first.
_STATUS_BY_ERROR: tuple[tuple[type[HashmatchError], HTTPStatus], ...] = (
    (InvalidInput, HTTPStatus.UNPROCESSABLE_ENTITY),
    (NotFound, HTTPStatus.NOT_FOUND),
    (Conflict, HTTPStatus.CONFLICT),
    (Unauthorized, HTTPStatus.UNAUTHORIZED),
    (Forbidden, HTTPStatus.FORBIDDEN),
    (DependencyUnavailable, HTTPStatus.SERVICE_UNAVAILABLE),
    (Throttled, HTTPStatus.TOO_MANY_REQUESTS),
)


class ProblemItem(BaseModel):
    """One specific fault, e.g. one bad item of a batch."""

    loc: list[str | int] = Field(default_factory=list, description="Where: field path or index")
    msg: str = Field(description="What is wrong")


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(description="A URI naming the kind of problem (urn:hashmatch:problem:...)")
    title: str
    status: int
    detail: str
    errors: list[ProblemItem] = Field(default_factory=list)
    report_id: str | None = Field(
        default=None,
        description="idempotency-key-reused: the report this Idempotency-Key filed",
        pattern=r"^rp_[0-9a-f]{24}$",
    )


def status_of(error: HashmatchError) -> HTTPStatus:
    for error_class, status in _STATUS_BY_ERROR:
        if isinstance(error, error_class):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def problem_response(
    status: HTTPStatus,
    *,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    report_id: str | None = None,
) -> Response[str]:
    problem = Problem(
        type=PROBLEM_TYPE_PREFIX + code,
        title=title,
        status=int(status),
        detail=detail,
        errors=[_problem_item(item) for item in errors or []],
        report_id=report_id,
    )
    return Response(
        status_code=int(status),
        content_type=PROBLEM_CONTENT_TYPE,
        body=json.dumps(problem.model_dump(mode="json", exclude_none=True)),
        headers=headers or {},
    )


def _problem_item(item: dict[str, Any]) -> ProblemItem:
    """Domain errors carry {"loc": [...], "msg": "..."} items; anything else is kept readable."""
    location = item.get("loc")
    message = item.get("msg")
    if isinstance(location, list) and isinstance(message, str):
        return ProblemItem(loc=[p for p in location if isinstance(p, str | int)], msg=message)
    details = ", ".join(f"{key}={value}" for key, value in item.items() if key != "loc")
    return ProblemItem(loc=location if isinstance(location, list) else [], msg=details)


def error_response(error: HashmatchError) -> Response[str]:
    headers = {}
    if isinstance(error, DependencyUnavailable | Throttled):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return problem_response(
        status_of(error),
        code=error.code,
        title=error.title,
        detail=error.detail,
        errors=error.errors,
        headers=headers,
        report_id=getattr(error, "report_id", None),
    )

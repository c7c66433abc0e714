"""Paging: the `next` cursor query parameter every listing takes, and its 404, written once.

A cursor is opaque base64url text (adapters/dynamodb_cursors.py); one that a listing did not
issue names no page of it, so it is 404, not 422.
"""

# No `from __future__ import annotations`: Powertools reads these annotations at runtime.
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from hashmatch.api.openapi import problem_response

CURSOR_PATTERN = r"^[A-Za-z0-9_-]+={0,2}$"
MAX_CURSOR_LENGTH = 2048

NextCursor = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        max_length=MAX_CURSOR_LENGTH,
        description="The `next` cursor of the previous page (404 if it was not issued for "
        "this listing)",
    ),
]


def cursor_not_issued() -> OpenAPIResponse:
    return problem_response("The `next` cursor was not issued for this listing")

"""Domain errors become RFC 9457 problem+json with the right status, whatever their items hold."""

from __future__ import annotations

import json

import pytest

from hashmatch.api.problems import PROBLEM_CONTENT_TYPE, error_response
from hashmatch.errors import (
    Conflict,
    DependencyUnavailable,
    Forbidden,
    InvalidHash,
    NotFound,
    Unauthorized,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidHash("bad"), 422),
        (NotFound("gone"), 404),
        (Conflict("clash"), 409),
        (Unauthorized("who"), 401),
        (Forbidden("no"), 403),
        (DependencyUnavailable("later"), 503),
    ],
)
def test_each_error_class_has_its_status(error, status):
    response = error_response(error)

    assert response.status_code == status
    assert response.content_type == PROBLEM_CONTENT_TYPE
    body = json.loads(response.body or "")
    assert body["status"] == status
    assert body["type"] == f"urn:hashmatch:problem:{error.code}"


def test_items_name_where_the_fault_is():
    error = InvalidHash("1 bad item", errors=[{"loc": ["items", 3, "value"], "msg": "not hex"}])

    body = json.loads(error_response(error).body or "")

    assert body["errors"] == [{"loc": ["items", 3, "value"], "msg": "not hex"}]


def test_items_of_another_shape_still_render_instead_of_failing():
    error = InvalidHash("bad", errors=[{"type": "pdq", "reason": "length", "length": 63}])

    body = json.loads(error_response(error).body or "")

    assert body["errors"] == [{"loc": [], "msg": "type=pdq, reason=length, length=63"}]


def test_a_retryable_failure_says_when_to_retry():
    response = error_response(DependencyUnavailable("queue down", retry_after_seconds=5))

    assert response.headers["Retry-After"] == "5"

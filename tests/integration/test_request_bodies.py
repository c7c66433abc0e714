"""Every JSON route takes one JSON object in UTF-8, and refuses anything else with problem+json.

Regression tests of issue 11, items 2 (no silent truncation), 3 (no 5xx from any input), 6
(content types as documented) and 14 (`Cache-Control: no-store` on authenticated answers). The
body gate sits in the one resolver (hashmatch.api.resolver), so each case runs on every route
that takes a body.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.build_index import app as build_index
from functions.curate_indicators import app as curate_indicators
from functions.file_reports import app as file_reports
from functions.manage_legal_holds import app as manage_legal_holds
from functions.match_hashes import app as match_hashes
from tests.integration.conftest import api_event

# One deployment for the module: refusals change nothing, and the answers that get past the
# gate only read.
pytestmark = pytest.mark.usefixtures("shared_deployment")
ALL = {"databases": "known,new,solicitation", "hash_types": "pdq,phash,dhash,md5,sha1,sha256"}
PROVIDER = {
    "client_id": "cl_" + "a" * 24,
    "role": "provider",
    "organisation_id": "org_" + "a" * 24,
    "owner": "Example",
    **ALL,
}
CURATOR = {**PROVIDER, "client_id": "cl_" + "c" * 24, "role": "curator"}
REVIEWER = {**PROVIDER, "client_id": "cl_" + "d" * 24, "role": "reviewer"}
SOME_INDICATOR = "ind_" + "0" * 22
JSON_ROUTES = [
    pytest.param(match_hashes, "POST", "/v1/match", PROVIDER, id="match"),
    pytest.param(file_reports, "POST", "/v1/reports", PROVIDER, id="reports"),
    pytest.param(curate_indicators, "POST", "/v1/indicators", CURATOR, id="indicators"),
    pytest.param(curate_indicators, "DELETE", "/v1/indicators/{id}", CURATOR, id="revoke"),
    pytest.param(curate_indicators, "POST", "/v1/indicators/{id}/suspend", CURATOR, id="suspend"),
    pytest.param(
        curate_indicators, "POST", "/v1/indicators/{id}/reinstate", CURATOR, id="reinstate"
    ),
    pytest.param(manage_legal_holds, "POST", "/v1/legal-holds", REVIEWER, id="legal-holds"),
]


def send(
    function: Any,
    method: str,
    resource: str,
    principal: dict[str, str],
    context: Any,
    body: str | None,
    content_type: str | None = "application/json",
) -> dict[str, Any]:
    path = resource.replace("{id}", SOME_INDICATOR)
    headers = {} if content_type is None else {"Content-Type": content_type}
    event = api_event(
        method,
        resource,
        path=path,
        principal=principal,
        body=body,
        path_parameters={"id": SOME_INDICATOR} if "{id}" in resource else None,
    )
    # api_event sets a JSON Content-Type; these tests choose their own (or none).
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    return function.lambda_handler(event, context)


def problem(response: dict[str, Any]) -> tuple[int, str]:
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    return response["statusCode"], json.loads(response["body"])["type"].rsplit(":", 1)[-1]


@pytest.mark.parametrize(("function", "method", "resource", "principal"), JSON_ROUTES)
@pytest.mark.parametrize(
    "body", ['[{"items": []}, {"items": []}]', "[]", "17", '"text"', "null", "true"]
)
def test_a_body_that_is_not_one_json_object_is_422_on_every_json_route(
    function, method, resource, principal, lambda_context, body
):
    response = send(function, method, resource, principal, lambda_context, body)

    assert problem(response) == (422, "invalid-request")
    assert "one JSON object" in json.loads(response["body"])["detail"]


@pytest.mark.parametrize(("function", "method", "resource", "principal"), JSON_ROUTES)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"a": ' * 1000 + "1" + "}" * 1000, id="1000-levels-of-objects"),
        pytest.param('{"items": ' + "[" * 1000 + "]" * 1000 + "}", id="1000-levels-of-arrays"),
        pytest.param('{"items": [' * 40 + "]}" * 40, id="40-levels"),
        pytest.param('{"quality": ' + "9" * 5000 + "}", id="5000-digit-integer"),
        pytest.param('{"quality": NaN}', id="NaN"),
    ],
)
def test_deep_nesting_and_huge_numbers_are_422_not_a_server_error(
    function, method, resource, principal, lambda_context, body
):
    response = send(function, method, resource, principal, lambda_context, body)

    assert problem(response) == (422, "invalid-request")


@pytest.mark.parametrize(("function", "method", "resource", "principal"), JSON_ROUTES)
@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/xml",
        "text/xml",
        None,
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
    ],
)
def test_a_body_in_another_media_type_or_charset_is_415_problem_json(
    function, method, resource, principal, lambda_context, content_type
):
    response = send(function, method, resource, principal, lambda_context, "{}", content_type)

    assert problem(response) == (415, "unsupported-media-type")


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", 'application/json; charset="UTF-8"']
)
def test_json_in_utf_8_said_explicitly_is_accepted(lambda_context, content_type):
    build_index.lambda_handler({}, lambda_context)  # matching fails closed without an index
    body = json.dumps({"items": [{"type": "md5", "value": "0" * 32}]})

    response = send(match_hashes, "POST", "/v1/match", PROVIDER, lambda_context, body, content_type)

    assert response["statusCode"] == 200


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_an_import_takes_only_csv_or_json_lines(lambda_context, content_type):
    response = send(
        curate_indicators,
        "POST",
        "/v1/indicators/import",
        CURATOR,
        lambda_context,
        '{"hash_type": "md5"}',
        content_type,
    )

    assert problem(response) == (415, "unsupported-media-type")


def test_a_json_line_nested_too_deeply_is_refused_by_its_line(lambda_context):
    body = '{"a": ' * 1000 + "1" + "}" * 1000

    response = send(
        curate_indicators,
        "POST",
        "/v1/indicators/import",
        CURATOR,
        lambda_context,
        body,
        "application/x-ndjson",
    )

    assert response["statusCode"] in (207, 422)
    assert "nested" in response["body"]


@pytest.mark.parametrize(
    ("function", "method", "resource", "principal", "body"),
    [
        (match_hashes, "POST", "/v1/match", PROVIDER, '{"items": []}'),
        (file_reports, "GET", "/v1/reports", PROVIDER, None),
        (curate_indicators, "GET", "/v1/indicators/{id}", CURATOR, None),
        (manage_legal_holds, "GET", "/v1/legal-holds", REVIEWER, None),
        (match_hashes, "POST", "/v1/match", PROVIDER, "[1]"),
    ],
)
def test_every_authenticated_answer_says_no_store(
    function, method, resource, principal, body, lambda_context
):
    response = send(function, method, resource, principal, lambda_context, body)

    assert response["multiValueHeaders"]["Cache-Control"] == ["no-store"]

"""The local stack's API Gateway: routes, API Gateway's own answers, the authorizer hook."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hashmatch_devtools.localstack.stack import LocalStack
from tests.integration.local_stack_fixture import FIXTURE_TEMPLATE
from tests.integration.local_stack_fixture.functions.authorize import app as test_authorizer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        FIXTURE_TEMPLATE,
        api_port=0,
        run_schedules=False,
        run_pollers=False,
        state_directory=tmp_path_factory.mktemp("state"),
    ) as running:
        yield running


def _get(stack: LocalStack, path: str, token: str | None = None, **kwargs: Any) -> Any:
    headers = {"Authorization": token} if token else {}
    return requests.get(stack.api_url + path, headers=headers, timeout=10, **kwargs)


def _fresh_token(label: str = "ok") -> str:
    # A token nobody used yet, so no cached authorizer answer interferes.
    return f"Bearer {label}-{uuid.uuid4()}"


def test_path_parameters_and_query_reach_the_handler(stack: LocalStack) -> None:
    response = _get(stack, "/items/42?tag=a&tag=b", _fresh_token())

    assert response.status_code == 200
    echoed = response.json()
    assert (echoed["resource"], echoed["pathParameters"]) == ("/items/{id}", {"id": "42"})
    assert echoed["query"] == {"tag": "b"}
    assert echoed["multiQuery"] == {"tag": ["a", "b"]}


def test_literal_route_wins_over_a_path_parameter(stack: LocalStack) -> None:
    response = _get(stack, "/items/special", _fresh_token())

    assert response.json()["resource"] == "/items/special"


def test_greedy_path_parameter_takes_the_rest_of_the_path(stack: LocalStack) -> None:
    response = _get(stack, "/public/a/b/c.txt")

    assert response.json()["pathParameters"] == {"proxy": "a/b/c.txt"}


def test_handler_response_headers_and_lambda_context_come_through(stack: LocalStack) -> None:
    response = _get(stack, "/public/x")

    echoed = response.json()
    assert response.headers["X-Echo"] == "1"
    assert echoed["functionName"] == "hashmatch-local-EchoFunction"
    assert echoed["memory"] == 256
    assert 0 < echoed["remainingMs"] <= 9000


def test_powertools_resolver_accepts_the_proxy_event(stack: LocalStack) -> None:
    response = _get(stack, "/greet/ada?lang=en")

    assert response.status_code == 200
    assert response.json() == {"greeting": "hello ada", "lang": "en"}


def test_text_body_arrives_as_text_and_binary_body_as_base64(stack: LocalStack) -> None:
    token = _fresh_token()
    headers = {"Authorization": token}

    text = requests.post(
        stack.api_url + "/items", json={"a": 1}, headers=headers, timeout=10
    ).json()
    binary = requests.post(
        stack.api_url + "/items",
        data=b"\x89PNG\x00\xff",
        headers={**headers, "Content-Type": "image/png"},
        timeout=10,
    ).json()

    assert (text["body"], text["isBase64Encoded"]) == ('{"a": 1}', False)
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x89PNG\x00\xff"


def test_unknown_path_gets_api_gateways_403(stack: LocalStack) -> None:
    response = _get(stack, "/nowhere")

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert response.headers["Content-Type"] == "application/json"


def test_unknown_method_on_a_known_path_gets_api_gateways_403(stack: LocalStack) -> None:
    response = requests.delete(stack.api_url + "/items/42", timeout=10)

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_missing_authorization_header_is_401_without_calling_the_authorizer(
    stack: LocalStack,
) -> None:
    calls_before = len(test_authorizer.calls)

    response = _get(stack, "/items/1")

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert len(test_authorizer.calls) == calls_before


def test_authorizer_raising_unauthorized_gives_401(stack: LocalStack) -> None:
    response = _get(stack, "/items/1", "Bearer unknown")

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_authorizer_failing_otherwise_gives_500(stack: LocalStack) -> None:
    broken = _get(stack, "/items/1", "Bearer broken")
    malformed = _get(stack, "/items/1", "Bearer malformed")

    assert (broken.status_code, broken.json()) == (500, {"message": None})
    assert (malformed.status_code, malformed.json()) == (500, {"message": None})


def test_deny_policy_gives_403(stack: LocalStack) -> None:
    response = _get(stack, "/items/1", "Bearer denied")

    assert response.status_code == 403
    assert response.json() == {"Message": "User is not authorized to access this resource"}


def test_allowed_caller_reaches_the_handler_with_the_authorizer_context(
    stack: LocalStack,
) -> None:
    response = _get(stack, "/items/7", _fresh_token())

    assert response.status_code == 200
    assert response.json()["authorizer"] == {
        "principalId": "client-1",
        "role": "provider",
        "quota": "3",
        "active": "true",
    }


def test_authorizer_receives_the_token_and_the_method_arn(stack: LocalStack) -> None:
    token = _fresh_token()

    _get(stack, "/items/7", token)

    assert test_authorizer.calls[-1] == token
    assert stack.gateways[0].method_arn("GET", "/items/7") == (
        "arn:aws:execute-api:eu-central-1:123456789012:local/test/GET/items/7"
    )


def test_authorizer_answer_is_cached_per_token(stack: LocalStack) -> None:
    token = _fresh_token()

    _get(stack, "/items/1", token)
    _get(stack, "/items/2", token)

    assert test_authorizer.calls.count(token) == 1


def test_cached_policy_decides_routes_it_does_not_cover(stack: LocalStack) -> None:
    # Given a token whose policy admits GET /items/* only, cached after a first call
    stack.gateways[0].clear_authorizer_cache()
    allowed = _get(stack, "/items/1", "Bearer items-only")

    # When the same token posts, within the cache TTL
    refused = requests.post(
        stack.api_url + "/items", headers={"Authorization": "Bearer items-only"}, timeout=10
    )

    # Then API Gateway's cached policy refuses it without asking the authorizer again
    assert (allowed.status_code, refused.status_code) == (200, 403)
    assert test_authorizer.calls.count("Bearer items-only") == 1


def test_a_caller_over_its_usage_plans_burst_gets_429_with_retry_after(stack: LocalStack) -> None:
    token = _fresh_token("throttled")  # a plan of rate 1/s and burst 2 meters this caller

    answers = [_get(stack, "/items/1", token) for _ in range(4)]
    other = _get(stack, "/items/1", _fresh_token("throttled"))

    assert [answer.status_code for answer in answers[:2]] == [200, 200]
    refused = answers[-1]
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too Many Requests"}
    assert int(refused.headers["Retry-After"]) >= 1
    assert other.status_code == 200  # each caller has its own bucket


def test_a_caller_no_usage_plan_meters_is_not_throttled(stack: LocalStack) -> None:
    token = _fresh_token()

    assert {_get(stack, "/items/1", token).status_code for _ in range(5)} == {200}


def test_a_body_over_api_gateways_10_mb_is_refused_with_413(stack: LocalStack) -> None:
    response = requests.post(
        stack.api_url + "/items",
        data=b"x" * (10 * 1024 * 1024 + 1),
        headers={"Authorization": _fresh_token(), "Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 413
    assert response.json() == {"message": "Request Too Long"}

"""The authorizer and the health function, in-process against the template's tables in moto."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from functions.authorize import app as authorize
from functions.check_health import app as check_health
from hashmatch import __version__, bootstrap
from hashmatch.access.model import Role, usage_key_of
from hashmatch.access.routes import policy_routes
from hashmatch.observability import logger
from tests.factories import in_new_organisation
from tests.integration.conftest import api_event

METHOD_ARN = "arn:aws:execute-api:eu-central-1:123456789012:abc123/local/GET/v1/whoami"


def token_event(header: str) -> dict[str, str]:
    return {"type": "TOKEN", "authorizationToken": header, "methodArn": METHOD_ARN}


def create_client(role: Role = Role.PROVIDER, days: int = 30):
    return bootstrap.client_service().create(
        role=role,
        organisation_id=in_new_organisation(bootstrap.client_service(), "Example Hosting SA"),
        purpose="integration test",
        legal_basis="test",
        valid_for=timedelta(days=days),
        databases=("known",),
    )


def allowed_resources(answer: dict) -> list[str]:
    return [
        resource
        for statement in answer["policyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        for resource in statement["Resource"]
    ]


@pytest.mark.usefixtures("deployment")
def test_a_valid_key_is_allowed_exactly_the_routes_of_its_role(lambda_context):
    created = create_client(Role.PROVIDER)

    answer = authorize.lambda_handler(token_event(f"Bearer {created.api_key}"), lambda_context)

    assert answer["principalId"] == created.client.client_id
    assert answer["context"]["role"] == "provider"
    assert answer["usageIdentifierKey"] == usage_key_of(created.client.client_id)
    prefix = "arn:aws:execute-api:eu-central-1:123456789012:abc123/local"
    assert sorted(allowed_resources(answer)) == sorted(
        f"{prefix}/{method}{path}" for method, path in policy_routes(Role.PROVIDER)
    )


@pytest.mark.usefixtures("deployment")
@pytest.mark.parametrize("header", ["", "Bearer hm_not-a-key", "Basic Zm9vOmJhcg=="])
def test_a_missing_or_unknown_key_is_unauthorized(lambda_context, header):
    create_client()

    with pytest.raises(authorize.AuthorizerUnauthorized, match=r"^Unauthorized$"):
        authorize.lambda_handler(token_event(header), lambda_context)


@pytest.mark.usefixtures("deployment")
def test_a_revoked_client_is_denied_every_route(lambda_context):
    created = create_client()
    bootstrap.client_service().revoke(created.client.client_id)

    answer = authorize.lambda_handler(token_event(f"Bearer {created.api_key}"), lambda_context)

    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    prefix = "arn:aws:execute-api:eu-central-1:123456789012:abc123/local"
    assert statement["Resource"] == [f"{prefix}/*/*"]


def test_health_names_the_version_without_authentication(deployment, lambda_context):
    response = check_health.lambda_handler(api_event("GET", "/v1/health"), lambda_context)

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {
        "status": "ok",
        "service": "hashmatch",
        "version": __version__,
        "stage": "local",
    }


@pytest.mark.usefixtures("deployment")
def test_whoami_returns_the_principal_the_authorizer_resolved(lambda_context):
    created = create_client(Role.AUDITOR)
    answer = authorize.lambda_handler(token_event(f"Bearer {created.api_key}"), lambda_context)

    response = check_health.lambda_handler(
        api_event("GET", "/v1/whoami", principal=answer["context"]), lambda_context
    )

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["client_id"] == created.client.client_id
    assert json.loads(response["body"])["role"] == "auditor"


@pytest.mark.usefixtures("deployment")
def test_a_handler_refuses_a_call_without_a_principal_as_problem_json(lambda_context):
    response = check_health.lambda_handler(api_event("GET", "/v1/whoami"), lambda_context)

    assert response["statusCode"] == 403
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    assert json.loads(response["body"])["type"] == "urn:hashmatch:problem:forbidden"


@pytest.mark.usefixtures("deployment")
def test_a_callers_log_keys_do_not_leak_into_the_next_invocation(lambda_context):
    created = create_client(Role.AUDITOR)
    answer = authorize.lambda_handler(token_event(f"Bearer {created.api_key}"), lambda_context)
    check_health.lambda_handler(
        api_event("GET", "/v1/whoami", principal=answer["context"]), lambda_context
    )

    check_health.lambda_handler(api_event("GET", "/v1/health"), lambda_context)

    assert "client_id" not in logger.get_current_keys()

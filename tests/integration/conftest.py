"""Integration fixtures: the template's stores created in-process by moto's `mock_aws`.

The stores come from template.yaml itself (hashmatch_devtools.localstack.resources), and the
environment each function gets is the one the template gives it, so handlers run here as in Lambda.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from hashmatch import bootstrap
from hashmatch.adapters.aws import clear_client_cache
from hashmatch.settings import clear_settings_cache
from hashmatch_devtools.localstack.api_gateway import ApiGateway
from hashmatch_devtools.localstack.inprocess import InProcessStores, provision_in_process
from hashmatch_devtools.localstack.resources import ProvisionedStores
from hashmatch_operators.deployment import local_operator_settings
from tests.permissions import RECORDER

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-central-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "hashmatch-it"
AWS_TEST_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "hashmatch",
}


@dataclass(frozen=True)
class Deployment:
    stores: ProvisionedStores
    environment: dict[str, str]
    provisioned: InProcessStores

    def physical_id(self, logical_id: str) -> str:
        return self.stores.resources[logical_id].physical_id

    def api_gateway(self) -> ApiGateway:
        """The template's API as the local stack emulates it (authorizer included)."""
        return self.provisioned.api_gateway()


class FakeLambdaContext:
    function_name = "integration-test"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:integration-test"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/integration-test"
    log_stream_name = "integration-test"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def _use_aws_test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in AWS_TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws_test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process environment for moto in-process: test credentials, the region, no endpoint."""
    _use_aws_test_environment(monkeypatch)


@contextmanager
def _deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    _use_aws_test_environment(monkeypatch)
    with mock_aws():
        provisioned = provision_in_process(
            ROOT / "template.yaml",
            region=REGION,
            stack_name=STACK_NAME,
            parameter_overrides={"Stage": "local"},
        )
        stores, environment = provisioned.stores, provisioned.environment
        RECORDER.know(stores.resources)
        physical_ids = {name: resource.physical_id for name, resource in stores.resources.items()}
        # The operator commands' settings too (the organisations table is no function's).
        environment = {**environment, **local_operator_settings(physical_ids)}
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        _forget_wiring()
        try:
            yield Deployment(stores=stores, environment=environment, provisioned=provisioned)
        finally:
            _forget_wiring()


@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """template.yaml's stores in mock_aws, and the process environment its functions get."""
    with _deployed(monkeypatch) as deployed:
        yield deployed


@pytest.fixture(scope="module")
def shared_deployment() -> Iterator[Deployment]:
    """The same, once per module: for tests that only read, or whose writes cannot meet."""
    with pytest.MonkeyPatch.context() as monkeypatch, _deployed(monkeypatch) as deployed:
        yield deployed


def _forget_wiring() -> None:
    clear_settings_cache()
    clear_client_cache()
    bootstrap.reset()


def api_event(
    method: str,
    resource: str,
    *,
    path: str | None = None,
    principal: dict[str, str] | None = None,
    body: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the authorizer-fronted API would deliver it."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return {
        "resource": resource,
        "path": path or resource,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "stage": "local",
            "requestId": "it-request",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {**principal, "principalId": principal["client_id"]}
            if principal
            else None,
        },
        "body": body,
        "isBase64Encoded": False,
    }

"""Per-client throttling: a created client's usage key joins its role's usage plan (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hashmatch.access.model import Role
from hashmatch.access.service import ClientService
from hashmatch.adapters.apigateway_usage_plans import ApiGatewayUsagePlans
from hashmatch.clock import FixedClock
from tests.factories import in_new_organisation
from tests.fakes import InMemoryAuditLog, InMemoryClientStore, InMemoryOrganisationStore

REGION = "eu-central-1"


@pytest.fixture
def apigateway(aws_test_environment: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("apigateway", region_name=REGION)


def plan(apigateway: Any, name: str) -> str:
    return str(apigateway.create_usage_plan(name=name, throttle={"rateLimit": 10})["id"])


def test_each_role_is_enrolled_in_its_plan_and_revocation_disables_the_key(apigateway):
    providers, staff = plan(apigateway, "providers"), plan(apigateway, "staff")
    plans = {
        Role.PROVIDER: providers,
        Role.CURATOR: staff,
        Role.REVIEWER: staff,
        Role.AUDITOR: staff,
    }
    service = ClientService(
        InMemoryClientStore(),
        FixedClock(datetime(2026, 1, 1, tzinfo=UTC)),
        InMemoryAuditLog(),
        ApiGatewayUsagePlans(apigateway, plans),
        organisations=InMemoryOrganisationStore(),
    )

    provider = service.create(
        role=Role.PROVIDER,
        organisation_id=in_new_organisation(service, "Example Hosting SA"),
        purpose="p",
        legal_basis="l",
        valid_for=timedelta(days=30),
    ).client
    curator = service.create(
        role=Role.CURATOR,
        organisation_id=in_new_organisation(service, "Centre"),
        purpose="p",
        legal_basis="l",
        valid_for=timedelta(days=30),
    ).client

    def key_values(plan_id: str) -> set[str]:
        keys = apigateway.get_usage_plan_keys(usagePlanId=plan_id)["items"]
        return {key["value"] for key in keys}

    assert key_values(providers) == {provider.usage_key}
    assert key_values(staff) == {curator.usage_key}

    service.revoke(provider.client_id)

    (key,) = apigateway.get_api_keys(nameQuery=provider.client_id, includeValues=True)["items"]
    assert key["enabled"] is False

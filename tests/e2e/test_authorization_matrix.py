"""Every route x every kind of caller, over HTTP through the authorizer, as API Gateway answers.

Admitted callers reach the handler (whatever it then says about the empty request, it is never
401, 403 or a 5xx); everyone else is stopped at the gateway with 401 or 403.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from hashmatch import bootstrap
from hashmatch.access.model import Role
from hashmatch.access.routes import PUBLIC, ROUTE_ROLES
from hashmatch_devtools.localstack.stack import LocalStack
from tests.factories import in_new_organisation

ROUTES = sorted(ROUTE_ROLES)
CALLERS = [role.value for role in Role] + ["no key", "unknown key", "expired", "revoked"]


@pytest.fixture(scope="module")
def keys(local_stack: LocalStack) -> dict[str, str | None]:
    service = bootstrap.client_service()

    def create(role: Role, days: int = 1) -> tuple[str, str]:
        created = service.create(
            role=role,
            organisation_id=in_new_organisation(service, f"Matrix {role.value}"),
            purpose="authorization matrix",
            legal_basis="test",
            valid_for=timedelta(days=days),
            databases=("known",),
            hash_types=("pdq",),
        )
        return created.client.client_id, created.api_key

    keys: dict[str, str | None] = {role.value: create(role)[1] for role in Role}
    keys["no key"] = None
    keys["unknown key"] = "hm_never-issued-never-issued-never-issued-00"
    revoked_id, keys["revoked"] = create(Role.PROVIDER)
    service.revoke(revoked_id)
    keys["expired"] = create(Role.PROVIDER)[1]
    return keys


def expected(route: tuple[str, str], caller: str) -> str:
    roles = ROUTE_ROLES[route]
    if roles == PUBLIC:
        return "handler"
    if caller in ("no key", "unknown key"):
        return "401"
    if caller in ("expired", "revoked"):
        return "403"
    return "handler" if Role(caller) in roles else "403"


def call(stack: LocalStack, route: tuple[str, str], key: str | None) -> requests.Response:
    method, resource = route
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body: dict[str, object] | None = {} if method in ("POST", "DELETE") else None
    url = stack.api_url + resource.replace("{id}", "ind_unknown").replace("{year}", "2024")
    return requests.request(method, url, headers=headers, json=body, timeout=30)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_each_caller_gets_what_the_route_table_says(local_stack, keys, route, caller):
    if caller == "expired":
        # Expired for the authorizer: move the stack's clock past the one-day validity.
        local_stack.set_clock_offset(timedelta(days=2).total_seconds())
    try:
        response = call(local_stack, route, keys[caller])
    finally:
        local_stack.set_clock_offset(0)

    outcome = expected(route, caller)
    if outcome == "handler":
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == int(outcome), response.text

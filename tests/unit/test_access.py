"""API clients: keys stored as digests, authentication outcomes, the route-role table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hashmatch.access.model import Principal, Role, digest_key
from hashmatch.access.routes import PUBLIC, ROUTE_ROLES, policy_routes, roles_for
from hashmatch.access.service import ClientService
from hashmatch.clock import FixedClock
from hashmatch.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from tests.factories import in_new_organisation
from tests.fakes import InMemoryAuditLog, InMemoryClientStore, InMemoryOrganisationStore

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def store() -> InMemoryClientStore:
    return InMemoryClientStore()


@pytest.fixture
def service(store: InMemoryClientStore, clock: FixedClock) -> ClientService:
    return ClientService(
        store, clock, InMemoryAuditLog(clock), organisations=InMemoryOrganisationStore()
    )


def create_provider(service: ClientService, days: int = 30, organisation: str | None = None):
    return service.create(
        role=Role.PROVIDER,
        organisation_id=organisation or in_new_organisation(service, "Example Hosting SA"),
        purpose="detect known material on uploads",
        legal_basis="Regulation (EU) 2021/1232 Art. 3",
        valid_for=timedelta(days=days),
        databases=("known",),
        hash_types=("pdq", "md5"),
    )


def test_the_key_is_stored_only_as_its_sha256_digest(service, store):
    created = create_provider(service)

    stored = store.get(created.client.client_id)
    assert stored is not None
    assert stored.key_digest == digest_key(created.api_key)
    assert created.api_key not in stored.model_dump_json()


def test_a_valid_key_yields_the_clients_principal(service):
    created = create_provider(service)

    principal = service.authenticate(f"Bearer {created.api_key}")

    assert principal == Principal(
        client_id=created.client.client_id,
        role=Role.PROVIDER,
        organisation_id=created.client.organisation_id,
        owner="Example Hosting SA",
        databases=("known",),
        hash_types=("pdq", "md5"),
    )


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer hm_unknown"])
def test_no_key_or_an_unknown_key_is_unauthorized(service, header):
    create_provider(service)

    with pytest.raises(Unauthorized):
        service.authenticate(header)


def test_an_expired_client_is_forbidden(service, clock):
    created = create_provider(service, days=1)
    clock.advance(timedelta(days=1))

    with pytest.raises(Forbidden, match="expired"):
        service.authenticate(f"Bearer {created.api_key}")


def test_a_revoked_client_is_forbidden(service):
    created = create_provider(service)
    service.revoke(created.client.client_id)

    with pytest.raises(Forbidden, match="revoked"):
        service.authenticate(f"Bearer {created.api_key}")


def test_revoking_an_unknown_client_is_not_found(service):
    with pytest.raises(NotFound):
        service.revoke("cl_" + "0" * 24)


@pytest.mark.parametrize("days", [0, 367])
def test_validity_outside_one_second_to_a_year_is_refused(service, days):
    with pytest.raises(InvalidInput):
        create_provider(service, days=days)


def test_principal_survives_the_authorizer_context_round_trip():
    principal = Principal(
        client_id="cl_" + "a" * 24,
        role=Role.CURATOR,
        organisation_id="org_" + "a" * 24,
        owner="BKA",
        databases=("known", "new"),
    )

    assert Principal.from_context(principal.to_context()) == principal


def test_every_role_has_at_least_one_route_and_public_routes_admit_no_role():
    for role in Role:
        assert policy_routes(role), f"{role} can call nothing"
    assert roles_for("GET", "/v1/health") == PUBLIC
    assert roles_for("GET", "/v1/nowhere") is None


def test_path_parameters_become_wildcards_in_the_policy(monkeypatch):
    monkeypatch.setitem(ROUTE_ROLES, ("GET", "/v1/things/{id}"), frozenset({Role.AUDITOR}))

    assert ("GET", "/v1/things/*") in policy_routes(Role.AUDITOR)
    assert ("GET", "/v1/things/*") not in policy_routes(Role.PROVIDER)


def test_two_organisations_of_the_same_name_are_two_organisations(service):
    first = create_provider(service, organisation=in_new_organisation(service, "Same Name SA"))
    second = create_provider(service, organisation=in_new_organisation(service, "Same Name SA"))

    one = service.authenticate(f"Bearer {first.api_key}")
    other = service.authenticate(f"Bearer {second.api_key}")

    assert one.owner == other.owner == "Same Name SA"
    assert one.organisation_id != other.organisation_id
    assert [o.name for o in service.list_organisations()] == ["Same Name SA", "Same Name SA"]


def test_a_client_of_an_organisation_that_does_not_exist_is_refused(service, store):
    with pytest.raises(NotFound):
        create_provider(service, organisation="org_" + "0" * 24)

    assert store.list_all() == []


def test_the_authorizer_context_carries_the_organisation_id(service):
    created = create_provider(service)

    context = service.authenticate(f"Bearer {created.api_key}").to_context()

    assert context["organisation_id"] == created.client.organisation_id

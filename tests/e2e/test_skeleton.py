"""The walking skeleton over HTTP: health, API Gateway's 403s, and the authorizer's outcomes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from hashmatch import __version__, bootstrap
from hashmatch.access.model import Role
from hashmatch_client.cli.main import main as hashmatch_cli
from hashmatch_devtools.localstack.stack import LocalStack
from tests.factories import in_new_organisation


def create_client(role: Role = Role.PROVIDER, days: int = 30) -> tuple[str, str]:
    created = bootstrap.client_service().create(
        role=role,
        organisation_id=in_new_organisation(bootstrap.client_service(), "E2E Hosting SA"),
        purpose="end-to-end test",
        legal_basis="test",
        valid_for=timedelta(days=days),
    )
    return created.client.client_id, created.api_key


def whoami(stack: LocalStack, key: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.get(f"{stack.api_url}/v1/whoami", headers=headers, timeout=10)


def test_health_is_open_and_names_the_version(local_stack):
    response = requests.get(f"{local_stack.api_url}/v1/health", timeout=10)

    assert response.status_code == 200
    assert response.json()["version"] == __version__
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/nowhere"), ("DELETE", "/v1/health"), ("GET", "/")]
)
def test_unknown_paths_and_methods_get_api_gateways_403(local_stack, method, path):
    response = requests.request(method, f"{local_stack.api_url}{path}", timeout=10)

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_a_valid_key_reaches_the_handler_with_its_principal(local_stack):
    client_id, key = create_client(Role.REVIEWER)

    response = whoami(local_stack, key)

    assert response.status_code == 200
    assert response.json()["client_id"] == client_id
    assert response.json()["role"] == "reviewer"


def test_no_key_is_401(local_stack):
    assert whoami(local_stack, None).status_code == 401


def test_an_unknown_key_is_401(local_stack):
    create_client()

    assert whoami(local_stack, "hm_this-key-was-never-issued").status_code == 401


def test_a_revoked_client_is_403(local_stack):
    client_id, key = create_client()
    bootstrap.client_service().revoke(client_id)

    assert whoami(local_stack, key).status_code == 403


def test_an_expired_client_is_403(local_stack):
    _, key = create_client(days=1)
    local_stack.set_clock_offset(timedelta(days=2).total_seconds())
    try:
        response = whoami(local_stack, key)
    finally:
        local_stack.set_clock_offset(0)

    assert response.status_code == 403


def test_the_clients_command_creates_an_organisation_and_a_client_of_it_whose_key_works(
    local_stack, capsys
):
    state = ["--state-file", str(local_stack.state_file)]
    new_organisation = ["organisations", "create", "--name", "Centre audit unit"]
    made = hashmatch_cli(["clients", *new_organisation, "--kind", "authority", *state])
    organisation = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    status = hashmatch_cli(
        [
            "clients",
            "create",
            "--role",
            "auditor",
            "--organisation",
            organisation["organisation_id"],
            "--purpose",
            "e2e",
            "--legal-basis",
            "test",
            "--state-file",
            str(local_stack.state_file),
        ]
    )

    assert (made, status) == (0, 0)
    created = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "key_digest" not in created
    response = whoami(local_stack, created["api_key"])
    assert response.json()["client_id"] == created["client_id"]
    assert response.json()["organisation_id"] == organisation["organisation_id"]
    hashmatch_cli(["clients", "organisations", "list", *state])
    listed = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert organisation in listed

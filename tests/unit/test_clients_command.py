"""`hashmatch clients`: what operators see of clients (issue 11, item 14)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from hashmatch.access.model import ApiClient, ClientStatus, Role
from hashmatch_operators import clients_command

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def a_client(**changes: object) -> ApiClient:
    client = ApiClient(
        client_id="cl_" + "a" * 24,
        key_digest="0" * 64,
        role=Role.PROVIDER,
        organisation_id="org_" + "a" * 24,
        owner="Example Hosting SA",
        purpose="p",
        legal_basis="l",
        created_at=CREATED,
        expires_at=CREATED + timedelta(days=30),
    )
    return client.model_copy(update=changes)


@pytest.mark.parametrize(
    ("client", "at", "state"),
    [
        (a_client(), CREATED + timedelta(days=1), "active"),
        (a_client(), CREATED + timedelta(days=30), "expired"),
        (a_client(status=ClientStatus.REVOKED), CREATED + timedelta(days=1), "revoked"),
        (a_client(status=ClientStatus.REVOKED), CREATED + timedelta(days=90), "revoked"),
    ],
)
def test_a_listed_client_shows_whether_it_is_active_expired_or_revoked(client, at, state):
    described = clients_command.describe_client(client, at)

    assert described["state"] == state
    assert "key_digest" not in described


def test_revoke_help_says_a_cached_key_keeps_working_for_the_authorizer_cache_time(capsys):
    parser = argparse.ArgumentParser(prog="hashmatch")
    clients_command.register(parser.add_subparsers())

    with pytest.raises(SystemExit):
        parser.parse_args(["clients", "revoke", "--help"])

    help_text = " ".join(capsys.readouterr().out.split())
    assert "AuthorizerCacheSeconds" in help_text
    assert "keeps working" in help_text

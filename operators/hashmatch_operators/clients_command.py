"""`hashmatch clients create|list|revoke`: manage API clients (an operator command)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import timedelta

from hashmatch.access.model import ApiClient, Role
from hashmatch.errors import HashmatchError
from hashmatch_operators.deployment import (
    DeploymentNotFound,
    add_deployment_arguments,
    use_deployment,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("clients", help="create, list and revoke API clients")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a client and print its key (once)")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--owner", required=True, help="the provider or authority it belongs to")
    create.add_argument("--purpose", required=True, help="why it may call the API")
    create.add_argument("--legal-basis", required=True, help="the legal basis reference")
    create.add_argument("--valid-days", type=int, default=365, help="expiry (default 365)")
    create.add_argument(
        "--databases",
        default="known,new,solicitation",
        help="comma-separated databases it may use (default: all three)",
    )
    create.add_argument(
        "--hash-types",
        default="pdq,phash,dhash,md5,sha1,sha256",
        help="comma-separated hash types it may use (default: all)",
    )
    create.add_argument(
        "--webhook-url",
        help="providers: an HTTPS URL that is POSTed each status change of the provider's "
        "reports, signed with a secret printed once (docs/review.md)",
    )
    add_deployment_arguments(create)
    create.set_defaults(func=run_create)

    listing = actions.add_parser("list", help="list clients (never their keys)")
    add_deployment_arguments(listing)
    listing.set_defaults(func=run_list)

    revoke = actions.add_parser("revoke", help="revoke a client at once")
    revoke.add_argument("client_id")
    add_deployment_arguments(revoke)
    revoke.set_defaults(func=run_revoke)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def describe_client(client: ApiClient) -> dict[str, object]:
    return client.model_dump(mode="json", exclude={"key_digest", "webhook_secret"})


def run_create(args: argparse.Namespace) -> int:
    def create() -> int:
        from hashmatch import bootstrap

        created = bootstrap.client_service().create(
            role=Role(args.role),
            owner=args.owner,
            purpose=args.purpose,
            legal_basis=args.legal_basis,
            valid_for=timedelta(days=args.valid_days),
            databases=_split(args.databases),
            hash_types=_split(args.hash_types),
            webhook_url=args.webhook_url,
        )
        shown: dict[str, object] = {"api_key": created.api_key}
        if created.webhook_secret is not None:
            shown["webhook_secret"] = created.webhook_secret
        print(json.dumps({**describe_client(created.client), **shown}))
        print(
            "The api_key is shown once and stored only as a digest: keep it now"
            + (" (and the webhook_secret, to check signatures)." if len(shown) > 1 else "."),
            file=sys.stderr,
        )
        return 0

    return _in_deployment(args, create)


def run_list(args: argparse.Namespace) -> int:
    def listing() -> int:
        from hashmatch import bootstrap

        for client in bootstrap.client_service().list_all():
            print(json.dumps(describe_client(client)))
        return 0

    return _in_deployment(args, listing)


def run_revoke(args: argparse.Namespace) -> int:
    def revoke() -> int:
        from hashmatch import bootstrap

        client = bootstrap.client_service().revoke(args.client_id)
        print(json.dumps(describe_client(client)))
        return 0

    return _in_deployment(args, revoke)


def _in_deployment(args: argparse.Namespace, action: Callable[[], int]) -> int:
    try:
        description = use_deployment(args)
        print(f"using the {description}", file=sys.stderr)
        return action()
    except (DeploymentNotFound, HashmatchError) as error:
        print(f"hashmatch clients: {error}", file=sys.stderr)
        return 2

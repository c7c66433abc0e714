"""`hashmatch clients create|list|revoke|lift-probing-hold`: manage API clients (operators)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime, timedelta

from hashmatch.access.model import ApiClient, ClientStatus, OrganisationKind, Role
from hashmatch.clock import SystemClock
from hashmatch.errors import HashmatchError
from hashmatch_operators.deployment import (
    DeploymentNotFound,
    add_deployment_arguments,
    use_deployment,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "clients", help="create, list and revoke API clients and their organisations"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    organisations = actions.add_parser(
        "organisations", help="create and list organisations (providers and authorities)"
    )
    organisation_actions = organisations.add_subparsers(
        dest="organisation_action", metavar="ACTION", required=True
    )
    new_organisation = organisation_actions.add_parser(
        "create", help="create an organisation and print its id"
    )
    new_organisation.add_argument("--name", required=True, help="e.g. Example Hosting SA")
    new_organisation.add_argument(
        "--kind", required=True, choices=[kind.value for kind in OrganisationKind]
    )
    add_deployment_arguments(new_organisation)
    new_organisation.set_defaults(func=run_create_organisation)
    organisation_list = organisation_actions.add_parser("list", help="list organisations")
    add_deployment_arguments(organisation_list)
    organisation_list.set_defaults(func=run_list_organisations)

    create = actions.add_parser(
        "create", help="create a client of an organisation and print its key (once)"
    )
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument(
        "--organisation",
        required=True,
        metavar="ORG_ID",
        help="the organisation (org_...) it belongs to: its reports, idempotency keys and "
        "cursors are the organisation's, shared by every client of it",
    )
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

    listing = actions.add_parser(
        "list",
        help="list clients (never their keys), each with its state: active, expired, revoked",
    )
    add_deployment_arguments(listing)
    listing.set_defaults(func=run_list)

    revoke = actions.add_parser(
        "revoke",
        help="revoke a client: refused from its next authorization on",
        description=(
            "Revoke a client. Its record is marked revoked and its usage key leaves its usage "
            "plan at once, but API Gateway caches the authorizer's answer per key for "
            "AuthorizerCacheSeconds (default 60 s): a key used within that time keeps working "
            "until its cached answer expires."
        ),
    )
    revoke.add_argument("client_id")
    add_deployment_arguments(revoke)
    revoke.set_defaults(func=run_revoke)

    lift = actions.add_parser(
        "lift-probing-hold",
        help="let a client match again after probing detection suspended its matching",
        description=(
            "Lift the suspension POST /v1/match put on a client after ProbingSuspendAfter "
            "probing detections (docs/operations.md, probing-detected), and forget its count of "
            "detections. Audited."
        ),
    )
    lift.add_argument("client_id")
    add_deployment_arguments(lift)
    lift.set_defaults(func=run_lift_probing_hold)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def describe_client(client: ApiClient, now: datetime) -> dict[str, object]:
    """The record without its key digest or webhook secret, and its state now: active, expired
    or revoked."""
    state = client.status.value if client.status is ClientStatus.REVOKED else "active"
    if state == "active" and not client.is_usable_at(now):
        state = "expired"
    shown = client.model_dump(mode="json", exclude={"key_digest", "webhook_secret"})
    return {**shown, "state": state}


def run_create_organisation(args: argparse.Namespace) -> int:
    def create() -> int:
        from hashmatch import bootstrap

        organisation = bootstrap.client_service().create_organisation(
            name=args.name, kind=OrganisationKind(args.kind)
        )
        print(json.dumps(organisation.model_dump(mode="json")))
        return 0

    return _in_deployment(args, create)


def run_list_organisations(args: argparse.Namespace) -> int:
    def listing() -> int:
        from hashmatch import bootstrap

        for organisation in bootstrap.client_service().list_organisations():
            print(json.dumps(organisation.model_dump(mode="json")))
        return 0

    return _in_deployment(args, listing)


def run_create(args: argparse.Namespace) -> int:
    def create() -> int:
        from hashmatch import bootstrap

        created = bootstrap.client_service().create(
            role=Role(args.role),
            organisation_id=args.organisation,
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
        described = describe_client(created.client, SystemClock().now())
        print(json.dumps({**described, **shown}))
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

        now = SystemClock().now()
        for client in bootstrap.client_service().list_all():
            print(json.dumps(describe_client(client, now)))
        return 0

    return _in_deployment(args, listing)


def run_revoke(args: argparse.Namespace) -> int:
    def revoke() -> int:
        from hashmatch import bootstrap

        client = bootstrap.client_service().revoke(args.client_id)
        print(json.dumps(describe_client(client, SystemClock().now())))
        return 0

    return _in_deployment(args, revoke)


def run_lift_probing_hold(args: argparse.Namespace) -> int:
    def lift() -> int:
        from hashmatch import bootstrap
        from hashmatch.audit.model import AuditAction

        if not bootstrap.probing_store().lift(args.client_id):
            print(f"hashmatch clients: {args.client_id} has no probing hold", file=sys.stderr)
            return 1
        bootstrap.audit_log().record(
            AuditAction.CLIENT_PROBING_HOLD_LIFTED,
            actor="operator",
            role="operator",
            targets=[args.client_id],
        )
        print(json.dumps({"client_id": args.client_id, "probing_hold": "lifted"}))
        return 0

    return _in_deployment(args, lift)


def _in_deployment(args: argparse.Namespace, action: Callable[[], int]) -> int:
    try:
        description = use_deployment(args)
        print(f"using the {description}", file=sys.stderr)
        return action()
    except (DeploymentNotFound, HashmatchError) as error:
        print(f"hashmatch clients: {error}", file=sys.stderr)
        return 2

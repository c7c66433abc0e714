"""`hashmatch serve`: the whole service locally on embedded moto (what `make run` starts)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from hashmatch.access.model import OrganisationKind, Role

if TYPE_CHECKING:
    from hashmatch_devtools.localstack.stack import LocalStack

DEMO_VALIDITY = timedelta(days=30)
DEMO_KEYS_FILE = "demo-keys.json"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("serve", help="run the whole service locally on moto")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--port", type=int, default=3000, help="API port (default 3000)")
    parser.add_argument("--moto-port", type=int, default=0, help="moto port (default: free)")
    parser.add_argument(
        "--demo", action="store_true", help="create one demo client per role and print its key"
    )
    parser.add_argument(
        "--no-schedules",
        action="store_true",
        help="do not run scheduled functions on their timers (on demand only)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="discard the data kept from earlier runs and start with empty stores",
    )
    parser.add_argument(
        "--state-directory",
        type=Path,
        help="where the stores' data is kept between runs (default: .local-stack beside the "
        "template)",
    )
    parser.set_defaults(func=run)


def create_demo_clients(stack: LocalStack, provider_webhook: str | None = None) -> dict[Role, str]:
    """One organisation and one client per role, with every database and hash type; returns
    each role's key. Points this process's operator settings at the stack (for its lifetime)."""
    from hashmatch import bootstrap
    from hashmatch.hashtypes import HASH_TYPES
    from hashmatch.indicators.model import Database
    from hashmatch.settings import clear_settings_cache
    from hashmatch_operators.deployment import local_operator_settings

    os.environ.update(
        local_operator_settings(
            {name: resource.physical_id for name, resource in stack.resources.items()}
        )
    )
    clear_settings_cache()
    service = bootstrap.client_service()
    keys = {}
    for role in Role:
        kind = OrganisationKind.PROVIDER if role is Role.PROVIDER else OrganisationKind.AUTHORITY
        organisation = service.create_organisation(name=f"Demo {role.value}", kind=kind)
        created = service.create(
            role=role,
            organisation_id=organisation.organisation_id,
            purpose="local demonstration",
            legal_basis="none (local stack)",
            valid_for=DEMO_VALIDITY,
            databases=tuple(database.value for database in Database),
            hash_types=tuple(HASH_TYPES),
            webhook_url=provider_webhook if role is Role.PROVIDER else None,
        )
        keys[role] = created.api_key
    return keys


def demo_keys(
    directory: Path, *, restored: bool, create: Callable[[], dict[Role, str]]
) -> dict[Role, str]:
    """The demo clients' keys: those kept from the run that created them when the stores were
    restored (only digests are stored, so the keys themselves are kept beside the state, for
    this machine's owner only), otherwise new clients made by ``create``."""
    path = directory / DEMO_KEYS_FILE
    if restored and path.is_file():
        return {Role(role): key for role, key in json.loads(path.read_text()).items()}
    keys = create()
    directory.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({role.value: key for role, key in keys.items()}, handle)
    return keys


def run(args: argparse.Namespace) -> int:
    # Imported here so that other commands never import moto.
    from hashmatch_devtools import fake_recipients
    from hashmatch_devtools.localstack.banner import describe
    from hashmatch_devtools.localstack.logs import enable_request_log
    from hashmatch_devtools.localstack.stack import LocalStack

    stop = threading.Event()
    # Europol, the Member States' authorities and providers' webhooks, faked on this machine.
    # On the port after the API's (when that is fixed), so the demo provider's webhook URL,
    # kept with the restored stores, still reaches it after a restart.
    recipients = fake_recipients.FakeRecipients(port=args.port + 1 if args.port else 0).start()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    stack = LocalStack(
        args.template.resolve(),
        api_port=args.port,
        moto_port=args.moto_port,
        parameter_overrides={"Stage": "local", **fake_recipients.parameter_overrides(recipients)},
        run_schedules=not args.no_schedules,
        state_directory=args.state_directory.resolve() if args.state_directory else None,
        persist=True,
        fresh=args.fresh,
    )
    enable_request_log()
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        fake_recipients.install(stack, recipients)
        print(describe(stack), flush=True)
        print(
            f"\nFake recipients (forwarded reports, providers' webhooks): {recipients.base_url}"
            f"\n  curl -s {recipients.base_url}/_local/recipients    (what each one received)"
            f"\n  curl -s {recipients.base_url}/_local/webhooks",
            flush=True,
        )
        if args.demo:
            keys = demo_keys(
                stack.saved_state.path.parent,
                restored=stack.restored,
                create=lambda: create_demo_clients(stack, recipients.webhook_url("demo-provider")),
            )
            print("\nDemo clients (kept with the stores' data until --fresh):")
            for role, key in keys.items():
                print(f"  {role.value:9} {key}")
            provider_key = keys[Role.PROVIDER]
            print(
                f"\n  curl -s -H 'Authorization: Bearer {provider_key}' {stack.api_url}/v1/whoami"
            )
            print(json.dumps({role.value: key for role, key in keys.items()}), file=sys.stderr)
        print("\nPress Ctrl-C to stop.", flush=True)
        stop.wait()
    finally:
        print("\nstopping the local stack ...", flush=True)
        stack.stop()
        recipients.stop()
        print("stopped.", flush=True)
    return 0

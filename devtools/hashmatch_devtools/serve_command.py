"""`hashmatch serve`: the whole service locally on embedded moto (what `make run` starts)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path
from types import FrameType

from hashmatch.access.model import Role

DEMO_VALIDITY = timedelta(days=30)


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
    parser.set_defaults(func=run)


def create_demo_clients(provider_webhook: str | None = None) -> dict[Role, str]:
    """One client per role, with every database and hash type; returns each role's key."""
    from hashmatch import bootstrap
    from hashmatch.hashtypes import HASH_TYPES
    from hashmatch.indicators.model import Database

    service = bootstrap.client_service()
    keys = {}
    for role in Role:
        created = service.create(
            role=role,
            owner=f"Demo {role.value}",
            purpose="local demonstration",
            legal_basis="none (local stack)",
            valid_for=DEMO_VALIDITY,
            databases=tuple(database.value for database in Database),
            hash_types=tuple(HASH_TYPES),
            webhook_url=provider_webhook if role is Role.PROVIDER else None,
        )
        keys[role] = created.api_key
    return keys


def run(args: argparse.Namespace) -> int:
    # Imported here so that other commands never import moto.
    from hashmatch_devtools import fake_recipients
    from hashmatch_devtools.localstack.banner import describe
    from hashmatch_devtools.localstack.logs import enable_request_log
    from hashmatch_devtools.localstack.stack import LocalStack

    stop = threading.Event()
    # Europol, the Member States' authorities and providers' webhooks, faked on this machine.
    recipients = fake_recipients.FakeRecipients().start()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    stack = LocalStack(
        args.template.resolve(),
        api_port=args.port,
        moto_port=args.moto_port,
        parameter_overrides={"Stage": "local", **fake_recipients.parameter_overrides(recipients)},
        run_schedules=not args.no_schedules,
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
            keys = create_demo_clients(recipients.webhook_url("demo-provider"))
            print("\nDemo clients (keys are shown once):")
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

"""Where a command finds the API and its key: --endpoint and --api-key, or the environment."""

from __future__ import annotations

import argparse
import os
from typing import Any

ENDPOINT_VARIABLE = "HASHMATCH_ENDPOINT"
API_KEY_VARIABLE = "HASHMATCH_API_KEY"


class UsageError(Exception):
    """The command was called wrongly (exit status 2)."""


def add_connection_arguments(parser: argparse.ArgumentParser, *, role: str) -> None:
    parser.add_argument(
        "--endpoint",
        default=os.environ.get(ENDPOINT_VARIABLE),
        help=f"the API's base URL (default ${ENDPOINT_VARIABLE})",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_VARIABLE),
        help=f"a {role}'s API key (default ${API_KEY_VARIABLE}; prefer the variable)",
    )


def client_of(args: argparse.Namespace) -> Any:
    from hashmatch_client.sdk import HashmatchClient  # requests only when a command runs

    if not args.endpoint or not args.api_key:
        raise UsageError(
            f"give --endpoint and --api-key (or {ENDPOINT_VARIABLE}, {API_KEY_VARIABLE})"
        )
    return HashmatchClient(args.endpoint, args.api_key)

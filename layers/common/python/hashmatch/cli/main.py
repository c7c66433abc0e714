"""Entry point of the `hashmatch` command.

Each subcommand lives in its own module under ``hashmatch.cli`` and exposes
``register(subparsers) -> None``; it sets ``func`` (returning the exit status) on its parser.
Every module is imported to build the parser, so a command module imports what its work needs
(boto3, Powertools, moto, PIL) inside its functions: then `hashmatch hash` never loads moto, and
Powertools' Logger is not built before `serve` has set the functions' environment.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hashmatch import __version__

# One line per subcommand module, in the order `hashmatch --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "hashmatch.cli.serve_command",
    "hashmatch.cli.clients_command",
    "hashmatch.cli.hash_command",
    "hashmatch.cli.scan_command",
    "hashmatch.cli.indicators_command",
    "hashmatch.cli.evaluate_command",
    "hashmatch.cli.audit_command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hashmatch",
        description="Hash-only matching against the EU Centre's indicator databases.",
    )
    parser.add_argument("--version", action="version", version=f"hashmatch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())

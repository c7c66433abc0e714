"""Entry point of the `hashmatch` command.

Each package registers its own subcommands as entry points of the group ``hashmatch.commands``
(pyproject.toml): the provider client (`hash`, `scan`, `indicators`), the operators' tools
(`clients`, `audit`) and the development tools (`serve`, `evaluate`). A subcommand module
exposes ``register(subparsers) -> None`` and sets ``func`` (returning the exit status) on its
parser. A module that cannot be imported because its package's extra is not installed (a
provider's plain `pip install` has no AWS SDK) still appears, and says what to install.

A command module imports what its work needs (boto3, Powertools, moto, PIL) inside its
functions: then `hashmatch hash` never loads moto, and Powertools' Logger is not built before
`serve` has set the functions' environment.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points

from hashmatch import __version__

COMMAND_GROUP = "hashmatch.commands"
# The extra that brings each tool package's dependencies (pyproject.toml).
_EXTRA_OF_PACKAGE = {"hashmatch_operators": "operators", "hashmatch_devtools": "devtools"}


def command_entry_points() -> list[EntryPoint]:
    """The registered subcommands, in the order pyproject.toml declares them."""
    return list(entry_points(group=COMMAND_GROUP))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hashmatch",
        description="Hash-only matching against the EU Centre's indicator databases.",
    )
    parser.add_argument("--version", action="version", version=f"hashmatch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for entry in command_entry_points():
        try:
            module = importlib.import_module(entry.value)
        except ModuleNotFoundError as missing:
            if missing.name is None or missing.name.split(".")[0].startswith("hashmatch"):
                raise  # our own code is missing: a broken install, not a missing extra
            _register_unavailable(subparsers, entry, missing.name)
            continue
        module.register(subparsers)
    return parser


def _register_unavailable(
    subparsers: argparse._SubParsersAction, entry: EntryPoint, missing: str
) -> None:
    extra = _EXTRA_OF_PACKAGE.get(entry.value.split(".")[0], "dev")
    advice = (
        f"`hashmatch {entry.name}` needs {missing!r}, which this installation lacks: "
        f"install the {extra!r} extra (pip install 'hashmatch[{extra}]')"
    )
    parser = subparsers.add_parser(entry.name, help=f"(not installed: needs hashmatch[{extra}])")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def unavailable(_: argparse.Namespace) -> int:
        print(f"hashmatch: {advice}", file=sys.stderr)
        return 2

    parser.set_defaults(func=unavailable)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())

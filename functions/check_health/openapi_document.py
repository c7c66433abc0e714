"""The API's OpenAPI document, generated from every function's resolver.

Every function package ships all handlers (functions/Makefile), so this can import each
`functions.<name>.app` and merge the resolvers it finds. `make openapi` writes the result to
docs/openapi.json; a test fails when that file is stale.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
from functools import cache
from pathlib import Path
from typing import Any

import functions
from hashmatch.api.openapi import build_openapi
from hashmatch.api.resolver import HashmatchResolver


def api_resolvers() -> list[HashmatchResolver]:
    resolvers = []
    for module in sorted(pkgutil.iter_modules(functions.__path__), key=lambda m: m.name):
        if not module.ispkg:
            continue
        handler_module = importlib.import_module(f"functions.{module.name}.app")
        resolver = getattr(handler_module, "app", None)
        if isinstance(resolver, HashmatchResolver):
            resolvers.append(resolver)
    return resolvers


@cache
def openapi_document() -> dict[str, Any]:
    return build_openapi(api_resolvers())


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="write the OpenAPI document")
    parser.add_argument("output", type=Path, nargs="?", default=Path("docs/openapi.json"))
    args = parser.parse_args()
    args.output.write_text(render())


if __name__ == "__main__":
    main()

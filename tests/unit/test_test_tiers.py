"""The test tiers keep to themselves: unit tests have no network, and no tier imports another
tier's helpers (shared builders and fakes live in tests/factories.py and tests/fakes.py)."""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest
from pytest_socket import SocketBlockedError

TESTS = Path(__file__).resolve().parents[1]
TIERS = ("unit", "integration", "e2e", "template")


def test_a_unit_test_cannot_open_a_network_connection() -> None:
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("tier", TIERS)
def test_no_tier_imports_another_tiers_modules(tier: str) -> None:
    others = [f"tests.{other}" for other in TIERS if other != tier]

    crossings = sorted(
        f"{path.relative_to(TESTS)} imports {module}"
        for path in (TESTS / tier).rglob("*.py")
        for module in imported_modules(path)
        if any(module == o or module.startswith(o + ".") for o in others)
    )

    assert crossings == []

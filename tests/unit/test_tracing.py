"""Traces keep no data: every traced function goes through hashmatch.observability's wrappers,
which never add a response or an error to a trace (tests/integration/test_private_data.py shows
the effect; the template sets the same through POWERTOOLS_TRACER_CAPTURE_*)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "layers/common/python/hashmatch/observability.py"
DIRECT_CAPTURE = frozenset({"capture_lambda_handler", "capture_method"})


def direct_captures(path: Path) -> list[str]:
    """Uses of tracer.capture_* in a module (decorators, calls, or references)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in DIRECT_CAPTURE
    ]


def test_no_module_but_observability_applies_the_tracer_itself():
    modules = [*ROOT.glob("functions/**/*.py"), *ROOT.glob("layers/common/python/**/*.py")]
    found = [use for path in modules if path != OBSERVABILITY for use in direct_captures(path)]

    assert modules
    assert found == []

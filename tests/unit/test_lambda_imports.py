"""Every handler imports with what Lambda has: the layers, never client-side code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Not in the Lambda layers: client-side packages and the packages of the other folders.
FORBIDDEN = (
    "PIL",
    "imagehash",
    "pdqhash",
    "requests",
    "tqdm",
    "matplotlib",
    "moto",
    "samtranslator",
    "hashmatch.client",
    "hashmatch.cli",
    "hashmatch_devtools.localstack",
)
PROBE = """
import importlib, importlib.abc, pkgutil, sys
forbidden = {forbidden!r}

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in forbidden):
            raise ImportError(f"{{name}} is not in the Lambda layers")
        return None

sys.meta_path.insert(0, Refuse())
import functions
for module in pkgutil.iter_modules(functions.__path__):
    if module.ispkg:
        importlib.import_module(f"functions.{{module.name}}.app")
from functions.check_health.openapi_document import openapi_document
openapi_document()
print("ok")
"""


def test_every_handler_and_the_openapi_document_import_without_client_side_code():
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(forbidden=FORBIDDEN)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "POWERTOOLS_TRACE_DISABLED": "true"},
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")

"""The `hashmatch` command: building the parser imports nothing heavy."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_parser_loads_neither_powertools_nor_moto_nor_pil():
    # In a fresh interpreter: what the parser imports is what every command pays at start,
    # and Powertools' Logger must not be built before `serve` sets the functions' environment.
    probe = (
        "import sys; from hashmatch_client.cli.main import build_parser; build_parser(); "
        "print(sorted(m for m in ('aws_lambda_powertools', 'moto', 'PIL', 'boto3') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"

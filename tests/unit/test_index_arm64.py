"""The Lambda (arm64) build of the search kernel, loaded by an arm64 Python under qemu.

`make native-arm64` cross-builds ``libhmkernel.aarch64.so`` (as the layer does), runs its C
self-test under qemu and unpacks an arm64 python3.13 with the aarch64 numpy wheel into
``.tools/arm64``. This test runs the native oracle and property tests of
``test_index_hamming.py`` in that interpreter, so the real library is checked on the
instruction set it ships for. Where the tools are absent it skips; under `make test` with the
cross tools present (always in CI) a missing piece fails it instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hashmatch.index.kernel import library_path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARM64 = PROJECT_ROOT / ".tools" / "arm64"
PYTHON = ARM64 / "root" / "usr" / "bin" / "python3.13"
REQUIRED = os.environ.get("HASHMATCH_REQUIRE_ARM64") == "1"
# Tests that take the aarch64 library through the Python binding on every path of the C code:
# probing and the scan, 64- and 256-bit rows, labels and caps with both, the table build and
# update. Measured under qemu here: importing numpy, pytest and hypothesis costs ~67 s of CPU,
# these tests ~15 s; the property tests and the clustered sets (built in Python loops: 15-45 s
# each under emulation) run on the host against both kernels, and the C self-test (run under
# qemu by `make native-arm64`) covers clusters, labels and state across queries.
SELECTION = (
    "native and (planted or beyond_the_chunking or updated or cap_and_truncated "
    "or built_for_this_machine)"
)
EXAMPLES = "5"


def missing() -> str | None:
    qemu = shutil.which("qemu-aarch64")
    needed = {
        "qemu-aarch64": qemu is not None,
        str(PYTHON): PYTHON.is_file(),
        str(library_path("aarch64")): library_path("aarch64").is_file(),
    }
    absent = [name for name, present in needed.items() if not present]
    return f"not found: {', '.join(absent)} (run `make native-arm64`)" if absent else None


@pytest.mark.timeout(900)
def test_the_arm64_library_passes_the_oracle_tests_under_emulation() -> None:
    reason = missing()
    if reason:
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    # Given the arm64 interpreter with the aarch64 numpy and the project on its path
    env = {
        **os.environ,
        "PYTHONPATH": str(ARM64 / "site"),
        "HASHMATCH_INDEX_KERNEL": "native",
        "HASHMATCH_REQUIRE_NATIVE": "1",
        "HASHMATCH_PROPERTY_EXAMPLES": EXAMPLES,
    }
    command = [
        "qemu-aarch64",
        "-L",
        str(ARM64 / "root"),
        str(PYTHON),
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        # The conftests wire the service's test tools (X-Ray, the network block), which this
        # interpreter does not have; the index tests need none of them.
        "--noconftest",
        "-q",
        "tests/unit/test_index_hamming.py",
        "-k",
        SELECTION,
    ]
    # When the native oracle tests run there
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=880
    )
    # Then they all pass, on aarch64
    output = done.stdout + done.stderr
    sys.stdout.write(output[-3000:])
    assert done.returncode == 0, output[-5000:]
    assert " passed" in output
    assert "skipped" not in output

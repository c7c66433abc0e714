"""`sam build` without Docker: arm64 python3.13 layer, complete pinned deps, size check."""

from __future__ import annotations

import os
import re
import subprocess
from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
UV = ROOT / ".venv" / "bin" / "uv"
CLOUD_DEPENDENCIES = ["aws-lambda-powertools[tracer]", "boto3", "pydantic", "numpy"]
ELF_MACHINE_AARCH64 = 183


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def closure(roots: list[str]) -> set[str]:
    """Every distribution the roots need on Linux/CPython 3.13, by installed metadata."""
    environment = {"python_version": "3.13", "sys_platform": "linux", "platform_system": "Linux"}
    seen: set[str] = set()
    pending = [Requirement(root) for root in roots]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        for line in requires(requirement.name) or []:
            child = Requirement(line)
            extras = requirement.extras or {""}
            if child.marker is None or any(
                child.marker.evaluate({**environment, "extra": extra}) for extra in extras
            ):
                pending.append(child)
    return seen


def test_the_dependencies_layer_pins_every_cloud_dependency_at_the_constraints_version():
    layer = pins(ROOT / "layers" / "deps" / "requirements.txt")
    constraints = pins(ROOT / "constraints.txt")

    needed = closure(CLOUD_DEPENDENCIES)

    assert needed - set(layer) == set(), "the layer misses these (installed with --no-deps)"
    for name, version in layer.items():
        assert constraints.get(name) == version, (
            f"{name}: layer {version}, app {constraints.get(name)}"
        )


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SAM.exists() or not UV.exists():
        pytest.skip("the SAM CLI tool venv is missing: run `make tools` (make test does)")
    build = tmp_path_factory.mktemp("sam-build")
    subprocess.run(
        [str(SAM), "build", "--template", "template.yaml", "--build-dir", str(build)],
        cwd=ROOT,
        env={**os.environ, "UV": str(UV), "SAM_CLI_TELEMETRY": "0"},
        check=True,
        capture_output=True,
    )
    return build


def test_the_built_layer_holds_arm64_wheels_for_python_3_13(build_dir):
    extensions = list((build_dir / "DepsLayer" / "python").rglob("*.so"))
    assert extensions
    for extension in extensions:
        header = extension.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", extension
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64, extension
    numpy_core = [path.name for path in extensions if "_multiarray_umath" in path.name]
    assert numpy_core == ["_multiarray_umath.cpython-313-aarch64-linux-gnu.so"]


def test_the_common_layer_ships_the_cloud_side_only(build_dir):
    package = build_dir / "CommonLayer" / "python" / "hashmatch"
    assert (package / "access" / "service.py").exists()
    for client_only in ("client", "cli", "localstack"):
        assert not (package / client_only).exists(), client_only
    shipped = "\n".join(path.read_text() for path in package.rglob("*.py"))
    assert not re.search(r"^\s*(import PIL|from PIL)", shipped, re.MULTILINE)


def test_the_common_layer_ships_the_search_kernel_for_arm64_only(build_dir):
    # The compiled kernel the index loads in Lambda: cross-built for aarch64 by the layer's
    # Makefile, without its C sources or the build machine's own library.
    native = build_dir / "CommonLayer" / "python" / "hashmatch" / "index" / "native"
    assert sorted(path.name for path in native.iterdir()) == ["libhmkernel.aarch64.so"]
    header = (native / "libhmkernel.aarch64.so").read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64


def test_handlers_import_as_functions_packages(build_dir):
    assert (build_dir / "CheckHealthFunction" / "functions" / "check_health" / "app.py").exists()


def test_the_size_check_prints_sizes_and_passes(build_dir):
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "infra/check_lambda_sizes.py", str(build_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "CheckHealthFunction" in result.stdout
    assert "DepsLayer" in result.stdout


def test_the_size_check_fails_a_function_over_250_mb(build_dir, tmp_path):
    fake = tmp_path / "build"
    (fake / "Big").mkdir(parents=True)
    with (fake / "Big" / "blob").open("wb") as blob:
        blob.truncate(251 * 1024 * 1024)  # sparse: no real disk used
    (fake / "template.yaml").write_text(
        "Resources:\n  BigFunction:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: Big\n"
    )

    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "infra/check_lambda_sizes.py", str(fake)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "BigFunction" in result.stderr

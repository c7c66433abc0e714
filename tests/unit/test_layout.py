"""The layout shows what ships, and the code keeps to it.

- layers/common/python/hashmatch: the Lambda layer (the cloud side).
- client/hashmatch_client: what a provider installs (hashing, hash, scan, the SDK): a plain
  `pip install` of the repository, with no AWS SDK, pydantic, moto or faiss.
- operators/hashmatch_operators: what operators use (clients, audit verify, deployment).
- devtools/hashmatch_devtools: development only (local stack, evaluation, retention demo).
Dependencies point one way (devtools -> operators -> hashmatch; client -> hashmatch's
standard-library ground floor), and no package imports a package that imports it back.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "hashmatch": ROOT / "layers" / "common" / "python" / "hashmatch",
    "hashmatch_client": ROOT / "client" / "hashmatch_client",
    "hashmatch_operators": ROOT / "operators" / "hashmatch_operators",
    "hashmatch_devtools": ROOT / "devtools" / "hashmatch_devtools",
}
# What each package may import of the others.
ALLOWED = {
    "hashmatch": set(),
    "hashmatch_client": {"hashmatch"},
    "hashmatch_operators": {"hashmatch"},
    "hashmatch_devtools": {"hashmatch", "hashmatch_client", "hashmatch_operators"},
}
# A provider's plain install has none of these (they come with the service and tool extras).
NOT_FOR_PROVIDERS = (
    "boto3",
    "botocore",
    "aws_lambda_powertools",
    "pydantic",
    "moto",
    "faiss",
    "samtranslator",
    "matplotlib",
)


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def module_name(path: Path, package: str) -> str:
    parts = path.relative_to(PACKAGES[package].parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def unit_of(module: str) -> str:
    """The unit dependencies are counted between: hashmatch's sub-packages, the other packages."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "hashmatch" and len(parts) > 1 else parts[0]


def dependency_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            source = unit_of(module_name(path, package))
            for module in imports_of(path):
                if module.split(".")[0] in PACKAGES and unit_of(module) != source:
                    graph[source].add(unit_of(module))
    return graph


def test_each_package_imports_only_the_packages_below_it():
    crossings = sorted(
        f"{module_name(path, package)} imports {module}"
        for package, folder in PACKAGES.items()
        for path in folder.rglob("*.py")
        for module in imports_of(path)
        if module.split(".")[0] in PACKAGES
        and module.split(".")[0] != package
        and module.split(".")[0] not in ALLOWED[package]
    )

    assert crossings == []


def test_no_package_imports_a_package_that_imports_it_back():
    graph = dependency_graph()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, ()))
        return False

    cycles = sorted(
        f"{a} <-> {b}" for a in graph for b in graph[a] if a < b or b not in graph if reaches(b, a)
    )
    assert cycles == []


def test_the_layer_folder_holds_the_cloud_package_only():
    layer = PACKAGES["hashmatch"].parent

    assert {path.relative_to(layer).parts[0] for path in layer.rglob("*.py")} == {"hashmatch"}


def test_a_plain_install_brings_no_aws_sdk_moto_or_faiss():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    names = {
        dep.split("[")[0].split(">")[0].split("=")[0].strip().lower()
        for dep in project["dependencies"]
    }

    assert names.isdisjoint(
        {"boto3", "botocore", "aws-lambda-powertools", "pydantic", "moto", "faiss-cpu"}
    )


PROBE = """
import importlib, importlib.abc, io, pkgutil, sys, contextlib
missing = {missing!r}

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in missing:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Absent())
import hashmatch_client
for module in pkgutil.walk_packages(hashmatch_client.__path__, "hashmatch_client."):
    importlib.import_module(module.name)
from hashmatch_client.cli.main import main
for argv in (["hash", "--help"], ["scan", "--help"]):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            main(argv)
        except SystemExit as done:
            assert done.code == 0, (argv, done.code)
    assert "usage: hashmatch" in out.getvalue(), argv
err = io.StringIO()
with contextlib.redirect_stderr(err):
    status = main(["clients", "list"])
assert status == 2 and "hashmatch[operators]" in err.getvalue(), err.getvalue()
print("ok")
"""


def test_the_provider_client_works_without_the_service_and_tool_dependencies():
    # Given an interpreter where none of the service's or tools' packages can be imported
    # When every client module is imported and `hashmatch hash|scan --help` run
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(missing=NOT_FOR_PROVIDERS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    # Then all of it works, and an operator command says which extra it needs
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")

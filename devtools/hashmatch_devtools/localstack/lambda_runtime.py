"""Run a template's function in this process: load its handler, give it a Lambda context.

Handlers are imported from the function's code root (the template's directory, or its CodeUri),
exactly as Lambda imports them from /var/task. When that directory is already importable as a
package from an entry of sys.path (pytest's pythonpath, the project root), the handler is
imported under that package name and sys.path is untouched. Otherwise the code root is added to
sys.path once: that *is* Lambda's code root, the only way `functions.<name>.app` resolves the
same way it does in the deployed function.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashmatch_devtools.localstack.errors import LocalStackError
from hashmatch_devtools.localstack.template import FunctionSpec

Handler = Callable[[Any, Any], Any]

# One invocation at a time in the whole process, as in one Lambda sandbox: handlers share
# module-level objects (a Powertools resolver keeps the current event on itself, the Logger
# keeps the current context's keys) that are not safe across threads. A handler must therefore
# not call the local API itself (it would wait for its own invocation to end).
_INVOCATION_LOCK = threading.Lock()


def between_invocations() -> threading.Lock:
    """Hold it to keep every handler of this process from running meanwhile (a state save)."""
    return _INVOCATION_LOCK


@dataclass
class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_epoch_ms: int
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_epoch_ms - int(time.time() * 1000))


@dataclass
class LocalFunction:
    spec: FunctionSpec
    name: str
    arn: str
    environment: Mapping[str, str]
    handler: Handler = field(repr=False)

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id

    def new_context(self) -> LambdaContext:
        started = int(time.time() * 1000)
        return LambdaContext(
            function_name=self.name,
            function_version="$LATEST",
            invoked_function_arn=self.arn,
            memory_limit_in_mb=self.spec.memory_mb,
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{self.name}",
            log_stream_name=time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + uuid.uuid4().hex,
            deadline_epoch_ms=started + self.spec.timeout_seconds * 1000,
        )

    def invoke(self, event: Any) -> Any:
        """Call the handler as Lambda would. Its exceptions propagate (the caller maps them)."""
        with _INVOCATION_LOCK:
            return self.handler(event, self.new_context())


def load_handler(code_root: Path, handler: str) -> Handler:
    module_path, _, function_name = handler.rpartition(".")
    package_prefix = _importable_prefix(code_root)
    if package_prefix is None:
        sys.path.insert(0, str(code_root))
        package_prefix = ""
    module_name = f"{package_prefix}.{module_path}" if package_prefix else module_path
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise LocalStackError(f"cannot import handler module {module_name}: {error}") from error
    target = getattr(module, function_name, None)
    if not callable(target):
        raise LocalStackError(f"{module_name} has no callable {function_name}")
    return target


def _importable_prefix(code_root: Path) -> str | None:
    """The dotted package under which code_root is importable from sys.path ('' = an entry)."""
    code_root = code_root.resolve()
    for entry in sys.path:
        try:
            base = Path(entry or ".").resolve()
        except OSError:
            continue
        if code_root == base:
            return ""
        if base not in code_root.parents:
            continue
        parts = code_root.relative_to(base).parts
        if all(
            (base.joinpath(*parts[: i + 1]) / "__init__.py").is_file() for i in range(len(parts))
        ):
            return ".".join(parts)
    return None


def load_function(
    spec: FunctionSpec, *, template_dir: Path, name: str, arn: str, environment: Mapping[str, str]
) -> LocalFunction:
    return LocalFunction(
        spec=spec,
        name=name,
        arn=arn,
        environment=environment,
        handler=load_handler(code_root_of(spec, template_dir), spec.handler),
    )


def code_root_of(spec: FunctionSpec, template_dir: Path) -> Path:
    """Where the handler's module lives: the CodeUri directory, else the template's directory.

    The fallback serves ``BuildMethod: makefile`` functions, whose CodeUri is the build's source
    and whose Makefile lays the code out as packages (``functions.<name>.app``) from the root.
    """
    module_parts = spec.handler.rpartition(".")[0].split(".")
    for root in (template_dir / spec.code_uri, template_dir):
        module_file = root.joinpath(*module_parts)
        if module_file.with_suffix(".py").is_file() or (module_file / "__init__.py").is_file():
            return root.resolve()
    raise LocalStackError(
        f"{spec.logical_id}: handler module {'.'.join(module_parts)} is neither under its "
        f"CodeUri ({spec.code_uri}) nor under the template's directory"
    )

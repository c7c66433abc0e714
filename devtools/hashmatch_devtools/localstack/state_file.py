"""``.local-stack/state.json``: where a running local stack is, for other commands to find it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hashmatch_devtools.localstack.errors import LocalStackError

if TYPE_CHECKING:
    from hashmatch_devtools.localstack.stack import LocalStack

STATE_DIRECTORY = ".local-stack"
STATE_FILE_NAME = "state.json"


def write_state_file(stack: LocalStack) -> None:
    state = {
        "pid": os.getpid(),
        "template": str(stack.template_path),
        "stack_name": stack.stack_name,
        "region": stack.region,
        "api_url": stack.api_url,
        "aws_endpoint": stack.aws_endpoint,
        "parameters": dict(stack.parameters),
        "resources": {lid: r.as_dict() for lid, r in stack.resources.items()},
        "functions": {lid: f.name for lid, f in stack.functions.items()},
    }
    stack.state_file.parent.mkdir(parents=True, exist_ok=True)
    stack.state_file.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def read_state(template_dir: Path) -> dict[str, Any]:
    """What a running local stack wrote about itself (for other CLI commands)."""
    path = template_dir / STATE_DIRECTORY / STATE_FILE_NAME
    if not path.is_file():
        raise LocalStackError(f"no local stack is running for {template_dir} (no {path})")
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return state

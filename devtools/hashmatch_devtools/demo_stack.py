"""A private local stack for a demonstration (`make retention-demo`, `make transparency-demo`):
the real template, free ports, schedules on demand, quiet functions, a temporary state
directory (so a `make run` beside it is untouched), fake law-enforcement recipients that
forwarded reports are delivered to, this process's services wired to it."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashmatch_devtools.localstack.stack import LocalStack


@contextmanager
def demo_stack(template: Path, name: str) -> Iterator[LocalStack]:
    # Quiet functions (Powertools reads these when the Logger and Metrics are first built, on
    # the first import below): the demo prints what matters.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

    from hashmatch import bootstrap
    from hashmatch.adapters.aws import clear_client_cache
    from hashmatch.settings import clear_settings_cache
    from hashmatch_devtools import fake_recipients
    from hashmatch_devtools.localstack.stack import LocalStack

    recipients = fake_recipients.FakeRecipients().start()
    try:
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as state:
            stack = LocalStack(
                template.resolve(),
                api_port=0,
                parameter_overrides={
                    "Stage": "local",
                    "LogLevel": "WARNING",
                    **fake_recipients.parameter_overrides(recipients),
                },
                run_schedules=False,
                stack_name=name,
                state_directory=Path(state),
            )
            stack.start()
            fake_recipients.install(stack, recipients)
            clear_settings_cache()
            clear_client_cache()
            bootstrap.reset()
            try:
                yield stack
            finally:
                stack.stop()
    finally:
        recipients.stop()


def wait_until_all(
    ids: Iterable[str], done: Callable[[str], bool], *, timeout: float, what: str
) -> None:
    """Until ``done(id)`` holds for every id (polled): e.g. intake has stored each report."""
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        pending = {item for item in pending if not done(item)}
        if pending:
            time.sleep(0.2)
    if pending:
        raise RuntimeError(f"{what}: {sorted(pending)} not done in {timeout} s")

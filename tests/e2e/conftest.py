"""End-to-end tests run against the project's real template.yaml on a local stack.

``local_stack`` starts the stack once for the e2e package (free ports for moto and the API,
schedules on demand only, a private state directory so a `make run` beside it is untouched) and
yields the running :class:`~hashmatch_devtools.localstack.stack.LocalStack`: use
``local_stack.api_url``,
``local_stack.aws_endpoint``, ``local_stack.resources`` and ``local_stack.run_schedule(...)``.
Forwarded reports go to ``recipients``, fake Europol and Member State endpoints (and providers'
webhooks) that record what they received and can be made to fail; failed deliveries are retried
after 1 s, 2 s, 4 s ... instead of minutes.

It is package-scoped rather than session-scoped on purpose: the stack points os.environ
(AWS_ENDPOINT_URL, table names) at its moto server, and later packages (integration tests on
``mock_aws``) must not inherit that; stop() restores the environment when e2e is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hashmatch import bootstrap
from hashmatch.adapters.aws import clear_client_cache
from hashmatch.settings import clear_settings_cache
from hashmatch_devtools import fake_recipients
from hashmatch_devtools.fake_recipients import FakeRecipients
from hashmatch_devtools.localstack.stack import LocalStack

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="package")
def recipients() -> Iterator[FakeRecipients]:
    fake = FakeRecipients().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="package")
def local_stack(
    tmp_path_factory: pytest.TempPathFactory, recipients: FakeRecipients
) -> Iterator[LocalStack]:
    stack = LocalStack(
        PROJECT_ROOT / "template.yaml",
        api_port=0,
        moto_port=0,
        parameter_overrides={"Stage": "local", **fake_recipients.parameter_overrides(recipients)},
        run_schedules=False,
        stack_name="hashmatch-e2e",
        state_directory=tmp_path_factory.mktemp("local-stack"),
    )
    stack.start()
    fake_recipients.install(stack, recipients)
    _forget_wiring()  # services cached by earlier tests must not point at another AWS
    try:
        yield stack
    finally:
        stack.stop()
        _forget_wiring()


def _forget_wiring() -> None:
    clear_settings_cache()
    clear_client_cache()
    bootstrap.reset()

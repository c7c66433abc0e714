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
from hashmatch_operators.deployment import local_operator_settings
from tests.permissions import RECORDER

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UNTHROTTLED = {
    "ProviderRateLimit": "100000",
    "ProviderBurstLimit": "100000",
    "StaffRateLimit": "100000",
}


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
        # Usage plans raised far above what a test sends, so property tests explore instead of
        # being throttled; throttling itself: tests/integration/test_local_stack_api.py.
        parameter_overrides={
            "Stage": "local",
            **UNTHROTTLED,
            **fake_recipients.parameter_overrides(recipients),
        },
        run_schedules=False,
        stack_name="hashmatch-e2e",
        state_directory=tmp_path_factory.mktemp("local-stack"),
    )
    stack.start()
    fake_recipients.install(stack, recipients)
    RECORDER.know(stack.resources)
    physical_ids = {name: resource.physical_id for name, resource in stack.resources.items()}
    with pytest.MonkeyPatch.context() as monkeypatch:
        # What the operator commands read besides the functions' settings (the organisations
        # table); restored with the rest when e2e is done.
        for name, value in local_operator_settings(physical_ids).items():
            monkeypatch.setenv(name, value)
        _forget_wiring()  # services cached by earlier tests must not point at another AWS
        # As a deployed stack after its first minute: build_index has written the first
        # snapshot (before it, POST /v1/match answers 503: matching fails closed without one).
        stack.run_schedule("BuildIndexFunction")
        try:
            yield stack
        finally:
            stack.stop()
            _forget_wiring()


def _forget_wiring() -> None:
    clear_settings_cache()
    clear_client_cache()
    bootstrap.reset()

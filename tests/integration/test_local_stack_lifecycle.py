"""Starting and stopping the local stack leaves the process as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from hashmatch.clock import CLOCK_OFFSET_VARIABLE
from hashmatch_devtools.localstack.stack import LocalStack
from tests.integration.local_stack_fixture import FIXTURE_TEMPLATE


def test_stop_restores_the_environment_and_removes_the_state_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a process with its own AWS settings
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("FIXTURE_STAGE", raising=False)
    stack = LocalStack(
        FIXTURE_TEMPLATE,
        api_port=0,
        run_schedules=False,
        run_pollers=False,
        state_directory=tmp_path,
    )

    # When a local stack starts and stops
    with stack:
        api_url = stack.api_url
        running_state = (tmp_path / "state.json").is_file()
    # Then the state file existed while it ran, and everything is as before
    assert running_state
    assert not (tmp_path / "state.json").exists()
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert "FIXTURE_STAGE" not in os.environ
    with pytest.raises(requests.ConnectionError):
        requests.get(api_url + "/public/x", timeout=2)


def test_stack_can_start_again_after_a_stop(tmp_path: Path) -> None:
    for _ in range(2):
        with LocalStack(
            FIXTURE_TEMPLATE,
            api_port=0,
            run_schedules=False,
            run_pollers=False,
            state_directory=tmp_path,
        ) as stack:
            assert stack.resources["ItemsTable"].physical_id == "hashmatch-local-items"


def test_stopping_puts_back_the_clock_as_it_was_before_the_start(tmp_path, monkeypatch):
    monkeypatch.delenv(CLOCK_OFFSET_VARIABLE, raising=False)
    stack = LocalStack(
        FIXTURE_TEMPLATE, api_port=0, run_schedules=False, state_directory=tmp_path
    ).start()
    stack.set_clock_offset(86_400)

    stack.stop()

    assert CLOCK_OFFSET_VARIABLE not in os.environ

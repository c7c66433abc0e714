"""Shared fixtures of the unit tests, and the unit tier's rule: no network.

Every unit test runs with sockets blocked (pytest-socket): the domain is tested against the
in-memory fakes of its ports, so a test that reaches for the network is in the wrong tier.
Unix sockets stay allowed (the standard library's event loops use socketpair internally);
subprocesses a test starts are not affected.
"""

from __future__ import annotations

from pathlib import Path

# The X-Ray SDK builds its recorder, with a UDP emitter socket that sends nothing here, when it
# is first imported (by the first Tracer a handler module builds). Imported now, at collection,
# before the tier's network block is in place; nothing is ever sent through it.
import aws_xray_sdk.core  # noqa: F401
import pytest
from pytest_socket import disable_socket, enable_socket

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = PROJECT_ROOT / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the project (CI always has it; a fresh clone may not)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA.resolve()}")
    return SHARED_DATA


def pytest_runtest_setup(item: pytest.Item) -> None:
    disable_socket(allow_unix_socket=True)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    enable_socket()

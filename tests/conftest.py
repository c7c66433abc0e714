"""Session hooks for every tier: the AWS calls handlers make are checked against their roles.

See tests/permissions.py: moto does not enforce IAM, so the integration and e2e tiers record each
call a handler makes and the session fails if a call needs a permission its role lacks.
"""

from __future__ import annotations

import pytest

from tests.permissions import RECORDER, TemplateRoles, missing_settings, violations

_FOUND = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    RECORDER.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not RECORDER.calls and not RECORDER.settings:
        return
    roles = TemplateRoles.load()
    found = violations(RECORDER, roles) + missing_settings(RECORDER, roles)
    session.config.stash[_FOUND] = found
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    found = config.stash.get(_FOUND, None)
    if found is None:
        return
    if not found:
        terminalreporter.write_line(
            f"permissions: the {len(RECORDER.calls)} AWS calls handlers made are each allowed "
            "by their function's role in template.yaml, and the settings they loaded are in "
            "their function's environment"
        )
        return
    terminalreporter.section(
        "What handlers needed that their function in template.yaml does not give them", red=True
    )
    for line in found:
        terminalreporter.write_line(line)

"""The process environment of the local stack: one environment for every function, undone at stop.

All functions run in one process, so the union of their (resolved) environment variables is set
into os.environ once, at start. Two functions giving one variable different values is an error,
except for per-function identity variables (POWERTOOLS_SERVICE_NAME and similar): Powertools
objects are created once per process anyway, so those keep the Globals value (or, without one,
the first function's in logical-id order) instead of being switched per invocation. The AWS
variables point every boto3 client at moto; real credentials and profiles are removed for the
stack's lifetime. Every change is undone at stop, so only one local stack may run per process
at a time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from hashmatch_devtools.localstack.errors import LocalStackError
from hashmatch_devtools.localstack.template import TemplateModel

PER_FUNCTION_IDENTITY_VARIABLES = frozenset(
    {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_FUNCTION_NAME"}
)
REMOVED_AWS_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class SavedEnvironment:
    """Changes to os.environ that restore() undoes: each variable gets back its value from
    before its first change (or is removed again)."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def remember(self, name: str) -> None:
        """Restore ``name`` at the end even when something else changes it meanwhile."""
        if name not in self._saved:
            self._saved[name] = os.environ.get(name)

    def set(self, variables: Mapping[str, str]) -> None:
        for name, value in variables.items():
            self.remember(name)
            os.environ[name] = value

    def remove(self, *names: str) -> None:
        for name in names:
            self.remember(name)
            os.environ.pop(name, None)

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved = {}


def aws_variables_for_moto(endpoint: str, region: str) -> dict[str, str]:
    """What points every boto3 client in the process at the moto server, with fake credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }


def merged_function_environment(
    model: TemplateModel, environments: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """The union of the functions' environments (function logical id -> its variables)."""
    global_variables = (
        ((model.body.get("Globals") or {}).get("Function") or {})
        .get("Environment", {})
        .get("Variables", {})
    )
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    for logical_id in sorted(environments):
        for name, value in environments[logical_id].items():
            if name not in merged:
                merged[name], origin[name] = value, logical_id
            elif merged[name] != value and name in PER_FUNCTION_IDENTITY_VARIABLES:
                if name in global_variables:
                    merged[name] = str(global_variables[name])
            elif merged[name] != value:
                raise LocalStackError(
                    f"{name} is {merged[name]!r} in {origin[name]} but {value!r} in "
                    f"{logical_id}: all functions share one process locally, so one "
                    "variable needs one value"
                )
    return merged

"""Faults injected at the boto3 client: a method of a cached client made to raise a ClientError
with a store's error code, for the calls a predicate picks, a number of times or until undone.

Injected above botocore, the fault reaches our adapters as if botocore's own retries had given
up: what the component does next is what the tests observe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError


@dataclass
class Injection:
    injected: int = 0  # how many calls failed


def failing_on(
    original: Callable[..., Any],
    should_fail: Callable[[dict[str, Any]], bool],
    code: str,
    injection: Injection | None = None,
    times: int | None = None,
) -> Callable[..., Any]:
    """``original``, raising ``code`` for the calls ``should_fail`` picks (``times`` at most)."""
    counter = injection or Injection()

    def call(**kwargs: Any) -> Any:
        if (times is None or counter.injected < times) and should_fail(kwargs):
            counter.injected += 1
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, "Injected")
        return original(**kwargs)

    return call


def inject(
    monkeypatch: pytest.MonkeyPatch,
    client: Any,
    method: str,
    code: str,
    *,
    when: Callable[[dict[str, Any]], bool] = lambda request: True,
    times: int | None = None,
) -> Injection:
    """Make ``client.method`` fail with ``code``; ``monkeypatch.undo()`` or the test's end heals."""
    injection = Injection()
    original = getattr(client, method)
    monkeypatch.setattr(client, method, failing_on(original, when, code, injection, times))
    return injection


def on_table(table: str) -> Callable[[dict[str, Any]], bool]:
    """Calls naming ``table`` (single-item calls, batches and transactions alike)."""

    def names_it(request: dict[str, Any]) -> bool:
        if request.get("TableName") == table:
            return True
        if table in (request.get("RequestItems") or {}):
            return True
        return any(
            table == next(iter(item.values())).get("TableName")
            for item in request.get("TransactItems") or ()
        )

    return names_it


def on_bucket(bucket: str) -> Callable[[dict[str, Any]], bool]:
    return lambda request: request.get("Bucket") == bucket

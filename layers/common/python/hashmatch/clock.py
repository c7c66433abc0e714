"""The clock port: every time the domain uses comes from a Clock, so tests can move time."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Protocol

# Set only by the local stack (`POST /_local/clock`) to demonstrate retention;
# never in a deployment.
CLOCK_OFFSET_VARIABLE = "HASHMATCH_CLOCK_OFFSET_SECONDS"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """UTC wall-clock time, shifted by the local stack's clock override when one is set."""

    def now(self) -> datetime:
        offset = float(os.environ.get(CLOCK_OFFSET_VARIABLE, "0") or 0)
        return datetime.now(UTC) + timedelta(seconds=offset)


class FixedClock:
    """A clock for tests: stands still until moved."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

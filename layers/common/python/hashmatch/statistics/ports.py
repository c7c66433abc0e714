"""Ports of the statistics concern."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from hashmatch.statistics.model import CounterKey


class CounterStore(Protocol):
    def add(self, increments: Mapping[CounterKey, int]) -> None:
        """Add each increment to its counter (atomic per counter)."""


class ExpiringCounters(Protocol):
    def delete_day(self, day: str) -> int:
        """Delete every counter of ``day`` (YYYY-MM-DD); how many there were."""

"""Ports of probing detection: where each client's sketch and hold live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hashmatch.probing.sketch import Sketch
from hashmatch.retention.ports import DueItem


@dataclass
class ClientWindow:
    """One client's state in one window, as read (``version`` guards the write back)."""

    client_id: str
    window: int
    sketch: Sketch
    version: int = 0  # 0: not stored yet
    throttled_until: datetime | None = None
    suspended_at: datetime | None = None  # the client's matching is suspended (any window)


class ProbingStore(Protocol):
    def load(self, client_id: str, window: int) -> ClientWindow:
        """The client's sketch in ``window`` (a fresh one if none) and its suspension."""

    def save(self, state: ClientWindow, *, erase_after: datetime) -> None:
        """Write the sketch back; Conflict if another request wrote it since it was loaded.
        ``erase_after``: when it falls due (its due-date index)."""

    def strike(
        self, client_id: str, *, now: datetime, forget_after: datetime, suspend_at: int
    ) -> int:
        """Count one detection against the client (the count is forgotten at
        ``forget_after`` unless the client is suspended); at ``suspend_at`` detections (0:
        never) suspend its matching until an operator lifts it. Returns the count."""

    def lift(self, client_id: str) -> bool:
        """Lift a suspension; False if there was none."""

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        """Sketches due on ``day`` (YYYY-MM-DD), by id, after ``after``."""

    def due_at(self, item_id: str) -> datetime | None:
        """When the sketch falls due; None if it is gone."""

    def delete_due(self, item_id: str, cutoff: datetime) -> bool:
        """Delete the sketch if it is due by ``cutoff``; whether it was deleted."""

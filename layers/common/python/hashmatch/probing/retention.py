"""Probing sketches as a data class with retention: each window's sketch is erased
ProbingSketchRetentionDays after its window ends, and a client's count of detections as long
after its last one, unless the client is suspended (then an operator lifts it). DynamoDB TTL is
a backstop only."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

from hashmatch.probing.ports import ProbingStore
from hashmatch.retention.ports import DueItem, HoldTarget

PROBING_SKETCHES = "probing_sketches"
_SKETCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}#(w[0-9]{1,12}|hold)$")


class ProbingSketchRetention:
    name = PROBING_SKETCHES
    hold_target: HoldTarget | None = None  # heuristics about a key, nothing to hold

    def __init__(self, store: ProbingStore) -> None:
        self._store = store

    def is_item_id(self, item_id: str) -> bool:
        return _SKETCH_ID.fullmatch(item_id) is not None

    def exists(self, item_id: str) -> bool:
        return self._store.due_at(item_id) is not None

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        return self._store.due_on(day, after=after, limit=limit)

    def due_at(self, item_id: str) -> datetime | None:
        return self._store.due_at(item_id)

    def erase(self, item_id: str, cutoff: datetime) -> Counter[str]:
        return Counter({PROBING_SKETCHES: int(self._store.delete_due(item_id, cutoff))})

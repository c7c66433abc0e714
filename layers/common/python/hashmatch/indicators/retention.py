"""Indicator provenance as a data class with retention: a revoked indicator's provenance is erased
RevokedProvenanceRetentionDays after the revocation; the indicator record itself stays."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

from hashmatch.clock import Clock
from hashmatch.indicators.model import ID_PATTERN
from hashmatch.indicators.ports import IndicatorStore
from hashmatch.retention.ports import DueItem, HoldTarget

INDICATOR_PROVENANCE = "indicator_provenance"
_INDICATOR_ID = re.compile(ID_PATTERN)


class ProvenanceRetention:
    name = INDICATOR_PROVENANCE
    hold_target = HoldTarget.INDICATOR

    def __init__(self, indicators: IndicatorStore, clock: Clock) -> None:
        self._indicators = indicators
        self._clock = clock

    def is_item_id(self, item_id: str) -> bool:
        return _INDICATOR_ID.fullmatch(item_id) is not None

    def exists(self, item_id: str) -> bool:
        return self._indicators.get(item_id) is not None

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        return self._indicators.provenance_due_on(day, after=after, limit=limit)

    def due_at(self, item_id: str) -> datetime | None:
        indicator = self._indicators.get(item_id)
        return indicator.provenance_erase_after if indicator is not None else None

    def erase(self, item_id: str, cutoff: datetime) -> Counter[str]:
        erased = self._indicators.erase_provenance(item_id, cutoff=cutoff, now=self._clock.now())
        return Counter({INDICATOR_PROVENANCE: int(erased)})

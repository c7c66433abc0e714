"""Domain objects for tests, built one way everywhere."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hashmatch.access.model import Principal
from hashmatch.matching.events import MatchEvent, new_match_id


def a_match_event(
    principal: Principal,
    matched_at: datetime,
    *,
    retention: timedelta = timedelta(days=90),
    **changes: Any,
) -> MatchEvent:
    """A stored-to-be match of ``principal``'s, kept for ``retention`` unless cited."""
    event = MatchEvent(
        match_id=new_match_id(),
        provider=principal.owner,
        client_id=principal.client_id,
        indicator_id="ind_" + "0" * 22,
        database="known",
        media_type="image",
        hash_type="pdq",
        distance=3,
        threshold=31,
        index_version=1,
        matched_at=matched_at,
        expires_at=matched_at + retention,
    )
    return event.model_copy(update=changes) if changes else event

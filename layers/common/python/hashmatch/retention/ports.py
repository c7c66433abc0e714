"""What erasure needs from each store: its items by due day, and a delete that re-checks.

Each store keeps a due-date index (DynamoDB: a sparse GSI, partition = due day YYYY-MM-DD, sort =
item id) written when the item's due date becomes known, so finding what is due costs one query
per day and class, never a table scan. Deletes are conditional on the item still being due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hashmatch.indicators.model import Indicator
from hashmatch.reports.model import Report


@dataclass(frozen=True, order=True)
class DueItem:
    item_id: str
    due_at: datetime


class ExpiringMatchEvents(Protocol):
    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        """Uncited events due on ``day``, by id, after ``after``."""

    def expiry_of(self, match_id: str) -> datetime | None:
        """An uncited event's expiry; None if it is gone or cited by a report."""

    def delete_uncited(self, match_id: str, cutoff: datetime) -> bool:
        """Delete if still uncited and expired by ``cutoff``; False if not (or gone)."""

    def delete_cited(self, match_ids: Sequence[str], report_id: str) -> int:
        """Delete the events among ``match_ids`` that ``report_id`` cites; how many were."""


class ErasableReports(Protocol):
    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]: ...

    def get(self, report_id: str) -> Report | None: ...

    def delete(self, report_id: str) -> None: ...


class ErasableProvenance(Protocol):
    def provenance_due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]: ...

    def get(self, indicator_id: str) -> Indicator | None: ...

    def erase_provenance(self, indicator_id: str, *, cutoff: datetime, now: datetime) -> bool:
        """Drop the provenance of a revoked indicator due by ``cutoff``; the record stays."""


class ExpiringCounters(Protocol):
    def delete_day(self, day: str) -> int:
        """Delete every counter of ``day`` (YYYY-MM-DD); how many there were."""


class ErasureProgress(BaseModel):
    """A run's progress, saved as it goes: the next run resumes an unfinished one."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    started_at: AwareDatetime
    first_day: str
    last_day: str
    day: str
    step: int = 0
    after: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    skipped_on_hold: int = 0
    interruptions: int = 0
    state: Literal["erasing", "receipt", "done"] = "erasing"
    receipt_after_seq: int | None = None


class ErasureProgressStore(Protocol):
    def load(self) -> ErasureProgress | None: ...

    def save(self, progress: ErasureProgress) -> None: ...

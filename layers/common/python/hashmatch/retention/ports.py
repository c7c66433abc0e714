"""What erasure needs from each data class, and where it keeps its own progress.

Every data class that erase_expired enforces registers one small port, :class:`ErasableData`
(wired in the composition root): what is due on a day, erasing an item with what it owns, when
one item falls due, and what a legal hold on it targets. Erasure knows nothing else about
reports, match events, indicators or statistics.

Each store keeps a due-date index (DynamoDB: a sparse GSI, partition = due day YYYY-MM-DD, sort =
item id) written when the item's due date becomes known, so finding what is due costs one query
per day and class, never a table scan. Deletes are conditional on the item still being due.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


@dataclass(frozen=True, order=True)
class DueItem:
    item_id: str
    due_at: datetime


# What an authority may place a legal hold on (the legal-hold API's ``target_class``). No
# docstring: it would become the enum's description in the OpenAPI document.
class HoldTarget(StrEnum):
    REPORT = "report"
    MATCH_EVENT = "match_event"
    INDICATOR = "indicator"


class ErasableData(Protocol):
    """One data class with a retention period."""

    @property
    def name(self) -> str:
        """The class's key in erasure receipts ("reports")."""

    @property
    def hold_target(self) -> HoldTarget | None:
        """What a legal hold on one of its items names; None: items cannot be held."""

    def is_item_id(self, item_id: str) -> bool:
        """Whether ``item_id`` has the shape of one of its ids (legal holds check it)."""

    def exists(self, item_id: str) -> bool:
        """Whether the item is there to be held (a hold on nothing is refused)."""

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        """Items due on ``day`` (YYYY-MM-DD), by id, after ``after``; at most ``limit``."""

    def due_at(self, item_id: str) -> datetime | None:
        """When the item falls due as it is now; None if it is gone or not due at all."""

    def erase(self, item_id: str, cutoff: datetime) -> Counter[str]:
        """Erase the item, with what it owns, if still due by ``cutoff``; what was erased, per
        data class name (nothing if it was not due any more)."""


class ErasureProgress(BaseModel):
    """A run's progress, saved as it goes: the next run resumes an unfinished one.

    ``step`` names the data class being worked through on ``day`` ("" before the first one).
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    started_at: AwareDatetime
    first_day: str
    last_day: str
    day: str
    step: str = ""
    after: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    skipped_on_hold: int = 0
    interruptions: int = 0
    state: Literal["erasing", "receipt", "done"] = "erasing"
    receipt_after_seq: int | None = None


class ErasureCounter(Protocol):
    """Where an erasure run's receipt is counted (hashmatch.statistics.counting.Statistics)."""

    def erasure_receipted(self, *, run_id: str, at: datetime, erased: Mapping[str, int]) -> bool:
        """Count what the run erased, per data class, once per run id."""


class ErasureProgressStore(Protocol):
    def load(self) -> ErasureProgress | None: ...

    def save(self, progress: ErasureProgress) -> None: ...

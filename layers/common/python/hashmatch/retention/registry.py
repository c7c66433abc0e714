"""The registry of erasable data classes: the one list erase_expired and legal holds work from.

The composition root builds it (hashmatch.bootstrap.erasable_data); a new data class with a
retention period registers there and nowhere else (docs/architecture.md, "How to add a data
class with retention").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hashmatch.retention.ports import ErasableData, HoldTarget

# The last step of every erasure day: re-examine the targets of holds that ended that day.
ENDED_HOLDS_STEP = "ended_holds"
# The audit log is erased once per run, behind a sealed checkpoint, after every day is done.
AUDIT_ENTRIES = "audit_entries"


class ErasureRegistry:
    def __init__(self, classes: Iterable[ErasableData]) -> None:
        self._classes = tuple(classes)
        names = [data.name for data in self._classes]
        if len(set(names)) != len(names) or {ENDED_HOLDS_STEP, AUDIT_ENTRIES} & set(names):
            raise ValueError(f"data class names must be unique and not reserved: {names}")
        # Several classes may share a hold target (a report's parts are held with it); the first
        # to name it is the target's own class, whose ids the hold API checks.

    def __iter__(self) -> Iterator[ErasableData]:
        return iter(self._classes)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(data.name for data in self._classes)

    @property
    def receipt_keys(self) -> tuple[str, ...]:
        """Every key of an erasure receipt's counts, in order."""
        return (*self.names, AUDIT_ENTRIES)

    def for_target(self, target: HoldTarget) -> ErasableData | None:
        """The target's own class (the first registered with it)."""
        return next((data for data in self._classes if data.hold_target is target), None)

    def held_with(self, target: HoldTarget) -> tuple[ErasableData, ...]:
        """Every class whose items a hold on ``target`` keeps (the target's own class first)."""
        return tuple(data for data in self._classes if data.hold_target is target)

    def steps(self) -> tuple[str, ...]:
        """The steps of one erasure day: each data class, then the ended holds."""
        return (*self.names, ENDED_HOLDS_STEP)

    def get(self, name: str) -> ErasableData:
        return next(data for data in self._classes if data.name == name)

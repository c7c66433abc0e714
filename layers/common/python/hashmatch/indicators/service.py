"""Curation: adding indicators with provenance, bulk import, and status changes.

Adding is idempotent by construction: the id is derived from the hash and database, a new
indicator is a conditional create, and provenance is appended only if the same assessment is not
already recorded. Re-sending a batch or re-running an import therefore changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from hashmatch.access.model import Principal
from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import Conflict, InvalidInput, NotFound
from hashmatch.indicators.importing import read_rows
from hashmatch.indicators.model import (
    ID_PATTERN,
    Indicator,
    IndicatorPage,
    IndicatorStatus,
    Submission,
    validation_faults,
)
from hashmatch.indicators.ports import IndicatorStore
from hashmatch.input_types import NOW
from hashmatch.statistics.counting import IndicatorEvent, Statistics
from hashmatch.statistics.model import IndicatorChange

MAX_BATCH_ITEMS = 500
MAX_PAGE_SIZE = 100
# A retried batch within this long repairs the count of additions an earlier attempt lost.
COUNT_REPAIR_WINDOW = timedelta(days=1)
# An import request must finish within API Gateway's 29 s: the CLI sends larger files in parts.
MAX_IMPORT_ROWS = 1000
_ID = re.compile(ID_PATTERN)


class ItemOutcome(StrEnum):
    CREATED = "created"  # a new indicator
    EXISTING = "existing"  # the hash was there: its provenance was appended if new
    INVALID = "invalid"  # nothing changed for this item


@dataclass(frozen=True)
class ItemResult:
    """What happened to one submitted item; ``position`` is its batch index or import line."""

    position: int
    outcome: ItemOutcome
    indicator: Indicator | None = None
    provenance_added: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class BatchResult:
    items: list[ItemResult]

    def count(self, outcome: ItemOutcome) -> int:
        return sum(1 for item in self.items if item.outcome is outcome)

    @property
    def all_invalid(self) -> bool:
        return bool(self.items) and self.count(ItemOutcome.INVALID) == len(self.items)

    def faults(self) -> list[dict[str, Any]]:
        return [fault for item in self.items for fault in item.errors]


@dataclass(frozen=True)
class CuratorScope:
    """The databases and hash types a curator's client record allows: it adds, reads and
    changes indicators only within them (anything else is as if it did not exist)."""

    databases: frozenset[str]
    hash_types: frozenset[str]

    def admits(self, database: str, hash_type: str) -> bool:
        return database in self.databases and hash_type in self.hash_types

    @classmethod
    def of(cls, curator: Principal) -> CuratorScope:
        return cls(frozenset(curator.databases), frozenset(curator.hash_types))


CURATOR_ROLE = "curator"
_STATUS_ACTIONS = {
    IndicatorStatus.REVOKED: AuditAction.INDICATOR_REVOKED,
    IndicatorStatus.SUSPENDED: AuditAction.INDICATOR_SUSPENDED,
    IndicatorStatus.ACTIVE: AuditAction.INDICATOR_REINSTATED,
}


class IndicatorService:
    """Every change (and every read by a curator) is recorded in the audit log.

    ``provenance_retention``: how long a revoked indicator's provenance is kept (the retention
    policy's RevokedProvenanceRetentionDays). Every addition and status change is counted
    (``statistics``), once per indicator and change.
    """

    def __init__(
        self,
        store: IndicatorStore,
        clock: Clock,
        audit: AuditLog,
        *,
        provenance_retention: timedelta,
        statistics: Statistics,
    ) -> None:
        self._statistics = statistics
        self._store = store
        self._clock = clock
        self._audit = audit
        self._provenance_retention = provenance_retention

    # -- adding --------------------------------------------------------------------------------

    def add_batch(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        submitted_by: str,
        scope: CuratorScope | None = None,
    ) -> BatchResult:
        """Validate each item on its own; store the valid ones. ``loc`` is ["items", i, field].

        ``scope``: the curator's databases and hash types (None: tools with no client record);
        an item outside it is invalid (``not-allowed``)."""
        if not 0 < len(items) <= MAX_BATCH_ITEMS:
            raise InvalidInput(f"a batch holds 1 to {MAX_BATCH_ITEMS} items, got {len(items)}")
        parsed: list[tuple[int, Submission | None, list[dict[str, Any]]]] = []
        now = self._clock.now()
        for index, raw in enumerate(items):
            parsed.append((index, *_parse(raw, now, scope, "items", index)))
        return self._store_all(parsed, submitted_by)

    def import_rows(
        self,
        body: str,
        content_type: str,
        *,
        submitted_by: str,
        scope: CuratorScope | None = None,
    ) -> BatchResult:
        """CSV or JSON lines; each row's result and faults name its line (loc ["line", n, ...])."""
        parsed: list[tuple[int, Submission | None, list[dict[str, Any]]]] = []
        now = self._clock.now()
        for row in read_rows(body, content_type):
            if len(parsed) == MAX_IMPORT_ROWS:
                raise InvalidInput(
                    f"an import request holds at most {MAX_IMPORT_ROWS} rows; send it in parts"
                )
            if row.item is None:
                fault = {"loc": ["line", row.line], "msg": row.fault or "unreadable row"}
                parsed.append((row.line, None, [fault]))
            else:
                parsed.append((row.line, *_parse(row.item, now, scope, "line", row.line)))
        if not parsed:
            raise InvalidInput("the import holds no rows")
        return self._store_all(parsed, submitted_by)

    def _store_all(
        self,
        parsed: list[tuple[int, Submission | None, list[dict[str, Any]]]],
        submitted_by: str,
    ) -> BatchResult:
        wanted = {sub.indicator_id for _, sub, _ in parsed if sub is not None}
        # One batched read finds what exists, so an unchanged re-run costs no writes at all.
        known: dict[str, Indicator] = dict(self._store.get_many(wanted)) if wanted else {}
        results: list[ItemResult] = []
        for position, submission, faults in parsed:
            if submission is None:
                results.append(ItemResult(position, ItemOutcome.INVALID, errors=faults))
                continue
            results.append(self._store_one(position, submission, submitted_by, known))
        batch = BatchResult(results)
        self._record_additions(batch, submitted_by)
        # Existing ones created lately too: their additions were counted once (by id) and add
        # nothing now, unless the count of the request that created them was lost (a retry then
        # repairs it). Older ones are not looked at: their counts may be erased by now.
        recent = self._clock.now() - COUNT_REPAIR_WINDOW
        self._statistics.indicators_changed(
            [
                _counted(item.indicator, IndicatorChange.ADDED, item.indicator.created_at, +1)
                for item in batch.items
                if item.indicator is not None
                and (item.outcome is ItemOutcome.CREATED or item.indicator.created_at >= recent)
            ]
        )
        return batch

    def _record_additions(self, batch: BatchResult, curator: str) -> None:
        """One audit entry per batch and kind of change (an import of 1,000 rows is one write)."""
        created = [
            i.indicator.id for i in batch.items if i.outcome is ItemOutcome.CREATED and i.indicator
        ]
        appended = [i.indicator.id for i in batch.items if i.provenance_added and i.indicator]
        for action, ids in (
            (AuditAction.INDICATORS_ADDED, created),
            (AuditAction.INDICATOR_PROVENANCE_ADDED, appended),
        ):
            if ids:
                self._audit.record(action, actor=curator, role=CURATOR_ROLE, targets=ids)

    def _store_one(
        self,
        position: int,
        submission: Submission,
        submitted_by: str,
        known: dict[str, Indicator],
    ) -> ItemResult:
        provenance = submission.provenance_by(submitted_by)
        now = self._clock.now()
        existing = known.get(submission.indicator_id)
        if existing is None:
            indicator = Indicator(
                id=submission.indicator_id,
                hash_type=submission.hash_type,
                hash_value=submission.hash,
                companion=submission.companion,
                variants=submission.indicator_variants,
                database=submission.database,
                media_type=submission.media_type,
                provenance=(provenance,),
                created_at=now,
                updated_at=now,
                changed_at=now,
            )
            try:
                self._store.create(indicator)
            except Conflict:
                # A concurrent add of the same hash won the create: join it as a duplicate.
                existing = self._store.get(indicator.id)
                if existing is None:
                    raise
            else:
                known[indicator.id] = indicator
                return ItemResult(position, ItemOutcome.CREATED, indicator)
        added = False
        if provenance.key not in existing.provenance_keys:
            added = self._store.append_provenance(existing.id, provenance, now)
            if added:
                existing = existing.model_copy(
                    update={"provenance": (*existing.provenance, provenance), "updated_at": now}
                )
                known[existing.id] = existing
        return ItemResult(position, ItemOutcome.EXISTING, existing, provenance_added=added)

    # -- reading -------------------------------------------------------------------------------

    def get(self, indicator_id: str, scope: CuratorScope | None = None) -> Indicator:
        """The indicator; NotFound if there is none, or it is outside the curator's scope."""
        indicator = self._store.get(indicator_id) if _ID.match(indicator_id) else None
        if indicator is None or (
            scope is not None and not scope.admits(indicator.database.value, indicator.hash_type)
        ):
            raise NotFound(f"no indicator {indicator_id!r}")
        return indicator

    def read(self, indicator_id: str, *, by: str, scope: CuratorScope | None = None) -> Indicator:
        """A curator's read: every one is audited (access only as far as necessary, logged)."""
        indicator = self.get(indicator_id, scope)
        self._audit.record(
            AuditAction.INDICATOR_READ, actor=by, role=CURATOR_ROLE, targets=[indicator.id]
        )
        return indicator

    def needs_review(self, *, by: str, limit: int, cursor: str | None) -> IndicatorPage:
        """The re-verification list (indicators disputed by review decisions), audited as a
        read of the indicators it shows."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"limit must be 1 to {MAX_PAGE_SIZE}",
                errors=[{"loc": ["query", "limit"], "msg": f"1 to {MAX_PAGE_SIZE}"}],
            )
        page = self._store.needs_review(limit=limit, cursor=cursor)
        if page.indicators:
            self._audit.record(
                AuditAction.INDICATOR_READ,
                actor=by,
                role=CURATOR_ROLE,
                targets=[indicator.id for indicator in page.indicators],
                details={"list": "needs_review"},
            )
        return page

    # -- status --------------------------------------------------------------------------------

    def revoke(
        self, indicator_id: str, *, reason: str, by: str, scope: CuratorScope | None = None
    ) -> Indicator:
        """Revoked is final. Revoking a revoked indicator returns it unchanged."""
        return self._move(indicator_id, IndicatorStatus.REVOKED, reason=reason, by=by, scope=scope)

    def suspend(
        self, indicator_id: str, *, reason: str, by: str, scope: CuratorScope | None = None
    ) -> Indicator:
        return self._move(
            indicator_id, IndicatorStatus.SUSPENDED, reason=reason, by=by, scope=scope
        )

    def reinstate(
        self,
        indicator_id: str,
        *,
        by: str,
        reason: str | None = None,
        scope: CuratorScope | None = None,
    ) -> Indicator:
        return self._move(indicator_id, IndicatorStatus.ACTIVE, reason=reason, by=by, scope=scope)

    def _move(
        self,
        indicator_id: str,
        target: IndicatorStatus,
        *,
        reason: str | None,
        by: str,
        scope: CuratorScope | None,
    ) -> Indicator:
        allowed_from = _ALLOWED_FROM[target]
        for _ in range(3):  # a concurrent status change makes the conditional write fail: re-read
            current = self.get(indicator_id, scope)
            if current.status is target:
                return current
            if current.status not in allowed_from:
                raise Conflict(
                    f"indicator {indicator_id} is {current.status.value}; "
                    f"it cannot become {target.value}"
                )
            now = self._clock.now()
            erase_after = now + self._provenance_retention
            try:
                changed = self._store.change_status(
                    indicator_id,
                    expected=current.status,
                    status=target,
                    reason=reason,
                    by=by,
                    now=now,
                    provenance_erase_after=erase_after
                    if target is IndicatorStatus.REVOKED
                    else None,
                )
            except Conflict:
                continue
            self._audit.record(
                _STATUS_ACTIONS[target],
                actor=by,
                role=CURATOR_ROLE,
                targets=[indicator_id],
                details={"from": current.status.value, "to": target.value},
            )
            was_active = current.status is IndicatorStatus.ACTIVE
            is_active = target is IndicatorStatus.ACTIVE
            if not changed.negative:  # a negative indicator is no indicator of material
                self._statistics.indicators_changed(
                    [_counted(changed, _CHANGES[target], now, int(is_active) - int(was_active))]
                )
            return changed
        raise Conflict(f"indicator {indicator_id} keeps changing; try again")


_CHANGES = {
    IndicatorStatus.REVOKED: IndicatorChange.REVOKED,
    IndicatorStatus.SUSPENDED: IndicatorChange.SUSPENDED,
    IndicatorStatus.ACTIVE: IndicatorChange.REINSTATED,
}


def _counted(
    indicator: Indicator, change: IndicatorChange, at: datetime, active_change: int
) -> IndicatorEvent:
    """The change as statistics count it: per database, media type and the Member State of the
    first assessment (the submitting one)."""
    return IndicatorEvent(
        indicator_id=indicator.id,
        change=change,
        at=at,
        database=indicator.database.value,
        media_type=indicator.media_type.value,
        member_state=indicator.provenance[0].member_state if indicator.provenance else None,
        active_change=active_change,
    )


_ALLOWED_FROM: dict[IndicatorStatus, frozenset[IndicatorStatus]] = {
    IndicatorStatus.REVOKED: frozenset({IndicatorStatus.ACTIVE, IndicatorStatus.SUSPENDED}),
    IndicatorStatus.SUSPENDED: frozenset({IndicatorStatus.ACTIVE}),
    IndicatorStatus.ACTIVE: frozenset({IndicatorStatus.SUSPENDED}),
}


def _parse(
    raw: Mapping[str, Any] | Any, now: datetime, scope: CuratorScope | None, *prefix: str | int
) -> tuple[Submission | None, list[dict[str, Any]]]:
    if not isinstance(raw, Mapping):
        return None, [{"loc": list(prefix), "msg": "must be a JSON object"}]
    try:
        # ``now``: an assessment in the future is refused (input_types.EventTime).
        submission = Submission.model_validate(dict(raw), context={NOW: now})
    except ValidationError as error:
        return None, validation_faults(error, *prefix)
    if scope is not None and not scope.admits(submission.database.value, submission.hash_type):
        return None, [
            {
                "loc": list(prefix),
                "msg": f"not-allowed: this client may not curate {submission.hash_type} "
                f"indicators in {submission.database.value}",
            }
        ]
    return submission, []

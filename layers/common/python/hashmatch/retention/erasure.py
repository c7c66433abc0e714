"""erase_expired's work: erase what is due, day by day through the due-date indexes of every
registered data class (:class:`~hashmatch.retention.registry.ErasureRegistry`), and write one
erasure receipt per run to the audit log.

A run covers the days from where the last run stopped up to today, and erases what was due at
the moment it started (its cutoff). It saves its position after every page, stops when asked to
(Lambda's remaining time), and the next invocation resumes it: same run id, same cutoff, counts
carried on, and still exactly one receipt. Today is never finished (items fall due all day
long), so every run starts again at the day the previous one ended.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from hashmatch.audit.chain import ChainedAuditLog
from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AnchorStore, CheckpointSealer
from hashmatch.clock import Clock
from hashmatch.observability import logger
from hashmatch.retention.holds import LegalHoldService, LegalHoldStore
from hashmatch.retention.ports import (
    ErasableData,
    ErasureCounter,
    ErasureProgress,
    ErasureProgressStore,
    HoldTarget,
)
from hashmatch.retention.registry import AUDIT_ENTRIES, ENDED_HOLDS_STEP, ErasureRegistry
from hashmatch.retention_policy import day_of, due_day

ERASER_ACTOR = "erase_expired"
ERASER_ROLE = "function"
PAGE_SIZE = 25
SAVE_EVERY_STEPS = 25
# The first run ever looks back this far (every item's due day is after its creation, and the
# function is deployed with the stores, so nothing can be due earlier).
FIRST_RUN_LOOKBACK = timedelta(days=31)


class ErasureOutcome:
    def __init__(self, progress: ErasureProgress, receipt_seq: int | None) -> None:
        self.run_id = progress.run_id
        self.finished = progress.state == "done"
        self.counts = dict(progress.counts)
        self.skipped_on_hold = progress.skipped_on_hold
        self.first_day = progress.first_day
        self.last_day = progress.last_day
        self.receipt_seq = receipt_seq

    def as_dict(self) -> dict[str, object]:
        return dict(vars(self))


class Erasure:
    def __init__(
        self,
        *,
        registry: ErasureRegistry,
        audit_retention: timedelta,
        clock: Clock,
        progress: ErasureProgressStore,
        holds: LegalHoldStore,
        hold_service: LegalHoldService,
        audit: ChainedAuditLog,
        sealer: CheckpointSealer,
        statistics: ErasureCounter,
        anchors: AnchorStore,
    ) -> None:
        self._statistics = statistics
        self._registry = registry
        self._audit_retention = audit_retention
        self._clock = clock
        self._progress = progress
        self._holds = holds
        self._hold_service = hold_service
        self._audit = audit
        self._sealer = sealer
        self._anchors = anchors

    # -- the run -------------------------------------------------------------------------------

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> ErasureOutcome:
        progress = self._start_or_resume()
        cutoff = progress.started_at
        unsaved = 0
        while progress.state == "erasing":
            if should_stop():
                return self._interrupted(progress)
            before = (progress.counts, progress.skipped_on_hold)
            progress = self._advance(progress, cutoff)
            unsaved += 1
            # Saved whenever something was erased (counts stay exact) and every few empty steps:
            # redoing a few empty steps after a crash costs a few queries and changes nothing.
            changed = (progress.counts, progress.skipped_on_hold) != before
            if changed or unsaved >= SAVE_EVERY_STEPS or progress.state != "erasing":
                self._progress.save(progress)
                unsaved = 0
        if progress.state == "receipt":
            progress, receipt_seq = self._write_receipt_once(progress)
            # Counted under the run id: a run resumed after dying here counts it once.
            self._statistics.erasure_receipted(
                run_id=progress.run_id,
                at=progress.started_at,
                erased={key: progress.counts.get(key, 0) for key in self._registry.receipt_keys},
            )
            progress = progress.model_copy(update={"state": "done"})
            self._progress.save(progress)
            return ErasureOutcome(progress, receipt_seq)
        return ErasureOutcome(progress, None)

    def _start_or_resume(self) -> ErasureProgress:
        previous = self._progress.load()
        if previous is not None and previous.state != "done":
            logger.info("resuming an interrupted erasure run", extra={"run_id": previous.run_id})
            return previous
        now = self._clock.now()
        today = due_day(now)
        first = previous.last_day if previous else due_day(now - FIRST_RUN_LOOKBACK)
        progress = ErasureProgress(
            run_id="er_" + secrets.token_hex(8),
            started_at=now,
            first_day=first,
            last_day=today,
            day=first,
            step=self._registry.steps()[0],
        )
        self._progress.save(progress)
        return progress

    def _interrupted(self, progress: ErasureProgress) -> ErasureOutcome:
        progress = progress.model_copy(update={"interruptions": progress.interruptions + 1})
        self._progress.save(progress)
        logger.info("erasure run paused; the next run resumes it", extra={"day": progress.day})
        return ErasureOutcome(progress, None)

    def _advance(self, progress: ErasureProgress, cutoff: datetime) -> ErasureProgress:
        """One page of work: a page of one data class on one day, or the final audit erasure."""
        if progress.day > progress.last_day:
            erased = self._audit.erase_before(
                cutoff - self._audit_retention, self._sealer, anchors=self._anchors
            )
            return _counted(progress, Counter({AUDIT_ENTRIES: erased})).model_copy(
                update={"state": "receipt"}
            )
        steps = self._registry.steps()
        step = progress.step if progress.step in steps else steps[0]
        counts: Counter[str] = Counter()
        skipped = 0
        last_id: str | None = None
        if step == ENDED_HOLDS_STEP:
            for hold in self._holds.ending_on(progress.day):
                if hold.ends_at > cutoff:
                    continue  # ends later today: the next run looks at today again
                counts.update(self._reexamine(hold.target_class, hold.target_id, cutoff))
                self._holds.forget(hold.hold_id)
            done = True
        else:
            data = self._registry.get(step)
            items = data.due_on(progress.day, after=progress.after, limit=PAGE_SIZE)
            for item in items:
                last_id = item.item_id
                if item.due_at > cutoff:
                    continue  # due later today, after this run's cutoff
                if self._is_held(data, item.item_id, cutoff):
                    skipped += 1
                    continue
                counts.update(data.erase(item.item_id, cutoff))
            done = len(items) < PAGE_SIZE
        progress = _counted(progress, counts)
        progress = progress.model_copy(
            update={"skipped_on_hold": progress.skipped_on_hold + skipped}
        )
        if not done:
            return progress.model_copy(update={"step": step, "after": last_id})
        position = steps.index(step)
        if position + 1 < len(steps):
            return progress.model_copy(update={"step": steps[position + 1], "after": None})
        next_day = (day_of(progress.day) + timedelta(days=1)).isoformat()
        return progress.model_copy(update={"day": next_day, "step": steps[0], "after": None})

    def _is_held(self, data: ErasableData, item_id: str, cutoff: datetime) -> bool:
        target = data.hold_target
        return target is not None and self._hold_service.is_held(target, item_id, cutoff)

    def _reexamine(self, target: HoldTarget, target_id: str, cutoff: datetime) -> Counter[str]:
        """A hold ended: erase what it kept (the target and the parts held with it) if it fell
        due meanwhile and nothing else holds it (erasing the target takes its parts along)."""
        if self._hold_service.is_held(target, target_id, cutoff):
            return Counter()
        erased: Counter[str] = Counter()
        for data in self._registry.held_with(target):
            due = data.due_at(target_id)
            if due is not None and due <= cutoff:
                erased.update(data.erase(target_id, cutoff))
        return erased

    # -- the receipt ---------------------------------------------------------------------------

    def _write_receipt_once(self, progress: ErasureProgress) -> tuple[ErasureProgress, int]:
        """Append the receipt unless an earlier attempt of this run already did."""
        if progress.receipt_after_seq is not None:
            for entry in self._audit.entries_from(progress.receipt_after_seq + 1):
                if (
                    entry.action == AuditAction.ERASURE_RECEIPT
                    and entry.details.get("run_id") == progress.run_id
                ):
                    return progress, entry.seq
        else:
            head = self._audit.last()
            progress = progress.model_copy(update={"receipt_after_seq": head.seq if head else 0})
            self._progress.save(progress)
        counts = {key: progress.counts.get(key, 0) for key in self._registry.receipt_keys}
        entry = self._audit.record(
            AuditAction.ERASURE_RECEIPT,
            actor=ERASER_ACTOR,
            role=ERASER_ROLE,
            details={
                "run_id": progress.run_id,
                "period": {"from": progress.first_day, "through": progress.last_day},
                "cutoff": progress.started_at.isoformat(),
                "erased": counts,
                "skipped_on_hold": progress.skipped_on_hold,
                "interruptions": progress.interruptions,
            },
        )
        logger.info("erasure receipt written", extra={"run_id": progress.run_id, "seq": entry.seq})
        return progress, entry.seq


def _counted(progress: ErasureProgress, counts: Counter[str]) -> ErasureProgress:
    merged = Counter(progress.counts)
    merged.update(counts)
    return progress.model_copy(update={"counts": dict(merged)})

"""The hash chain: appending without forks, paging, verification, and erasure behind a checkpoint.

Appending reads the last entry, builds the next one on it and stores it with a conditional put on
its number; a concurrent writer that took the number first makes the put fail, and the append is
built again on the new last entry. Two writers can therefore never both extend the same entry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from hashmatch.audit.model import (
    GENESIS_DIGEST,
    Anchor,
    AnchorKind,
    AuditEntry,
    AuditPage,
    Checkpoint,
    Verification,
    checkpoint_payload,
)
from hashmatch.audit.ports import AnchorStore, AuditStore, CheckpointSealer
from hashmatch.clock import Clock
from hashmatch.errors import Conflict, DependencyUnavailable, InvalidInput

MAX_APPEND_ATTEMPTS = 25
MAX_PAGE_SIZE = 500
_READ_BATCH = 500


class ChainedAuditLog:
    def __init__(self, store: AuditStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # -- appending -----------------------------------------------------------------------------

    def record(
        self,
        action: str,
        *,
        actor: str,
        role: str,
        targets: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        for _ in range(MAX_APPEND_ATTEMPTS):
            seq, prev_digest = self._next_link()
            entry = AuditEntry(
                seq=seq,
                at=self._clock.now(),
                actor=actor,
                role=role,
                action=action,
                targets=tuple(targets),
                details=dict(details or {}),
                prev_digest=prev_digest,
            )
            try:
                self._store.put_next(entry)
            except Conflict:
                continue  # another writer took this number: build on its entry instead
            return entry
        raise DependencyUnavailable("the audit log is too busy to append; try again")

    def _next_link(self) -> tuple[int, str]:
        last = self._store.last()
        if last is not None:
            return last.seq + 1, last.digest
        checkpoint = self._store.checkpoint()
        if checkpoint is not None:  # everything was erased: continue from the checkpoint
            return checkpoint.through_seq + 1, checkpoint.digest
        return 1, GENESIS_DIGEST

    # -- reading -------------------------------------------------------------------------------

    def page(self, from_seq: int = 1, limit: int = 100) -> AuditPage:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"limit must be 1 to {MAX_PAGE_SIZE}",
                errors=[{"loc": ["query", "limit"], "msg": f"1 to {MAX_PAGE_SIZE}"}],
            )
        if from_seq < 1:
            raise InvalidInput(
                "from must be 1 or more", errors=[{"loc": ["query", "from"], "msg": ">= 1"}]
            )
        entries = self._store.read(from_seq, limit + 1)
        more = len(entries) > limit
        entries = entries[:limit]
        return AuditPage(entries=tuple(entries), next=entries[-1].seq + 1 if more else None)

    def entries_from(self, from_seq: int) -> Iterator[AuditEntry]:
        while True:
            batch = self._store.read(from_seq, _READ_BATCH)
            yield from batch
            if len(batch) < _READ_BATCH:
                return
            from_seq = batch[-1].seq + 1

    def last(self) -> AuditEntry | None:
        return self._store.last()

    def head(self) -> tuple[int, str] | None:
        """The number and digest the next entry builds on (None: nothing was ever recorded)."""
        seq, digest = self._next_link()
        return None if seq == 1 else (seq - 1, digest)

    # -- verification --------------------------------------------------------------------------

    def verify(self, sealer: CheckpointSealer, anchors: Sequence[Anchor] = ()) -> Verification:
        """Recompute the chain from its start (1, or the checkpoint) and name the first break.

        Each anchor (written outside the table) must match the entry it names, or the
        checkpoint if that entry was erased behind it, and must not name an entry past the
        chain's end: so a table rewritten consistently, digests and all, still fails at the
        first anchor it contradicts.
        """
        checkpoint = self._store.checkpoint()
        expected_seq, expected_prev = 1, GENESIS_DIGEST
        cp_seq = checkpoint.through_seq if checkpoint else None
        if checkpoint is not None:
            if not sealer.verify(checkpoint.sealed_payload(), checkpoint.seal):
                return Verification(
                    ok=False,
                    entries_checked=0,
                    checkpoint_seq=checkpoint.through_seq,
                    broken_at=checkpoint.through_seq,
                    problem="the checkpoint's seal does not verify: the checkpoint was altered",
                )
            expected_seq, expected_prev = checkpoint.through_seq + 1, checkpoint.digest
        pending = _AnchorWalk(anchors)
        problem = pending.before_start(expected_seq, checkpoint)
        if problem is not None:
            return Verification(
                ok=False,
                entries_checked=0,
                checkpoint_seq=cp_seq,
                broken_at=cp_seq,
                problem=problem,
                anchors_checked=pending.checked,
            )
        checked = 0
        first: int | None = None
        last: AuditEntry | None = None
        for entry in self.entries_from(expected_seq):
            first = entry.seq if first is None else first
            broken, problem = _link_problem(entry, expected_seq, expected_prev)
            if problem is None:
                broken, problem = entry.seq, pending.at(entry)
            if problem is not None:
                return Verification(
                    ok=False,
                    entries_checked=checked,
                    first_seq=first,
                    checkpoint_seq=cp_seq,
                    broken_at=broken,
                    problem=problem,
                    anchors_checked=pending.checked,
                )
            checked += 1
            expected_seq, expected_prev = entry.seq + 1, entry.digest
            last = entry
        head_seq = last.seq if last else cp_seq
        problem = pending.past_the_end(head_seq)
        return Verification(
            ok=problem is None,
            entries_checked=checked,
            first_seq=first,
            head_seq=head_seq,
            head_digest=last.digest if last else (checkpoint.digest if checkpoint else None),
            checkpoint_seq=cp_seq,
            broken_at=None if problem is None else (head_seq or 0) + 1,
            problem=problem,
            anchors_checked=pending.checked,
            latest_anchor_seq=pending.latest_seq,
        )

    # -- erasure past retention ----------------------------------------------------------------

    def erase_before(
        self,
        cutoff: datetime,
        sealer: CheckpointSealer,
        *,
        anchors: AnchorStore,
        max_entries: int = 5000,
    ) -> int:
        """Erase the entries appended before ``cutoff`` (a prefix: numbers follow time), behind a
        sealed checkpoint naming the last one erased. Returns how many were erased.

        The checkpoint is written first and remembers where deleting starts, so an interrupted
        erasure leaves a chain that verifies and is completed by the next call. Before anything
        is deleted, the checkpoint's entry and the chain's head are anchored outside the table.
        """
        checkpoint = self._store.checkpoint()
        erased = self._finish_pending(checkpoint, anchors)
        start = checkpoint.through_seq + 1 if checkpoint else 1
        last_due: AuditEntry | None = None
        for entry in self.entries_from(start):
            if entry.at > cutoff or entry.seq - start >= max_entries:
                break
            last_due = entry
        head = self._store.last()
        if last_due is None or (head is not None and head.seq == last_due.seq):
            # The newest entry is never erased: the chain must keep a head to append to.
            return erased
        now = self._clock.now()
        new_checkpoint = Checkpoint(
            through_seq=last_due.seq,
            digest=last_due.digest,
            erased_at=now,
            seal=sealer.seal(checkpoint_payload(last_due.seq, last_due.digest, now)),
            pending_from=start,
        )
        self._store.put_checkpoint(new_checkpoint)
        return erased + self._finish_pending(new_checkpoint, anchors)

    def _finish_pending(self, checkpoint: Checkpoint | None, anchors: AnchorStore) -> int:
        if checkpoint is None or checkpoint.pending_from is None:
            return 0
        now = self._clock.now()
        anchors.put(checkpoint.through_seq, checkpoint.digest, kind=AnchorKind.CHECKPOINT, at=now)
        head = self._store.last()
        if head is not None:
            anchors.put(head.seq, head.digest, kind=AnchorKind.HEAD, at=now)
        seqs = list(range(checkpoint.pending_from, checkpoint.through_seq + 1))
        for start in range(0, len(seqs), 25):
            self._store.delete(seqs[start : start + 25])
        self._store.put_checkpoint(checkpoint.model_copy(update={"pending_from": None}))
        return len(seqs)


def _link_problem(
    entry: AuditEntry, expected_seq: int, expected_prev: str
) -> tuple[int, str | None]:
    """Where and why the chain breaks at ``entry`` (None: the link holds)."""
    if entry.seq != expected_seq:
        problem = (
            f"entry {expected_seq} is missing (the next entry found is {entry.seq})"
            if entry.seq > expected_seq
            else f"entry {entry.seq} appears out of order"
        )
        return expected_seq, problem
    if entry.prev_digest != expected_prev:
        problem = (
            f"entry {entry.seq} does not carry the digest of entry {entry.seq - 1}: "
            f"entry {entry.seq - 1} or {entry.seq} was edited, replaced or reordered"
            if entry.seq > 1
            else "entry 1 does not start the chain"
        )
        return entry.seq, problem
    return entry.seq, None


class _AnchorWalk:
    """The anchors, compared in entry order with the chain as verification walks it."""

    def __init__(self, anchors: Sequence[Anchor]) -> None:
        self._anchors = sorted(anchors, key=lambda anchor: anchor.seq)
        self._next = 0
        self.checked = 0
        self.latest_seq = self._anchors[-1].seq if self._anchors else None

    def before_start(self, start_seq: int, checkpoint: Checkpoint | None) -> str | None:
        """Anchors of erased entries: only the checkpoint's own entry can still be compared."""
        while self._next < len(self._anchors) and self._anchors[self._next].seq < start_seq:
            anchor = self._anchors[self._next]
            self._next += 1
            if checkpoint is None or anchor.seq != checkpoint.through_seq:
                continue  # erased long ago: nothing left to compare it with
            self.checked += 1
            if anchor.digest != checkpoint.digest:
                return (
                    f"the checkpoint gives entry {anchor.seq} the digest "
                    f"{checkpoint.digest[:16]}..., but {anchor.described()} records "
                    f"{anchor.digest[:16]}...: the chain was rewritten before it was erased"
                )
        return None

    def at(self, entry: AuditEntry) -> str | None:
        while self._next < len(self._anchors) and self._anchors[self._next].seq == entry.seq:
            anchor = self._anchors[self._next]
            self._next += 1
            self.checked += 1
            if anchor.digest != entry.digest:
                return (
                    f"entry {entry.seq} has the digest {entry.digest[:16]}..., but "
                    f"{anchor.described()} records {anchor.digest[:16]}...: the table was "
                    "rewritten after that anchor was written"
                )
        return None

    def past_the_end(self, head_seq: int | None) -> str | None:
        if self._next >= len(self._anchors):
            return None
        anchor = self._anchors[-1]
        return (
            f"{anchor.described()} records entry {anchor.seq}, but the chain ends at entry "
            f"{head_seq or 0}: entries were removed from its end"
        )

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
    AuditEntry,
    AuditPage,
    Checkpoint,
    Verification,
    checkpoint_payload,
)
from hashmatch.audit.ports import AuditStore, CheckpointSealer
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

    # -- verification --------------------------------------------------------------------------

    def verify(self, sealer: CheckpointSealer) -> Verification:
        """Recompute the chain from its start (1, or the checkpoint) and name the first break."""
        checkpoint = self._store.checkpoint()
        expected_seq, expected_prev = 1, GENESIS_DIGEST
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
        checked = 0
        first: int | None = None
        last: AuditEntry | None = None
        cp_seq = checkpoint.through_seq if checkpoint else None
        for entry in self.entries_from(expected_seq):
            first = entry.seq if first is None else first
            problem = None
            if entry.seq != expected_seq:
                problem = (
                    f"entry {expected_seq} is missing (the next entry found is {entry.seq})"
                    if entry.seq > expected_seq
                    else f"entry {entry.seq} appears out of order"
                )
                broken = expected_seq
            elif entry.prev_digest != expected_prev:
                broken = entry.seq
                problem = (
                    f"entry {entry.seq} does not carry the digest of entry {entry.seq - 1}: "
                    f"entry {entry.seq - 1} or {entry.seq} was edited, replaced or reordered"
                    if entry.seq > 1
                    else "entry 1 does not start the chain"
                )
            if problem is not None:
                return Verification(
                    ok=False,
                    entries_checked=checked,
                    first_seq=first,
                    checkpoint_seq=cp_seq,
                    broken_at=broken,
                    problem=problem,
                )
            checked += 1
            expected_seq, expected_prev = entry.seq + 1, entry.digest
            last = entry
        return Verification(
            ok=True,
            entries_checked=checked,
            first_seq=first,
            head_seq=last.seq if last else cp_seq,
            head_digest=last.digest if last else (checkpoint.digest if checkpoint else None),
            checkpoint_seq=cp_seq,
        )

    # -- erasure past retention ----------------------------------------------------------------

    def erase_before(
        self, cutoff: datetime, sealer: CheckpointSealer, *, max_entries: int = 5000
    ) -> int:
        """Erase the entries appended before ``cutoff`` (a prefix: numbers follow time), behind a
        sealed checkpoint naming the last one erased. Returns how many were erased.

        The checkpoint is written first and remembers where deleting starts, so an interrupted
        erasure leaves a chain that verifies and is completed by the next call.
        """
        checkpoint = self._store.checkpoint()
        erased = self._finish_pending(checkpoint)
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
        return erased + self._finish_pending(new_checkpoint)

    def _finish_pending(self, checkpoint: Checkpoint | None) -> int:
        if checkpoint is None or checkpoint.pending_from is None:
            return 0
        seqs = list(range(checkpoint.pending_from, checkpoint.through_seq + 1))
        for start in range(0, len(seqs), 25):
            self._store.delete(seqs[start : start + 25])
        self._store.put_checkpoint(checkpoint.model_copy(update={"pending_from": None}))
        return len(seqs)

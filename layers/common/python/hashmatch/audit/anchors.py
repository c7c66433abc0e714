"""Anchoring the audit chain outside its table (docs/audit.md, "Anchors").

Every few minutes anchor_audit writes the chain's head (number and digest) to a bucket where
Object Lock in compliance mode keeps it unchangeable for AuditAnchorRetentionDays, and every
erasure anchors its checkpoint's entry and the head before deleting anything. A rewrite of the
table, however consistent (every digest recomputed), then contradicts an anchor:
``ChainedAuditLog.verify`` compares each one with the entry it names.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashmatch.audit.chain import ChainedAuditLog
from hashmatch.audit.model import AnchorKind
from hashmatch.audit.ports import AnchorStore
from hashmatch.clock import Clock


@dataclass(frozen=True)
class AnchorOutcome:
    seq: int | None  # the entry anchored (None: the chain is empty)
    digest: str | None
    written: bool  # False: that anchor existed already (the head has not moved)


class AuditAnchoring:
    def __init__(self, audit: ChainedAuditLog, anchors: AnchorStore, clock: Clock) -> None:
        self._audit = audit
        self._anchors = anchors
        self._clock = clock

    def anchor_head(self) -> AnchorOutcome:
        """Anchor the newest entry (or, if erasure left none, the checkpoint's)."""
        head = self._audit.head()
        if head is None:
            return AnchorOutcome(None, None, written=False)
        seq, digest = head
        written = self._anchors.put(seq, digest, kind=AnchorKind.HEAD, at=self._clock.now())
        return AnchorOutcome(seq, digest, written=written)

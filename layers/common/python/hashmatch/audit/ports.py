"""Ports of the audit concern: where entries are kept, and what seals a checkpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from hashmatch.audit.model import Anchor, AnchorKind, AuditEntry, Checkpoint


class AuditLog(Protocol):
    """What services record their state changes (and curators' reads) through."""

    def record(
        self,
        action: str,
        *,
        actor: str,
        role: str,
        targets: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry: ...


class AuditStore(Protocol):
    def last(self) -> AuditEntry | None:
        """The entry with the highest number (strongly consistent), None if there is none."""

    def put_next(self, entry: AuditEntry) -> None:
        """Store ``entry`` unless its number is taken (then Conflict): the chain never forks."""

    def read(self, from_seq: int, limit: int) -> list[AuditEntry]:
        """Up to ``limit`` entries numbered ``from_seq`` or higher, in order."""

    def delete(self, seqs: Sequence[int]) -> None:
        """Remove entries (only erasure past retention does this)."""

    def checkpoint(self) -> Checkpoint | None: ...

    def put_checkpoint(self, checkpoint: Checkpoint) -> None: ...


class CheckpointSealer(Protocol):
    """Seals a checkpoint so nobody without the key can move the chain's start."""

    def seal(self, payload: bytes) -> str: ...

    def verify(self, payload: bytes, seal: str) -> bool: ...


class AnchorStore(Protocol):
    """Anchors of the chain outside its table: written once, never changed or removed."""

    def put(self, seq: int, digest: str, *, kind: AnchorKind, at: datetime) -> bool:
        """Write the anchor of entry ``seq`` with ``digest``; False if exactly it exists."""

    def all(self) -> list[Anchor]:
        """Every anchor, in entry order (several may name one entry, if its digest changed)."""

"""Ports of the indicators concern: the indicator store (with its change feed) and snapshots."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hashmatch.indicators.model import Indicator, IndicatorPage, IndicatorStatus, Provenance
from hashmatch.retention.ports import DueItem


@dataclass(frozen=True)
class IndicatorChange:
    """An indicator's current index-relevant state, as the change feed lists it.

    The feed holds one entry per indicator, at the time it last changed (``feed_key``), so
    folding an entry twice is harmless: it states what the index must hold, not a delta.
    """

    id: str
    hash_type: str
    hash_value: str
    database: str
    media_type: str
    status: IndicatorStatus
    feed_key: str
    # The image's companion hash and the variants as (hash, companion) pairs, hex: fixed at
    # creation, like the hash.
    companion: str | None = None
    variants: tuple[tuple[str, str], ...] = ()
    negative: bool = False


@dataclass(frozen=True)
class MatchTally:
    """An indicator's matches in the current window, and its baseline per window before it."""

    count: int
    baseline: float


class IndicatorStore(Protocol):
    def create(self, indicator: Indicator) -> None:
        """Store a new indicator; raises Conflict if one with its id exists."""

    def get(self, indicator_id: str) -> Indicator | None:
        """Strongly consistent read."""

    def get_many(self, indicator_ids: Iterable[str]) -> Mapping[str, Indicator]:
        """Strongly consistent reads of several ids; absent ids are left out."""

    def append_provenance(self, indicator_id: str, provenance: Provenance, now: datetime) -> bool:
        """Append unless an entry with its key is there (then False). NotFound if absent."""

    def change_status(
        self,
        indicator_id: str,
        *,
        expected: IndicatorStatus,
        status: IndicatorStatus,
        reason: str | None,
        by: str,
        now: datetime,
        provenance_erase_after: datetime | None = None,
    ) -> Indicator:
        """Move from ``expected`` to ``status``; Conflict if it is no longer ``expected``.

        ``provenance_erase_after`` (revocation) schedules the provenance's erasure: the item
        enters the provenance due-date index. Revoking and reinstating take the indicator off
        the re-verification list.
        """

    def quarantine(
        self, indicator_id: str, *, reason: str, by: str, now: datetime
    ) -> Indicator | None:
        """Suspend an active indicator and put it on the re-verification list (flagged as
        quarantined): the indicator as it is now, or None if it was not active (nothing
        changed)."""

    def count_matches(
        self, counts: Mapping[str, int], *, window: int, decay: float
    ) -> dict[str, MatchTally]:
        """Add each indicator's matches to its count in ``window`` (the window's number since
        1970); a new window first folds the last one's count into the baseline (an average
        decayed by ``decay`` per window). Absent ids are left out."""

    def active_ids(self, indicator_ids: Iterable[str]) -> set[str]:
        """Which of these ids are active right now (strongly consistent): the matcher's check."""

    def changes_since(self, after_feed_key: str) -> Iterator[IndicatorChange]:
        """Feed entries with a key after ``after_feed_key`` ("" for all), in key order."""

    def dispute(self, indicator_ids: Iterable[str], *, report_id: str, now: datetime) -> None:
        """Count ``report_id`` against each indicator (once per report, however often this is
        called) and put it on the re-verification list, if it is not there already."""

    def withdraw_dispute(self, indicator_ids: Iterable[str], *, report_id: str) -> None:
        """Undo :meth:`dispute` for a decision that was not recorded after all."""

    def needs_review(self, *, limit: int, cursor: str | None) -> IndicatorPage:
        """The re-verification list, longest waiting first. Taken off it: a revoked or
        reinstated indicator (the curator's verdict)."""

    def provenance_due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        """Revoked indicators whose provenance is due on ``day``, by id, after ``after``."""

    def erase_provenance(self, indicator_id: str, *, cutoff: datetime, now: datetime) -> bool:
        """Drop the provenance of a revoked indicator due by ``cutoff``; the record stays."""


@dataclass(frozen=True)
class StoredSnapshot:
    data: bytes
    etag: str


@dataclass(frozen=True)
class SnapshotStream:
    """The current snapshot as it arrives: ``read(n)`` returns up to ``n`` more bytes (b"" at
    the end; a failure raises DependencyUnavailable), ``size`` bytes in all."""

    read: Callable[[int], bytes]
    size: int
    etag: str


class SnapshotStore(Protocol):
    """The current index snapshot, one object replaced by compare-and-swap."""

    def read(self) -> StoredSnapshot | None:
        """The current snapshot and its etag, or None if none was ever written."""

    def stream(self) -> SnapshotStream | None:
        """The current snapshot to read as it arrives (the matcher's load: no second copy of
        a gigabyte in memory), or None if none was ever written."""

    def current_etag(self) -> str | None:
        """The current snapshot's etag without reading it (the matcher's freshness check)."""

    def write(self, data: bytes, *, replaces: str | None) -> str:
        """Replace the snapshot whose etag is ``replaces`` (None: there must be none yet).

        Raises Conflict if another writer replaced it first; returns the new etag.
        """

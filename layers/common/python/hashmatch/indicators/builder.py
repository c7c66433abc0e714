"""build_index: the single writer of index snapshots.

Protocol (see docs/indicators.md, "Snapshots"):
1. Read the current snapshot and its etag (none yet: start from an empty one).
2. Read the change feed from (the snapshot's watermark - the overlap window). The overlap
   re-reads recent entries so one made visible late (index lag, a writer's clock behind ours) is
   still seen; folding an entry twice is harmless because each entry states the indicator's
   current state.
3. Keep the entries the snapshot does not already reflect. None: nothing is written.
4. Fold them in (``Snapshot.apply``), version + 1, watermark = when this run read the feed.
5. Write with compare-and-swap on the etag read in step 1. Of two overlapping runs one wins; the
   other gets Conflict and writes nothing, and its changes are after the winner's watermark or
   inside the overlap window, so the next run folds them.

A full rebuild (recovery) reads the whole feed — every indicator, by a paginated query of the
feed index, never a table scan — into an empty snapshot, and replaces the current one the same way.
A current snapshot that fails its checksum (or cannot be read by this code) is replaced by a full
rebuild at once: the matchers refuse it (they fail closed), and it is derived data.

Each run reports two metrics: ``IndexStalenessSeconds``, how long the oldest change the
snapshot does not yet reflect has waited (0 when it is up to date; a run that fails before it
reads the feed reports nothing, which the stale-index alarm treats as stale), and
``IndexAgeSeconds``, the age of the snapshot in service after the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from aws_lambda_powertools.metrics import MetricUnit

from hashmatch.clock import Clock
from hashmatch.index import (
    NEGATIVE_DATABASE,
    AddIndicator,
    Change,
    RemoveIndicator,
    Snapshot,
    SnapshotCorrupt,
)
from hashmatch.indicators.model import ID_WIDTH, IndicatorStatus, parse_timestamp, timestamp
from hashmatch.indicators.ports import (
    IndicatorChange,
    IndicatorStore,
    SnapshotStore,
    StoredSnapshot,
)
from hashmatch.observability import MetricName, logger, metrics

DEFAULT_OVERLAP = timedelta(minutes=5)


@dataclass(frozen=True)
class BuildOutcome:
    written: bool
    version: int
    watermark: str
    folded: int  # feed entries the new snapshot had to take in
    read: int  # feed entries read (including the overlap already folded)
    counts: dict[str, dict[str, int]]
    staleness_seconds: float = 0.0  # how long the oldest change not yet folded had waited
    replaced_corrupt: bool = False  # the current snapshot failed its checksum and was rebuilt


def empty_snapshot(version: int = 0) -> Snapshot:
    return Snapshot.build([], version=version, watermark="", created_at="", id_width=ID_WIDTH)


class IndexBuilder:
    def __init__(
        self,
        store: IndicatorStore,
        snapshots: SnapshotStore,
        clock: Clock,
        *,
        overlap: timedelta = DEFAULT_OVERLAP,
    ) -> None:
        self._store = store
        self._snapshots = snapshots
        self._clock = clock
        self._overlap = overlap

    def build(self, *, full: bool = False) -> BuildOutcome:
        """One run; raises Conflict if an overlapping run replaced the snapshot first."""
        stored = self._snapshots.read()
        started = self._clock.now()
        current, corrupt_version = _readable(stored, started)
        if corrupt_version is not None:
            full = True
        if full or current is None:
            base_version = current.version if current else (corrupt_version or 0)
            base, since = empty_snapshot(base_version), ""
        else:
            base, since = current, self._feed_start(current.watermark)
        entries = list(self._store.changes_since(since))
        pending = entries if full or current is None else unreflected(base, entries)
        # Measured against the snapshot in service: a full rebuild re-folds everything, but only
        # what the current snapshot lacks has been waiting.
        waiting = pending if current is None or not full else unreflected(current, entries)
        staleness = _staleness(waiting, started)
        metrics.add_metric(
            name=MetricName.INDEX_STALENESS_SECONDS, unit=MetricUnit.Seconds, value=staleness
        )
        if current is not None and not full and not pending:
            _report_age(current, started)
            return BuildOutcome(
                False,
                current.version,
                current.watermark,
                0,
                len(entries),
                current.counts(),
                staleness_seconds=staleness,
            )
        new = base.apply(
            _as_changes(pending, full=full or current is None),
            version=base.version + 1,
            watermark=timestamp(started),
            created_at=timestamp(started),
        )
        self._snapshots.write(new.to_bytes(), replaces=stored.etag if stored else None)
        _report_age(new, started)
        return BuildOutcome(
            True,
            new.version,
            new.watermark,
            len(pending),
            len(entries),
            new.counts(),
            staleness_seconds=staleness,
            replaced_corrupt=corrupt_version is not None,
        )

    def _feed_start(self, watermark: str) -> str:
        if not watermark:
            return ""
        return timestamp(parse_timestamp(watermark) - self._overlap)


def _readable(stored: StoredSnapshot | None, now: datetime) -> tuple[Snapshot | None, int | None]:
    """The current snapshot, or (None, a version to continue from) when it is corrupt."""
    if stored is None:
        return None, None
    try:
        # Not collapsed into huge pages: that pays off for searching (the matcher), not for one
        # apply per minute (~1 s of CPU per 1.2 GB at 10M, every run).
        return Snapshot.from_bytes(stored.data, huge_pages=False), None
    except SnapshotCorrupt as error:
        metrics.add_metric(name=MetricName.INDEX_UNAVAILABLE, unit=MetricUnit.Count, value=1)
        logger.error("the index snapshot is corrupt: rebuilding it", extra={"reason": str(error)})
        # Versions must keep increasing (match events record them); without a readable header,
        # seconds since 1970 are larger than any count of minutely builds.
        return None, error.version if error.version is not None else int(now.timestamp())


def _staleness(pending: Sequence[IndicatorChange], now: datetime) -> float:
    if not pending:
        return 0.0
    oldest = min(entry.feed_key for entry in pending).split("#", 1)[0]
    return max(0.0, (now - parse_timestamp(oldest)).total_seconds())


def _report_age(snapshot: Snapshot, now: datetime) -> None:
    if snapshot.created_at:
        age = (now - parse_timestamp(snapshot.created_at)).total_seconds()
        metrics.add_metric(
            name=MetricName.INDEX_AGE_SECONDS, unit=MetricUnit.Seconds, value=max(0.0, age)
        )


def unreflected(snapshot: Snapshot, entries: Sequence[IndicatorChange]) -> list[IndicatorChange]:
    """Entries whose effect the snapshot lacks: active but absent, or not active but present.

    An indicator's hash, database and media type never change, so presence of its id is enough.
    """
    if not entries:
        return []
    ids = np.array([entry.id for entry in entries], dtype=f"S{snapshot.id_width}")
    present = np.zeros(len(entries), dtype=bool)
    for table in snapshot.tables.values():
        present |= np.isin(ids, table.ids)
    return [
        entry
        for entry, is_present in zip(entries, present.tolist(), strict=True)
        if (entry.status is IndicatorStatus.ACTIVE) != is_present
    ]


def _as_changes(entries: Iterable[IndicatorChange], *, full: bool) -> list[Change]:
    changes: list[Change] = []
    for entry in entries:
        if entry.status is IndicatorStatus.ACTIVE:
            changes.append(
                AddIndicator(
                    hash_type=entry.hash_type,
                    value=bytes.fromhex(entry.hash_value),
                    id=entry.id,
                    database=NEGATIVE_DATABASE if entry.negative else entry.database,
                    media_type=entry.media_type,
                    companion=bytes.fromhex(entry.companion) if entry.companion else None,
                    variants=tuple(
                        (bytes.fromhex(value), bytes.fromhex(companion))
                        for value, companion in entry.variants
                    ),
                )
            )
        elif not full:  # an empty base has nothing to remove
            changes.append(RemoveIndicator(entry.id))
    return changes

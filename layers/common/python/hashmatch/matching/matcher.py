"""The matching side: the latest snapshot in memory, candidates confirmed against the store.

The snapshot is loaded on first use (a cold start) and its etag checked at most every
``refresh_interval`` (30 s by default); a changed etag loads the new snapshot. Candidates found
in the index are confirmed against the store (one strongly consistent batch read per call), so
an indicator revoked or suspended after the snapshot was built is never returned.

Matching fails closed: when the current snapshot is missing, cannot be read or fails its
checksum, or its freshness cannot be checked, ``search`` raises IndexUnavailable (HTTP 503 with
Retry-After) and counts the ``IndexUnavailable`` metric (an alarm watches it). It never answers
from an empty index, and never from an older snapshot once it knows a newer one exists.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from hashmatch.clock import Clock
from hashmatch.errors import DependencyUnavailable, IndexUnavailable
from hashmatch.hashtypes import HashType, get_hash_type
from hashmatch.index import Hit, Hits, Snapshot, SnapshotCorrupt
from hashmatch.index.snapshot import DATABASES
from hashmatch.indicators.ports import IndicatorStore, SnapshotStore, SnapshotStream
from hashmatch.observability import MetricName, logger, metrics

DEFAULT_REFRESH_INTERVAL = timedelta(seconds=30)
DEFAULT_MAX_MATCHES = 100
# build_index runs every minute and replaces a missing or corrupt snapshot on its next run.
INDEX_RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class HashQuery:
    """One parsed hash to match: its type, raw digest, and the threshold to apply in each
    database the caller may see, as (database, threshold) pairs (none: nothing can match)."""

    hash_type: HashType
    digest: bytes
    thresholds: tuple[tuple[str, int], ...]

    @classmethod
    def parse(
        cls,
        type_name: str,
        value: str,
        *,
        threshold: int | None = None,
        databases: Collection[str] = DATABASES,
    ) -> HashQuery:
        """A query from text, one threshold in every database (tools and tests; the match
        service builds its queries itself)."""
        hash_type = get_hash_type(type_name)
        radius = (
            hash_type.default_threshold
            if threshold is None
            else hash_type.check_threshold(threshold)
        )
        return cls(hash_type, hash_type.to_bytes(value), tuple((db, radius) for db in databases))

    def threshold_in(self, database: str) -> int:
        return dict(self.thresholds)[database]


@dataclass(frozen=True)
class QueryHits:
    hits: list[Hit]  # active indicators within their database's threshold, nearest first
    thresholds: dict[str, int]  # the threshold applied, per database in scope
    truncated: bool  # more indicators in scope were within the threshold than the cap returns


@dataclass(frozen=True)
class SearchAnswer:
    index_version: int
    results: list[QueryHits]  # one per query, in order


class Matcher:
    def __init__(
        self,
        snapshots: SnapshotStore,
        store: IndicatorStore,
        clock: Clock,
        *,
        refresh_interval: timedelta = DEFAULT_REFRESH_INTERVAL,
        max_matches: int = DEFAULT_MAX_MATCHES,
    ) -> None:
        self._snapshots = snapshots
        self._store = store
        self._clock = clock
        self._refresh_interval = refresh_interval
        self._max_matches = max_matches
        self._snapshot: Snapshot | None = None
        self._etag: str | None = None
        self._checked_at: datetime | None = None

    @property
    def index_version(self) -> int:
        return self._current().version

    def search(self, queries: Sequence[HashQuery]) -> SearchAnswer:
        """Every active indicator within each query's threshold in its database, nearest first,
        capped (the cap counts only the databases in scope).

        Databases sharing a threshold are searched together (one index search per type and
        threshold, however many queries), so per-database thresholds cost a search each only
        where they differ.
        """
        snapshot = self._current()
        groups: dict[tuple[str, int, frozenset[str]], list[int]] = {}
        # A request's queries share a few thresholds tuples (one per hash type): split each once.
        searches_of: dict[tuple[tuple[str, int], ...], list[tuple[int, frozenset[str]]]] = {}
        for position, query in enumerate(queries):
            searches = searches_of.get(query.thresholds)
            if searches is None:
                searches = searches_of[query.thresholds] = _searches(query.thresholds)
            for threshold, names in searches:
                groups.setdefault((query.hash_type.name, threshold, names), []).append(position)
        parts: list[list[Hits]] = [[] for _ in queries]
        for (type_name, threshold, databases), positions in groups.items():
            results = snapshot.search(
                type_name,
                [queries[p].digest for p in positions],
                threshold,
                max_matches=self._max_matches,
                databases=databases,
            )
            for position, result in zip(positions, results, strict=True):
                parts[position].append(result)
        merged = [self._merged(found) for found in parts]
        active = self._store.active_ids({hit.indicator_id for hits, _ in merged for hit in hits})
        return SearchAnswer(
            index_version=snapshot.version,
            results=[
                QueryHits(
                    [hit for hit in hits if hit.indicator_id in active],
                    dict(query.thresholds),
                    truncated,
                )
                for query, (hits, truncated) in zip(queries, merged, strict=True)
            ],
        )

    def _merged(self, parts: Sequence[Hits]) -> tuple[list[Hit], bool]:
        """One query's hits over its searches, nearest first, within the cap."""
        if len(parts) == 1 and len(parts[0].hits) <= 1:  # most queries: one search, no match
            return parts[0].hits, parts[0].truncated
        hits = sorted(
            (hit for part in parts for hit in part.hits),
            key=lambda hit: (hit.distance, hit.indicator_id),
        )
        truncated = any(part.truncated for part in parts) or len(hits) > self._max_matches
        return hits[: self._max_matches], truncated

    def _current(self) -> Snapshot:
        now = self._clock.now()
        if self._snapshot is None:
            self._load(now)
        elif self._checked_at is None or now - self._checked_at >= self._refresh_interval:
            # _checked_at moves only when the check succeeds: a failed one is retried next call.
            if self._current_etag() != self._etag:
                self._load(now)
            self._checked_at = now
        assert self._snapshot is not None
        return self._snapshot

    def _current_etag(self) -> str | None:
        try:
            etag = self._snapshots.current_etag()
        except DependencyUnavailable as error:
            raise _unavailable(
                "the index snapshot's freshness cannot be checked",
                retry_after=error.retry_after_seconds,
            ) from error
        if etag is None:
            raise _unavailable("the index snapshot has disappeared")
        return etag

    def _load(self, now: datetime) -> None:
        stream = self._stream()
        try:
            # Read into one buffer and hashed as it arrives (no second copy of the object).
            snapshot = Snapshot.from_stream(stream.read, stream.size)
        except DependencyUnavailable as error:
            raise _unavailable(
                "the index snapshot cannot be read", retry_after=error.retry_after_seconds
            ) from error
        except SnapshotCorrupt as error:
            raise _unavailable(f"the index snapshot is unusable: {error}") from error
        self._snapshot, self._etag, self._checked_at = snapshot, stream.etag, now
        logger.info("index snapshot loaded", extra={"index_version": snapshot.version})

    def _stream(self) -> SnapshotStream:
        try:
            stream = self._snapshots.stream()
        except DependencyUnavailable as error:
            raise _unavailable(
                "the index snapshot cannot be read", retry_after=error.retry_after_seconds
            ) from error
        if stream is None:
            raise _unavailable("there is no index snapshot (build_index writes one every minute)")
        return stream


def _searches(thresholds: Sequence[tuple[str, int]]) -> list[tuple[int, frozenset[str]]]:
    """The databases searched together: one search per distinct threshold."""
    databases_at: dict[int, set[str]] = {}
    for database, threshold in thresholds:
        databases_at.setdefault(threshold, set()).add(database)
    return [(threshold, frozenset(names)) for threshold, names in databases_at.items()]


def _unavailable(detail: str, *, retry_after: int = INDEX_RETRY_AFTER_SECONDS) -> IndexUnavailable:
    """The error to raise, counted and logged once (ids only: the detail names no content)."""
    metrics.add_metric(name=MetricName.INDEX_UNAVAILABLE, unit=MetricUnit.Count, value=1)
    logger.error("matching refused: index unavailable", extra={"reason": detail})
    return IndexUnavailable(
        f"matching is unavailable: {detail}; retry later", retry_after_seconds=retry_after
    )

"""The matching side: the latest snapshot in memory, candidates confirmed against the store.

The snapshot is loaded on first use (a cold start) and its etag checked at most every
``refresh_interval`` (30 s by default); a changed etag loads the new snapshot. Candidates found
in the index are confirmed against the store (one strongly consistent batch read per call), so
an indicator revoked or suspended after the snapshot was built is never returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hashmatch.clock import Clock
from hashmatch.hashtypes import get_hash_type
from hashmatch.index import Snapshot
from hashmatch.indicators.builder import empty_snapshot
from hashmatch.indicators.ports import IndicatorStore, SnapshotStore
from hashmatch.observability import logger

DEFAULT_REFRESH_INTERVAL = timedelta(seconds=30)
DEFAULT_MAX_MATCHES = 100


@dataclass(frozen=True)
class HashQuery:
    """One hash to match. ``threshold`` None: the type's default. ``databases`` None: all."""

    hash_type: str
    value: str
    threshold: int | None = None
    databases: frozenset[str] | None = None


@dataclass(frozen=True)
class IndicatorMatch:
    indicator_id: str
    database: str
    media_type: str
    distance: int
    threshold: int


@dataclass(frozen=True)
class QueryMatches:
    matches: list[IndicatorMatch]
    threshold: int
    truncated: bool  # more indicators were within the threshold than the cap returns


@dataclass(frozen=True)
class MatchAnswer:
    index_version: int
    results: list[QueryMatches]  # one per query, in order


@dataclass(frozen=True)
class _Candidate:
    query: int
    match: IndicatorMatch


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

    def match(self, queries: Sequence[HashQuery]) -> MatchAnswer:
        """Every active indicator within each query's threshold (nearest first, capped)."""
        snapshot = self._current()
        parsed = [_parsed(query) for query in queries]
        candidates: list[_Candidate] = []
        truncated = [False] * len(queries)
        by_type: dict[str, list[int]] = {}
        for position, (hash_type, _, _) in enumerate(parsed):
            by_type.setdefault(hash_type, []).append(position)
        for hash_type, positions in by_type.items():
            values = [parsed[p][1] for p in positions]
            radii = [parsed[p][2] for p in positions]
            results = snapshot.search(hash_type, values, radii, max_matches=self._max_matches)
            table = snapshot.tables.get(hash_type)
            for position, result in zip(positions, results, strict=True):
                truncated[position] = result.truncated
                if table is None or not len(result):
                    continue
                ids = snapshot.ids_of(hash_type, result.rows)
                wanted = queries[position].databases
                for row, indicator_id, distance in zip(
                    result.rows.tolist(), ids, result.distances.tolist(), strict=True
                ):
                    database = snapshot.databases[int(table.database[row])]
                    if wanted is not None and database not in wanted:
                        continue
                    match = IndicatorMatch(
                        indicator_id=indicator_id,
                        database=database,
                        media_type=snapshot.media_types[int(table.media_type[row])],
                        distance=int(distance),
                        threshold=parsed[position][2],
                    )
                    candidates.append(_Candidate(position, match))
        active = self._store.active_ids({c.match.indicator_id for c in candidates})
        grouped: list[list[IndicatorMatch]] = [[] for _ in queries]
        for candidate in candidates:
            if candidate.match.indicator_id in active:
                grouped[candidate.query].append(candidate.match)
        return MatchAnswer(
            index_version=snapshot.version,
            results=[
                QueryMatches(matches, parsed[i][2], truncated[i])
                for i, matches in enumerate(grouped)
            ],
        )

    def _current(self) -> Snapshot:
        now = self._clock.now()
        if self._snapshot is None:
            self._load(now)
        elif self._checked_at is None or now - self._checked_at >= self._refresh_interval:
            self._checked_at = now
            if self._snapshots.current_etag() != self._etag:
                self._load(now)
        assert self._snapshot is not None
        return self._snapshot

    def _load(self, now: datetime) -> None:
        stored = self._snapshots.read()
        self._checked_at = now
        if stored is None:
            logger.warning("no index snapshot yet: nothing can match until build_index runs")
            self._snapshot, self._etag = empty_snapshot(), None
            return
        self._snapshot, self._etag = Snapshot.from_bytes(stored.data), stored.etag
        logger.info("index snapshot loaded", extra={"index_version": self._snapshot.version})


def _parsed(query: HashQuery) -> tuple[str, bytes, int]:
    hash_type = get_hash_type(query.hash_type)
    threshold = (
        hash_type.default_threshold
        if query.threshold is None
        else hash_type.check_threshold(query.threshold)
    )
    return hash_type.name, hash_type.to_bytes(query.value), threshold

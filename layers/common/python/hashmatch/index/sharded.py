"""An index split into shards that are searched separately and merged: the in-process model of
fanning a search out to several functions once one no longer holds the index (docs/matching.md,
"100M: the scale plan").

Shard s holds a contiguous range of rows, so a global row number is the shard's first row plus
the shard's own row number. Each shard answers with its nearest ``max_matches`` allowed rows; the
global nearest ``max_matches`` are among those (a row among the global nearest is among its own
shard's nearest), so merging them by (distance, row) gives exactly the unsharded answer, and
``truncated`` is set when any shard was truncated or the shards' rows add up to more than the
cap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from hashmatch.errors import InvalidInput
from hashmatch.index.bits import U64, as_words
from hashmatch.index.hamming import HammingIndex, SearchResult


class ShardedIndex:
    """Several ``HammingIndex`` shards answering as one.

    ``workers`` > 1 searches the shards in threads (the native kernel releases the GIL), as a
    fan-out to shard functions would run them in parallel.
    """

    def __init__(self, shards: Sequence[HammingIndex], *, workers: int = 1) -> None:
        if not shards:
            raise InvalidInput("a sharded index needs at least one shard")
        if len({shard.bits for shard in shards}) != 1:
            raise InvalidInput("every shard must hold hashes of the same width")
        self.shards = list(shards)
        self.bits = self.shards[0].bits
        sizes = [shard.size for shard in self.shards]
        self.starts = np.cumsum([0, *sizes])
        self.size = int(self.starts[-1])
        self.workers = workers
        self._pool: tuple[int, ThreadPoolExecutor] | None = None

    @classmethod
    def split(
        cls,
        codes: npt.ArrayLike,
        bits: int,
        shards: int,
        *,
        workers: int = 1,
        kernel: str | None = None,
    ) -> ShardedIndex:
        """Cut ``codes`` into ``shards`` contiguous, near-equal row ranges, one index each."""
        words = as_words(codes, bits)
        if not 1 <= shards <= max(1, words.shape[0]):
            raise InvalidInput(f"cannot split {words.shape[0]} rows into {shards} shards")
        bounds = np.linspace(0, words.shape[0], shards + 1).astype(np.int64)
        parts = [
            HammingIndex(words[lo:hi], bits, kernel=kernel) for lo, hi in pairwise(bounds.tolist())
        ]
        return cls(parts, workers=workers)

    @property
    def nbytes(self) -> int:
        return sum(shard.nbytes for shard in self.shards)

    def search(
        self,
        query: npt.ArrayLike,
        radius: int,
        *,
        max_matches: int = 1000,
        labels: npt.NDArray[np.uint8] | None = None,
        allowed: int | None = None,
    ) -> SearchResult:
        q = as_words(query, self.bits)
        if q.shape[0] != 1:
            raise InvalidInput("search takes one hash; use search_batch for several")
        return self.search_batch(
            q, radius, max_matches=max_matches, labels=labels, allowed=allowed
        )[0]

    def search_batch(
        self,
        queries: npt.ArrayLike,
        radius: int | Sequence[int],
        *,
        max_matches: int = 1000,
        labels: npt.NDArray[np.uint8] | None = None,
        allowed: int | None = None,
    ) -> list[SearchResult]:
        """Fan the batch out to every shard, then merge each query's answers."""
        q = as_words(queries, self.bits)
        if labels is not None and np.asarray(labels).shape != (self.size,):
            raise InvalidInput(f"labels must be one uint8 per row ({self.size} rows)")

        def one_shard(s: int) -> list[SearchResult]:
            lo, hi = int(self.starts[s]), int(self.starts[s + 1])
            shard_labels = None if labels is None else labels[lo:hi]
            return self.shards[s].search_batch(
                q, radius, max_matches=max_matches, labels=shard_labels, allowed=allowed
            )

        answers = self._fan_out(one_shard)
        return [
            _merge([answer[i] for answer in answers], self.starts, max_matches)
            for i in range(q.shape[0])
        ]

    def _fan_out(self, one_shard: Callable[[int], list[SearchResult]]) -> list[list[SearchResult]]:
        if self.workers <= 1 or len(self.shards) == 1:
            return [one_shard(s) for s in range(len(self.shards))]
        if self._pool is None or self._pool[0] != self.workers:
            # One pool while `workers` stays: starting threads per search cost more than it.
            self._pool = (self.workers, ThreadPoolExecutor(max_workers=self.workers))
        return list(self._pool[1].map(one_shard, range(len(self.shards))))


def _merge(parts: list[SearchResult], starts: U64 | np.ndarray, max_matches: int) -> SearchResult:
    rows = np.concatenate([part.rows + starts[s] for s, part in enumerate(parts)])
    distances = np.concatenate([part.distances for part in parts])
    order = np.lexsort((rows, distances))[:max_matches]
    truncated = any(part.truncated for part in parts) or rows.shape[0] > max_matches
    return SearchResult(rows[order].astype(np.int64), distances[order], truncated)

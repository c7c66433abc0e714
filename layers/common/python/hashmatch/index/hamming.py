"""Exact Hamming-radius search by multi-index hashing (MIH), with a vectorised-scan fallback.

Each hash is split into m chunks of b_c bits. If two hashes differ in d <= r bits and chunk c is
probed within sub-radius r_c, then by the generalised pigeonhole principle at least one chunk
satisfies d_c <= r_c whenever sum_c (r_c + 1) >= r + 1 (otherwise every d_c >= r_c + 1 and d would
exceed r). So probing, for each chunk, every value within r_c of the query's chunk finds every
row within r: recall is exact. Probed buckets are read from per-chunk CSR tables (offsets indexed
by chunk value, rows sorted by chunk value); candidates are verified with XOR + popcount on the
packed uint64 words, so nothing beyond r is returned either.

Sub-radii are chosen per query radius by a greedy over convex marginal costs (probing is cheaper
at r_c = 1 than r_c = 2, so spreading the "+1"s over chunks beats a uniform floor(r/m)).
When a radius needs more probing than the chunking supports, or a query's candidate count is a
large share of N (a query inside a huge near-duplicate cluster), the index scans all rows instead:
still exact, and cheaper than gathering most rows at random.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import log2

import numpy as np
import numpy.typing as npt

from hashmatch.errors import InvalidInput
from hashmatch.index.bits import (
    U32,
    U64,
    as_words,
    ball_size,
    chunk_values,
    distances_to,
    neighbour_masks,
    rowwise_distances,
    split_widths,
)

I64 = npt.NDArray[np.int64]

# Chunk tables hold 2**width offsets: wider chunks would not fit in memory.
MAX_CHUNK_BITS = 24
# A probe of one chunk may enumerate at most this many neighbour values (C(22,3) + ... = 1,794).
MAX_PROBES_PER_CHUNK = 2_000
# Relative cost of verifying one candidate versus probing one bucket (measured: about equal).
CANDIDATE_COST = 1.0
# Scan instead of MIH when a query's candidates exceed this share of the rows.
DEFAULT_SCAN_SHARE = 0.05
# Rows scanned per block: keeps XOR temporaries in cache.
SCAN_BLOCK_ROWS = 1 << 16
# Bound on bucket probes per vectorised step of a batch (bounds temporary memory).
PROBES_PER_STEP = 400_000


@dataclass(frozen=True)
class MatchResult:
    """The rows within the radius of one query, nearest first (by distance, then row).

    ``rows`` index the index's payload order; ``truncated`` says more rows matched than
    ``max_matches`` and only the nearest ``max_matches`` are returned.
    """

    rows: I64
    distances: npt.NDArray[np.int32]
    truncated: bool

    def __len__(self) -> int:
        return int(self.rows.shape[0])


@dataclass(frozen=True)
class ChunkTables:
    """Per-chunk CSR tables: for chunk c and value v, rows ``rows[c*n + offsets[base_c + v]:...]``.

    ``offsets`` concatenates, for every chunk, ``2**width + 1`` uint32 bucket starts; ``rows``
    concatenates, for every chunk, the n row numbers sorted by that chunk's value.
    """

    widths: tuple[int, ...]
    offsets: U32
    rows: U32

    @property
    def nbytes(self) -> int:
        return int(self.offsets.nbytes + self.rows.nbytes)


def default_chunk_count(bits: int, size: int) -> int:
    """Choose m so chunks are about log2(n) + 2 bits wide, clamped to 16..22 bits.

    Measured on 1M and 10M PDQ (docs/matching.md): 12 chunks of 21/22 bits were fastest at both
    sizes, and 22-bit tables keep the 10M index under 100 bytes per hash.
    """
    target = min(22, max(16, round(log2(max(size, 2))) + 2))
    return max(1, -(-bits // target))


def build_chunk_tables(codes: U64, widths: tuple[int, ...]) -> ChunkTables:
    """Sort rows by each chunk's value and record bucket boundaries (counting sort offsets)."""
    size = codes.shape[0]
    offsets_parts: list[U32] = []
    rows = np.empty(size * len(widths), dtype=np.uint32)
    for c, width in enumerate(widths):
        values = _one_chunk(codes, widths, c)
        order = np.argsort(values)
        rows[c * size : (c + 1) * size] = order
        counts = np.bincount(values, minlength=1 << width)
        offsets = np.empty((1 << width) + 1, dtype=np.uint32)
        offsets[0] = 0
        np.cumsum(counts, out=offsets[1:])
        offsets_parts.append(offsets)
    return ChunkTables(widths=widths, offsets=np.concatenate(offsets_parts), rows=rows)


def _one_chunk(codes: U64, widths: tuple[int, ...], chunk: int) -> U32:
    start = sum(widths[:chunk])
    word, shift = divmod(start, 64)
    width = widths[chunk]
    value = codes[:, word] >> np.uint64(shift)
    if shift + width > 64:
        value = value | (codes[:, word + 1] << np.uint64(64 - shift))
    return (value & np.uint64((1 << width) - 1)).astype(np.uint32)


@dataclass(frozen=True)
class _ProbePlan:
    """Flattened probes for one radius: per probe, its chunk, XOR mask and table base."""

    chunk_of_probe: npt.NDArray[np.intp]
    masks: U32
    table_base: I64
    segment_base: I64
    estimated_candidates: float


class HammingIndex:
    """Exact radius search over fixed-width binary hashes (PDQ 256-bit, pHash/dHash 64-bit)."""

    def __init__(
        self,
        codes: npt.ArrayLike,
        bits: int,
        *,
        chunks: int | None = None,
        tables: ChunkTables | None = None,
        scan_share: float = DEFAULT_SCAN_SHARE,
    ) -> None:
        self.bits = bits
        self.codes: U64 = as_words(codes, bits) if np.asarray(codes).size else _empty(bits)
        self.size = int(self.codes.shape[0])
        self.scan_share = scan_share
        if tables is None:
            count = chunks or default_chunk_count(bits, self.size)
            if not 1 <= count <= bits or -(-bits // count) > MAX_CHUNK_BITS:
                raise InvalidInput(f"{count} chunks of a {bits}-bit hash are out of range")
            tables = build_chunk_tables(self.codes, split_widths(bits, count))
        elif tables.rows.shape[0] != self.size * len(tables.widths):
            raise InvalidInput("chunk tables do not match the codes")
        self.tables = tables
        self.widths = tables.widths
        bases = np.cumsum([0] + [(1 << w) + 1 for w in self.widths])
        self._table_bases = bases[:-1].astype(np.int64)
        self._plans: dict[int, _ProbePlan | None] = {}

    @property
    def nbytes(self) -> int:
        """Memory held by the hashes and the chunk tables."""
        return int(self.codes.nbytes + self.tables.nbytes)

    # -- planning ------------------------------------------------------------------------------

    def _plan(self, radius: int) -> _ProbePlan | None:
        if radius not in self._plans:
            self._plans[radius] = self._make_plan(radius)
        return self._plans[radius]

    def _make_plan(self, radius: int) -> _ProbePlan | None:
        """Pick sub-radii r_c (-1 = chunk not probed) with sum(r_c + 1) >= radius + 1."""
        sub = [-1] * len(self.widths)
        density = [self.size / (1 << w) for w in self.widths]

        def cost(c: int, r: int) -> float:
            if r < 0:
                return 0.0
            return ball_size(self.widths[c], r) * (1 + CANDIDATE_COST * density[c])

        for _ in range(radius + 1):
            best, best_step = -1, float("inf")
            for c in range(len(self.widths)):
                nxt = sub[c] + 1
                if nxt > self.widths[c] or ball_size(self.widths[c], nxt) > MAX_PROBES_PER_CHUNK:
                    continue
                step = cost(c, nxt) - cost(c, sub[c])
                if step < best_step:
                    best, best_step = c, step
            if best < 0:
                return None  # the chunking cannot cover this radius exactly: scan
            sub[best] += 1
        chunk_of_probe: list[npt.NDArray[np.intp]] = []
        masks: list[U32] = []
        estimated = 0.0
        for c, r in enumerate(sub):
            if r < 0:
                continue
            m = neighbour_masks(self.widths[c], r)
            masks.append(m)
            chunk_of_probe.append(np.full(m.shape[0], c, dtype=np.intp))
            estimated += m.shape[0] * density[c]
        if estimated > self.scan_share * self.size:
            return None
        probe_chunks = np.concatenate(chunk_of_probe)
        return _ProbePlan(
            chunk_of_probe=probe_chunks,
            masks=np.concatenate(masks),
            table_base=self._table_bases[probe_chunks],
            segment_base=probe_chunks.astype(np.int64) * self.size,
            estimated_candidates=estimated,
        )

    # -- search --------------------------------------------------------------------------------

    def search(self, query: npt.ArrayLike, radius: int, *, max_matches: int = 1000) -> MatchResult:
        """Every row within ``radius`` of one query (nearest ``max_matches`` of them)."""
        q = as_words(query, self.bits)
        if q.shape[0] != 1:
            raise InvalidInput("search takes one hash; use search_batch for several")
        return self.search_batch(q, radius, max_matches=max_matches)[0]

    def search_batch(
        self, queries: npt.ArrayLike, radius: int | Sequence[int], *, max_matches: int = 1000
    ) -> list[MatchResult]:
        """Search several queries at once; ``radius`` is one value or one per query."""
        q = as_words(queries, self.bits)
        if max_matches < 1:
            raise InvalidInput("max_matches must be at least 1")
        if not isinstance(radius, list | tuple | np.ndarray):
            return self._search_radius(q, self._check_radius(radius), max_matches)
        radii = list(radius)
        if len(radii) != q.shape[0]:
            raise InvalidInput("radius must be one value or one per query")
        for r in radii:
            self._check_radius(r)
        results: list[MatchResult | None] = [None] * q.shape[0]
        for r in sorted(set(radii)):
            picks = [i for i, ri in enumerate(radii) if ri == r]
            for i, res in zip(picks, self._search_radius(q[picks], r, max_matches), strict=True):
                results[i] = res
        return [r for r in results if r is not None]

    def _check_radius(self, radius: object) -> int:
        if isinstance(radius, bool) or not isinstance(radius, int | np.integer):
            raise InvalidInput(f"radius must be an integer, got {radius!r}")
        if not 0 <= int(radius) <= self.bits:
            raise InvalidInput(f"radius must be between 0 and {self.bits}, got {radius}")
        return int(radius)

    def _search_radius(self, q: U64, radius: int, max_matches: int) -> list[MatchResult]:
        count = q.shape[0]
        if self.size == 0:
            return [_empty_result() for _ in range(count)]
        plan = self._plan(radius)
        if plan is None:
            return [self._scan(q[i], radius, max_matches) for i in range(count)]
        results: list[MatchResult] = []
        step = max(1, PROBES_PER_STEP // plan.masks.shape[0])
        for lo in range(0, count, step):
            results.extend(self._mih(q[lo : lo + step], radius, max_matches, plan))
        return results

    def _mih(self, q: U64, radius: int, max_matches: int, plan: _ProbePlan) -> list[MatchResult]:
        count = q.shape[0]
        probes = plan.masks.shape[0]
        qchunks = chunk_values(q, self.widths)
        keys = (qchunks[:, plan.chunk_of_probe] ^ plan.masks).astype(np.int64) + plan.table_base
        keys = keys.ravel()
        offsets = self.tables.offsets
        # np.take is several times faster than fancy indexing for gathers on these sizes.
        starts = np.take(offsets, keys)
        lengths = np.take(offsets, keys + 1) - starts
        per_query = lengths.reshape(count, probes).sum(axis=1, dtype=np.int64)
        scan_rows = per_query > self.scan_share * self.size
        if scan_rows.any():
            lengths.reshape(count, probes)[scan_rows] = 0
        hit_probes = np.flatnonzero(lengths)
        run = np.take(lengths, hit_probes).astype(np.int64)
        first = np.take(starts, hit_probes).astype(np.int64) + np.take(
            plan.segment_base, hit_probes % probes
        )
        total = int(run.sum())
        # Expand the [first, first + run) ranges into one index vector without a Python loop.
        ends = np.cumsum(run)
        positions = np.arange(total, dtype=np.int64) + np.repeat(first - (ends - run), run)
        candidates = np.take(self.tables.rows, positions).astype(np.int64)
        gathered = np.take(self.codes, candidates, axis=0)
        if count == 1:
            owners = np.zeros(total, dtype=np.int64)
            distances = distances_to(gathered, q[0])
        else:
            owners = np.repeat(hit_probes // probes, run)
            distances = rowwise_distances(gathered, np.take(q, owners, axis=0))
        hit = np.flatnonzero(distances <= radius)
        rows = np.take(candidates, hit)
        owners = np.take(owners, hit)
        dist = np.take(distances, hit).astype(np.int32)
        # A row found through several chunks appears several times: keep one.
        _, first_seen = np.unique(owners * self.size + rows, return_index=True)
        rows, owners, dist = rows[first_seen], owners[first_seen], dist[first_seen]
        order = np.lexsort((rows, dist, owners))
        rows, owners, dist = rows[order], owners[order], dist[order]
        bounds = np.searchsorted(owners, np.arange(count + 1))
        results: list[MatchResult] = []
        for i in range(count):
            if scan_rows[i]:
                results.append(self._scan(q[i], radius, max_matches))
                continue
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            truncated = hi - lo > max_matches
            hi = min(hi, lo + max_matches)
            results.append(MatchResult(rows[lo:hi], dist[lo:hi], truncated))
        return results

    def _scan(self, query: U64, radius: int, max_matches: int) -> MatchResult:
        """Exhaustive vectorised scan of every row (exact for any radius)."""
        found_rows: list[I64] = []
        found_dist: list[npt.NDArray[np.int32]] = []
        for lo in range(0, self.size, SCAN_BLOCK_ROWS):
            d = distances_to(self.codes[lo : lo + SCAN_BLOCK_ROWS], query)
            hit = np.flatnonzero(d <= radius)
            if hit.size:
                found_rows.append(hit.astype(np.int64) + lo)
                found_dist.append(d[hit].astype(np.int32))
        if not found_rows:
            return _empty_result()
        rows = np.concatenate(found_rows)
        dist = np.concatenate(found_dist)
        truncated = rows.shape[0] > max_matches
        if truncated:
            # Rows are already ascending, so a stable sort by distance orders by (distance, row).
            keep = np.argsort(dist, kind="stable")[:max_matches]
            return MatchResult(rows[keep], dist[keep], True)
        order = np.argsort(dist, kind="stable")
        return MatchResult(rows[order], dist[order], False)


def _empty(bits: int) -> U64:
    return np.empty((0, bits // 64), dtype=np.uint64)


def _empty_result() -> MatchResult:
    return MatchResult(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32), False)


def brute_force(codes: U64, query: U64, radius: int) -> tuple[I64, npt.NDArray[np.int32]]:
    """Reference oracle: every row within ``radius``, ordered by (distance, row)."""
    d = distances_to(codes, query).astype(np.int32)
    rows = np.flatnonzero(d <= radius)
    order = np.lexsort((rows, d[rows]))
    return rows[order].astype(np.int64), d[rows][order]

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

Two kernels run this algorithm with identical answers: the compiled one (``native/hmkernel.c``,
selected and bound in ``kernel.py``) and the numpy code below, which is the fallback and the
reference. Searches can skip rows by label (``labels`` + ``allowed``) inside the search, before
``max_matches`` is applied: a client's matches are capped among the rows it may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

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
from hashmatch.index.kernel import (
    KernelName,
    NativeIndex,
    NativeKernel,
    NativePlan,
    address,
    choose_kernel,
    native_kernel,
)

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

# Chunk tables hold 2**width offsets: wider chunks would not fit in memory.
MAX_CHUNK_BITS = 24
# Narrower chunks than this gain nothing: a 16-bit table is 256 KB, and below that the buckets of
# a large index get long.
MIN_CHUNK_BITS = 16
# Bucket-boundary bytes per hash allowed by the default chunking. Measured with the native
# kernel on uniform PDQ, r = 31 (batch-100 q/s, variants interleaved in one process): 1M: 12
# chunks (134 B of boundaries per hash) 47k; 13 (46 B) 40k; 14 (23 B) 40k; 15 (12 B) 37.5k.
# 10M: 11 chunks (47 B) 15.4k; 12 (13 B) 11.5k; 13 (5 B) 9.5k. 40 B gives up ~15% at 1M and
# keeps the index at 107 B/hash at 1M and 93 B/hash at 10M (issue 16: <= 150 and <= 100).
MAX_BOUNDARY_BYTES = 40
# A probe of one chunk may enumerate at most this many neighbour values (C(22,3) + ... = 1,794).
MAX_PROBES_PER_CHUNK = 2_000
# Relative cost of verifying one candidate versus probing one bucket (measured: about equal).
CANDIDATE_COST = 1.0
# Scan instead of MIH when a query's candidates exceed this share of the rows. Measured on the
# clustered 1M PDQ set (batch q/s, numpy kernel): 0.02 -> 1,500; 0.05 -> 1,700; 0.1 -> 2,000;
# 0.2 -> 1,900; 0.4 -> 900.
DEFAULT_SCAN_SHARE = 0.1
# The same for the native kernel, where a candidate already verified through another chunk
# costs ~1 ns (a bit test) and the scan ~1.7 ns per row (memory bandwidth). Measured on the
# clustered 1M PDQ set of bench/matcher.py (batch q/s, shares interleaved in one process):
# 0.1 -> 1,874; 0.2 -> 2,164; 0.3 -> 2,369; 0.5 -> 2,563; 0.7 -> 2,546; 1.0 -> 2,362;
# 1.5 -> 2,821 (flat from 0.5 on, within the shared machine's noise).
NATIVE_SCAN_SHARE = 0.5
# The C kernel keeps per-query chunk values on the stack and chunk numbers in a byte.
MAX_CHUNKS = 256
# Rows scanned per block: keeps XOR temporaries in cache.
SCAN_BLOCK_ROWS = 1 << 16
# Bounds on bucket probes and expected candidates per vectorised step of a batch: keeps the
# temporaries near cache size (bigger steps were slower at 10M).
PROBES_PER_STEP = 400_000
CANDIDATES_PER_STEP = 100_000


@dataclass(frozen=True)
class SearchResult:
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
    """Per-chunk CSR tables: chunk c, value v -> ``rows[offsets[b + v] : offsets[b + v + 1]]``.

    (b is the chunk's table base: the sum of ``2**width + 1`` over the chunks before it.)

    ``rows`` concatenates, for every chunk, the n row numbers sorted by that chunk's value
    (stably: rows ascend within a bucket, so a build is canonical and both kernels agree);
    ``offsets`` concatenates, for every chunk, ``2**width + 1`` bucket starts as positions in
    ``rows`` (so chunk c's start at c * n), uint32: fine while chunks * n < 2**32.
    """

    widths: tuple[int, ...]
    offsets: U32
    rows: U32

    @property
    def nbytes(self) -> int:
        return int(self.offsets.nbytes + self.rows.nbytes)


def default_chunk_count(bits: int, size: int) -> int:
    """The fewest chunks (16..24 bits wide) whose bucket boundaries fit MAX_BOUNDARY_BYTES.

    Fewer, wider chunks mean fewer candidates per probe, but each chunk's boundary table has
    2**width + 1 entries whatever n is: PDQ gets 14 chunks at 1M (107 B/hash), 12 at 10M
    (93 B/hash), 11 at 100M (81 B/hash); 64-bit hashes get 3 chunks from 1M up.
    """
    fewest = -(-bits // MAX_CHUNK_BITS)
    most = max(fewest, min(MAX_CHUNKS, -(-bits // MIN_CHUNK_BITS)))
    for count in range(fewest, most + 1):
        if 4 * _offsets_size(split_widths(bits, count)) <= MAX_BOUNDARY_BYTES * size:
            return count
    return most


def build_chunk_tables(codes: U64, widths: tuple[int, ...]) -> ChunkTables:
    """Sort rows by each chunk's value and record bucket boundaries (numpy; the reference of
    the native kernel's counting sort, which gives the same tables)."""
    size = codes.shape[0]
    _check_table_size(size, widths)
    offsets_parts: list[U32] = []
    rows = np.empty(size * len(widths), dtype=np.uint32)
    for c, width in enumerate(widths):
        values = _one_chunk(codes, widths, c)
        order = np.argsort(values, kind="stable")
        rows[c * size : (c + 1) * size] = order
        counts = np.bincount(values, minlength=1 << width)
        offsets = np.empty((1 << width) + 1, dtype=np.uint32)
        offsets[0] = c * size
        np.cumsum(counts, out=offsets[1:])
        offsets[1:] += np.uint32(c * size)
        offsets_parts.append(offsets)
    return ChunkTables(widths=widths, offsets=np.concatenate(offsets_parts), rows=rows)


def _check_table_size(size: int, widths: tuple[int, ...]) -> None:
    if size * len(widths) >= 2**32:
        raise InvalidInput("too many rows for uint32 chunk tables; split the index")


def _offsets_size(widths: tuple[int, ...]) -> int:
    return sum((1 << w) + 1 for w in widths)


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
    masks: I64
    table_base: I64
    estimated_candidates: float
    native: NativePlan | None = None


@lru_cache(maxsize=64)
def _label_flags(allowed: int) -> tuple[U8, int]:
    """Bit k of ``allowed`` -> flag k of a 256-entry table (labels are uint8), and its address."""
    flags = np.array([(allowed >> k) & 1 for k in range(256)], dtype=np.uint8)
    flags.setflags(write=False)
    return flags, address(flags)


@dataclass(frozen=True)
class _Filter:
    """Rows to skip: labels per row, an allowed flag per label value, and their addresses."""

    labels: U8
    flags: U8
    labels_at: int
    flags_at: int

    def allows(self, rows: npt.NDArray[np.integer]) -> npt.NDArray[np.bool_]:
        return self.flags[self.labels[rows]].astype(bool)


class HammingIndex:
    """Exact radius search over fixed-width binary hashes (PDQ 256-bit, pHash/dHash 64-bit)."""

    def __init__(
        self,
        codes: npt.ArrayLike,
        bits: int,
        *,
        chunks: int | None = None,
        tables: ChunkTables | None = None,
        scan_share: float | None = None,
        kernel: str | None = None,
    ) -> None:
        """``kernel``: ``native``, ``numpy`` or ``auto`` (default: $HASHMATCH_INDEX_KERNEL, else
        auto); ``scan_share``: default per kernel (DEFAULT_SCAN_SHARE, NATIVE_SCAN_SHARE)."""
        self.bits = bits
        self.kernel: KernelName = choose_kernel(kernel)
        self._native: NativeKernel | None = native_kernel() if self.kernel == "native" else None
        words = as_words(codes, bits) if np.asarray(codes).size else _empty(bits)
        # The C kernel reads whole words: aligned and contiguous (a copy only if not already).
        self.codes: U64 = np.require(words, requirements=("C", "A"))
        self.size = int(self.codes.shape[0])
        default_share = NATIVE_SCAN_SHARE if self._native else DEFAULT_SCAN_SHARE
        self.scan_share = default_share if scan_share is None else scan_share
        if tables is None:
            count = chunks or default_chunk_count(bits, self.size)
            if not 1 <= count <= min(bits, MAX_CHUNKS) or -(-bits // count) > MAX_CHUNK_BITS:
                raise InvalidInput(f"{count} chunks of a {bits}-bit hash are out of range")
            widths = split_widths(bits, count)
        else:
            widths = tables.widths
            if (
                tables.rows.shape[0] != self.size * len(widths)
                or tables.offsets.shape[0] != _offsets_size(widths)
                or tables.offsets[-1] != tables.rows.shape[0]
            ):
                raise InvalidInput("chunk tables do not match the codes")
        self.widths = widths
        bases = np.cumsum([0] + [(1 << w) + 1 for w in self.widths])
        self._table_bases = bases[:-1].astype(np.int64)
        self._plans: dict[int, _ProbePlan | None] = {}
        starts = np.cumsum((0, *self.widths[:-1]))
        self._chunk_bits = [
            (int(a), (1 << w) - 1) for a, w in zip(starts, self.widths, strict=True)
        ]
        self._layout = (
            starts.astype(np.int32),
            np.array(self.widths, dtype=np.int32),
            self._table_bases,
        )
        if tables is None:
            tables = self._build_tables()
        self.tables = tables
        self._native_index: NativeIndex | None = None
        self._labels: tuple[object, U8, int] | None = None
        if self._native:
            self._native_index = self._native.index(
                self.codes, *self._layout, tables.offsets, tables.rows
            )
            self._scan_plan = self._native.plan(np.empty(0, np.int32), np.empty(0, np.uint32))

    def _build_tables(self) -> ChunkTables:
        _check_table_size(self.size, self.widths)
        if self._native is None:
            return build_chunk_tables(self.codes, self.widths)
        layout = self._native.index(self.codes, *self._layout, None, None)
        offsets, rows = self._native.build_tables(layout, _offsets_size(self.widths))
        return ChunkTables(self.widths, offsets, rows)

    @property
    def nbytes(self) -> int:
        """Memory held by the hashes and the chunk tables."""
        return int(self.codes.nbytes + self.tables.nbytes)

    def updated(self, keep: npt.NDArray[np.bool_], added: U64) -> HammingIndex:
        """A new index over ``codes[keep]`` followed by ``added``, without re-sorting.

        Each chunk's rows are already sorted by chunk value: dropping rows keeps that order, and
        the few added rows are inserted at their buckets' ends, so the update costs a few linear
        passes per chunk instead of an argsort (measured: docs/matching.md, apply).
        """
        added = as_words(added, self.bits) if added.size else _empty(self.bits)
        kept = int(np.count_nonzero(keep))
        size = kept + added.shape[0]
        _check_table_size(size, self.widths)
        codes = np.concatenate([self.codes[keep], added])
        if self._native is not None and self._native_index is not None:
            offsets, rows = self._native.update_tables(
                self._native_index,
                _offsets_size(self.widths),
                np.flatnonzero(~keep),
                np.require(added, requirements=("C", "A")),
            )
            return HammingIndex(
                codes,
                self.bits,
                tables=ChunkTables(self.widths, offsets, rows),
                scan_share=self.scan_share,
                kernel=self.kernel,
            )
        new_number = np.cumsum(keep, dtype=np.int64) - 1
        removed_codes = self.codes[~keep]
        new_rows = np.empty(size * len(self.widths), dtype=np.uint32)
        offsets_parts: list[U32] = []
        for c, width in enumerate(self.widths):
            base = int(self._table_bases[c])
            old = self.tables.offsets[base : base + (1 << width) + 1].astype(np.int64)
            counts = np.diff(old)
            counts -= np.bincount(_one_chunk(removed_codes, self.widths, c), minlength=1 << width)
            segment = self.tables.rows[c * self.size : (c + 1) * self.size]
            survivors = new_number[segment[keep[segment]]]
            values = _one_chunk(added, self.widths, c)
            order = np.argsort(values, kind="stable")
            # Insert each added row after the survivors of its bucket (counts before adds).
            ends = np.concatenate(([0], np.cumsum(counts)))[values[order].astype(np.int64) + 1]
            merged = np.insert(survivors, ends, kept + order)
            new_rows[c * size : (c + 1) * size] = merged
            counts += np.bincount(values, minlength=1 << width)
            offsets = np.empty((1 << width) + 1, dtype=np.uint32)
            offsets[0] = c * size
            np.cumsum(counts, out=offsets[1:])
            offsets[1:] += np.uint32(c * size)
            offsets_parts.append(offsets)
        tables = ChunkTables(self.widths, np.concatenate(offsets_parts), new_rows)
        return HammingIndex(
            codes, self.bits, tables=tables, scan_share=self.scan_share, kernel=self.kernel
        )

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
        all_masks = np.concatenate(masks)
        native = None
        if self._native is not None:
            native = self._native.plan(probe_chunks.astype(np.int32), all_masks)
        return _ProbePlan(
            chunk_of_probe=probe_chunks,
            masks=all_masks.astype(np.int64),
            table_base=self._table_bases[probe_chunks],
            estimated_candidates=estimated,
            native=native,
        )

    # -- search --------------------------------------------------------------------------------

    def search(
        self,
        query: npt.ArrayLike,
        radius: int,
        *,
        max_matches: int = 1000,
        labels: npt.NDArray[np.uint8] | None = None,
        allowed: int | None = None,
    ) -> SearchResult:
        """Every row within ``radius`` of one query (nearest ``max_matches`` of them).

        With ``labels`` (one uint8 per row) and ``allowed`` (bit k set: label k may be seen),
        rows whose label is not allowed are skipped before the cap: ``max_matches`` and
        ``truncated`` count allowed rows only.
        """
        if (
            isinstance(query, np.ndarray)
            and query.dtype == np.uint64
            and query.shape == (self.codes.shape[1],)
            and query.flags.c_contiguous
        ):
            q = query.reshape(1, -1)  # already packed: skip as_words' checks (a hot path)
        else:
            q = as_words(query, self.bits)
        if q.shape[0] != 1:
            raise InvalidInput("search takes one hash; use search_batch for several")
        if max_matches < 1:
            raise InvalidInput("max_matches must be at least 1")
        r = self._check_radius(radius)
        only = self._check_filter(labels, allowed)
        if self._native is not None and self._native_index is not None:
            plan = self._plan(r) if self.size else None
            native_plan = plan.native if plan is not None else None
            rows, distances, truncated = self._native.search_one(
                self._native_index,
                native_plan or self._scan_plan,
                q[0],
                r,
                max_matches,
                None if only is None else only.labels_at,
                None if only is None else only.flags_at,
                int(self.scan_share * self.size) if native_plan else -1,
            )
            return SearchResult(rows, distances, truncated)
        plan = self._plan(r) if self.size else None
        if plan is None:
            return self._search_radius(q, r, max_matches, only)[0]
        return self._mih_one(q[0], r, max_matches, plan, only)

    def search_batch(
        self,
        queries: npt.ArrayLike,
        radius: int | Sequence[int],
        *,
        max_matches: int = 1000,
        labels: npt.NDArray[np.uint8] | None = None,
        allowed: int | None = None,
    ) -> list[SearchResult]:
        """Search several queries at once; ``radius`` is one value or one per query.

        ``labels`` and ``allowed`` filter rows as in ``search``.
        """
        q = as_words(queries, self.bits)
        if max_matches < 1:
            raise InvalidInput("max_matches must be at least 1")
        only = self._check_filter(labels, allowed)
        if not isinstance(radius, list | tuple | np.ndarray):
            return self._search_radius(q, self._check_radius(radius), max_matches, only)
        radii = list(radius)
        if len(radii) != q.shape[0]:
            raise InvalidInput("radius must be one value or one per query")
        for r in radii:
            self._check_radius(r)
        results: list[SearchResult | None] = [None] * q.shape[0]
        for r in sorted(set(radii)):
            picks = [i for i, ri in enumerate(radii) if ri == r]
            found = self._search_radius(q[picks], r, max_matches, only)
            for i, res in zip(picks, found, strict=True):
                results[i] = res
        return [r for r in results if r is not None]

    def _check_filter(
        self, labels: npt.NDArray[np.uint8] | None, allowed: int | None
    ) -> _Filter | None:
        if labels is None:
            if allowed is not None:
                raise InvalidInput("allowed labels need the per-row labels")
            return None
        if allowed is None:
            return None
        if isinstance(allowed, bool) or not isinstance(allowed, int) or not 0 <= allowed < 2**256:
            raise InvalidInput(
                "allowed must be a bit mask over uint8 labels, 0 <= allowed < 2**256"
            )
        cached = self._labels
        if cached is None or cached[0] is not labels:
            array = np.asarray(labels)
            if array.dtype != np.uint8 or array.shape != (self.size,):
                raise InvalidInput(f"labels must be one uint8 per row ({self.size} rows)")
            array = np.require(array, requirements=("C", "A"))
            # The last labels seen (a snapshot passes the same array each time) and its address.
            cached = self._labels = (labels, array, address(array))
        flags, flags_at = _label_flags(allowed)
        return _Filter(cached[1], flags, cached[2], flags_at)

    def _search_native(
        self, q: U64, radius: int, max_matches: int, only: _Filter | None
    ) -> list[SearchResult]:
        assert self._native is not None
        assert self._native_index is not None
        plan = self._plan(radius) if self.size else None
        native_plan = plan.native if plan is not None else None
        answer = self._native.search(
            self._native_index,
            native_plan or self._scan_plan,
            q,
            radius,
            max_matches,
            None if only is None else only.labels_at,
            None if only is None else only.flags_at,
            int(self.scan_share * self.size) if native_plan else -1,
        )
        if q.shape[0] == 1:
            return [SearchResult(answer.rows, answer.distances, bool(answer.truncated[0]))]
        ends = np.cumsum(answer.counts).tolist()
        truncated = answer.truncated.tolist()
        results: list[SearchResult] = []
        lo = 0
        for i, hi in enumerate(ends):
            results.append(SearchResult(answer.rows[lo:hi], answer.distances[lo:hi], truncated[i]))
            lo = hi
        return results

    def _check_radius(self, radius: object) -> int:
        if isinstance(radius, bool) or not isinstance(radius, int | np.integer):
            raise InvalidInput(f"radius must be an integer, got {radius!r}")
        if not 0 <= int(radius) <= self.bits:
            raise InvalidInput(f"radius must be between 0 and {self.bits}, got {radius}")
        return int(radius)

    def _search_radius(
        self, q: U64, radius: int, max_matches: int, only: _Filter | None
    ) -> list[SearchResult]:
        count = q.shape[0]
        if self.size == 0:
            return [_empty_result() for _ in range(count)]
        if self._native is not None:
            return self._search_native(q, radius, max_matches, only)
        plan = self._plan(radius)
        if plan is None:
            return [self._scan(q[i], radius, max_matches, only) for i in range(count)]
        results: list[SearchResult] = []
        step = max(
            1,
            min(
                PROBES_PER_STEP // plan.masks.shape[0],
                int(CANDIDATES_PER_STEP // max(plan.estimated_candidates, 1.0)),
            ),
        )
        for lo in range(0, count, step):
            results.extend(self._mih(q[lo : lo + step], radius, max_matches, plan, only))
        return results

    def _mih_one(
        self, q: U64, radius: int, max_matches: int, plan: _ProbePlan, only: _Filter | None
    ) -> SearchResult:
        """One query: the batch algorithm with fewer, smaller numpy calls (overhead dominates)."""
        whole = int.from_bytes(q.tobytes(), "little")  # bit p of the hash is bit p of this int
        qchunks = np.array(
            [(whole >> start) & mask for start, mask in self._chunk_bits], dtype=np.int64
        )
        keys = (qchunks[plan.chunk_of_probe] ^ plan.masks) + plan.table_base
        offsets = self.tables.offsets
        starts = np.take(offsets, keys).astype(np.int64)
        lengths = np.take(offsets, keys + 1) - starts
        before = np.cumsum(lengths)
        total = int(before[-1])
        if total > self.scan_share * self.size:
            return self._scan(q, radius, max_matches, only)
        before -= lengths
        positions = np.repeat(starts - before, lengths) + np.arange(total, dtype=np.int64)
        candidates = np.take(self.tables.rows, positions)
        distances = distances_to(np.take(self.codes, candidates, axis=0), q)
        hit = np.flatnonzero(distances <= radius)
        if only is not None and hit.size:
            hit = hit[only.allows(candidates[hit])]
        if hit.size == 0:
            return _empty_result()
        rows = np.take(candidates, hit).astype(np.int64)
        dist = np.take(distances, hit).astype(np.int32)
        if hit.size > 1:
            # Order by (distance, row); a row found through several chunks is adjacent to its
            # duplicates after that sort, so dropping repeats dedupes.
            order = np.lexsort((rows, dist))
            rows, dist = rows[order], dist[order]
            fresh = np.empty(rows.shape[0], dtype=bool)
            fresh[0] = True
            np.not_equal(rows[1:], rows[:-1], out=fresh[1:])
            rows, dist = rows[fresh], dist[fresh]
        truncated = rows.shape[0] > max_matches
        return SearchResult(rows[:max_matches], dist[:max_matches], truncated)

    def _mih(
        self, q: U64, radius: int, max_matches: int, plan: _ProbePlan, only: _Filter | None
    ) -> list[SearchResult]:
        count = q.shape[0]
        qchunks = chunk_values(q, self.widths).astype(np.int64)
        keys = ((qchunks[:, plan.chunk_of_probe] ^ plan.masks) + plan.table_base).ravel()
        offsets = self.tables.offsets
        # np.take is several times faster than fancy indexing for gathers on these sizes.
        starts = np.take(offsets, keys).astype(np.int64)
        lengths = np.take(offsets, keys + 1) - starts
        per_query = lengths.reshape(count, -1).sum(axis=1)
        scan_rows = per_query > self.scan_share * self.size
        if scan_rows.any():
            lengths.reshape(count, -1)[scan_rows] = 0
            per_query[scan_rows] = 0
        # Expand the bucket ranges [start, start + length) into one position vector; empty
        # buckets drop out of np.repeat by themselves, and probes are laid out query-major, so
        # each candidate's query follows from the per-query counts.
        total = int(per_query.sum())
        before = np.cumsum(lengths) - lengths
        positions = np.repeat(starts - before, lengths) + np.arange(total, dtype=np.int64)
        candidates = np.take(self.tables.rows, positions).astype(np.int64)
        gathered = np.take(self.codes, candidates, axis=0)
        if count == 1:
            owners = np.zeros(total, dtype=np.int64)
            distances = distances_to(gathered, q[0])
        else:
            owners = np.repeat(np.arange(count, dtype=np.int64), per_query)
            distances = rowwise_distances(gathered, np.take(q, owners, axis=0))
        hit = np.flatnonzero(distances <= radius)
        if only is not None and hit.size:
            hit = hit[only.allows(candidates[hit])]
        rows = np.take(candidates, hit)
        owners = np.take(owners, hit)
        dist = np.take(distances, hit).astype(np.int32)
        # A row found through several chunks appears several times: keep one.
        _, first_seen = np.unique(owners * self.size + rows, return_index=True)
        rows, owners, dist = rows[first_seen], owners[first_seen], dist[first_seen]
        order = np.lexsort((rows, dist, owners))
        rows, owners, dist = rows[order], owners[order], dist[order]
        bounds = np.searchsorted(owners, np.arange(count + 1))
        results: list[SearchResult] = []
        for i in range(count):
            if scan_rows[i]:
                results.append(self._scan(q[i], radius, max_matches, only))
                continue
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            truncated = hi - lo > max_matches
            hi = min(hi, lo + max_matches)
            results.append(SearchResult(rows[lo:hi], dist[lo:hi], truncated))
        return results

    def _scan(
        self, query: U64, radius: int, max_matches: int, only: _Filter | None
    ) -> SearchResult:
        """Exhaustive vectorised scan of every row (exact for any radius).

        For multi-word hashes the distance over the first half of the words is a lower bound of
        the full distance, so rows beyond the radius on that half are dropped before the rest is
        read: random rows almost never pass it at PDQ radii, which halves the work. Per-column
        counts avoid numpy's slow short-axis reductions.
        """
        found_rows: list[I64] = []
        found_dist: list[npt.NDArray[np.int32]] = []
        words = self.codes.shape[1]
        prefix = max(1, words // 2)
        bound = np.uint8(min(radius, 255))
        for lo in range(0, self.size, SCAN_BLOCK_ROWS):
            block = self.codes[lo : lo + SCAN_BLOCK_ROWS]
            partial = np.bitwise_count(block[:, 0] ^ query[0])
            for w in range(1, prefix):
                partial += np.bitwise_count(block[:, w] ^ query[w])
            hit = np.flatnonzero(partial <= bound)
            if not hit.size:
                continue
            if words > prefix:
                full = distances_to(np.take(block, hit, axis=0), query)
                keep = full <= radius
                hit, block_dist = hit[keep], full[keep].astype(np.int32)
            else:
                block_dist = partial[hit].astype(np.int32)
            if only is not None and hit.size:
                allowed = only.allows(hit + lo)
                hit, block_dist = hit[allowed], block_dist[allowed]
            if hit.size:
                found_rows.append(hit.astype(np.int64) + lo)
                found_dist.append(block_dist)
        if not found_rows:
            return _empty_result()
        rows = np.concatenate(found_rows)
        dist = np.concatenate(found_dist)
        # Rows are ascending, so a stable sort by distance orders by (distance, row).
        order = np.argsort(dist, kind="stable")[:max_matches]
        return SearchResult(rows[order], dist[order], rows.shape[0] > max_matches)


def _empty(bits: int) -> U64:
    return np.empty((0, bits // 64), dtype=np.uint64)


def _empty_result() -> SearchResult:
    return SearchResult(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32), False)


def brute_force(
    codes: U64,
    query: U64,
    radius: int,
    *,
    labels: npt.NDArray[np.uint8] | None = None,
    allowed: int | None = None,
) -> tuple[I64, npt.NDArray[np.int32]]:
    """Reference oracle: every (allowed) row within ``radius``, ordered by (distance, row)."""
    d = distances_to(codes, query).astype(np.int32)
    within = d <= radius
    if labels is not None and allowed is not None:
        within &= np.array([(allowed >> k) & 1 for k in range(256)], dtype=bool)[labels]
    rows = np.flatnonzero(within)
    order = np.lexsort((rows, d[rows]))
    return rows[order].astype(np.int64), d[rows][order]

"""Benchmark the matching index (native and numpy kernels) against faiss, on one core.

    .venv/bin/python -m bench.matcher            # uniform 1M, uniform 10M, clustered 1M; apply
    .venv/bin/python -m bench.matcher --cases uniform:1000000 --no-apply   # one table, quick

For each case (data set and size) it builds the index once (native kernel; the numpy kernel
searches the same tables), runs 1,000 PDQ queries at radius 31 as single queries and as batches
of 100, and prints a Markdown table of queries per second per core, ratios against faiss
IndexBinaryFlat range search measured in the same run, recall against that exhaustive search,
build time and bytes per hash. Data sets:

- uniform: random hashes; half the queries are a stored row moved d <= 31 bits, half random.
- clustered: half the rows are near-duplicates (<= 10 bits from their centre) in 2,000
  Zipf-sized clusters (s = 1.1: the largest holds ~8% of all rows); half the queries are a
  clustered row moved <= 10 bits, so every member of its cluster is within 30 bits (thousands
  of matches per query), a quarter a background row moved d <= 31 bits, a quarter random.

Then the snapshot (26-byte ids) at each uniform size: serialise, load from bytes with the
checksum, and ``Snapshot.apply`` of 1,000 changes (500 additions, 500 removals) with each kernel,
in wall and CPU seconds (user + sys: the kernel zeroing the new snapshot's pages is included).

Timing: CPU seconds of this process, best of ``--repeats`` rounds per method (the machine is
shared: CPU time is less disturbed than wall time, though caches and memory bandwidth are not).
faiss's range radius is strict, so it is passed radius + 1. The run fails if any method returns
a row beyond the radius or misses one, or if single and batch answers differ.
"""

from __future__ import annotations

import os

# One core, so "per core" is honest: set before numpy/faiss load their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import partial  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from bench.common import numbered_ids  # noqa: E402
from hashmatch.hashtypes import HASH_TYPES  # noqa: E402
from hashmatch.index import (  # noqa: E402
    AddIndicator,
    HammingIndex,
    Hits,
    RemoveIndicator,
    SearchResult,
    Snapshot,
    TypeTable,
)

faiss.omp_set_num_threads(1)
BITS = 256
WORDS = BITS // 64
RADIUS = 31
BATCH = 100
NO_CAP = 10**9
CLUSTERS = 2_000
ZIPF = 1.1
SPREAD = 10  # cluster members and in-cluster queries: at most this many bits from their origin
T = TypeVar("T")


@dataclass
class Row:
    dataset: str
    size: int
    method: str
    build_s: float
    bytes_per_hash: float
    single_qps: float
    batch_qps: float
    recall: float
    note: str = ""


def random_codes(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(0, 2**64 - 1, size=(size, WORDS), dtype=np.uint64, endpoint=True)


def flip_random_bits(codes: np.ndarray, flips: np.ndarray, rng: np.random.Generator) -> None:
    """In place: flip flips[i] distinct random bits of row i (exactly that distance)."""
    for i in np.flatnonzero(flips):
        for pos in rng.choice(BITS, size=int(flips[i]), replace=False):
            codes[i, pos // 64] ^= np.uint64(1) << np.uint64(pos % 64)


def flip_up_to(codes: np.ndarray, max_flips: np.ndarray, rng: np.random.Generator) -> None:
    """In place, vectorised: up to max_flips[i] random bits of row i (repeats cancel)."""
    for j in range(int(max_flips.max(initial=0))):
        rows = np.flatnonzero(max_flips > j)
        pos = rng.integers(0, BITS, size=rows.shape[0])
        codes[rows, pos // 64] ^= np.left_shift(np.uint64(1), (pos % 64).astype(np.uint64))


def make_dataset(
    kind: str, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """Codes, and for the clustered set a mask of the clustered rows."""
    codes = random_codes(rng, size)
    if kind == "uniform":
        return codes, None
    clustered = size // 2
    centres = random_codes(rng, CLUSTERS)
    weights = 1.0 / np.arange(1, CLUSTERS + 1) ** ZIPF
    owner = rng.choice(CLUSTERS, size=clustered, p=weights / weights.sum())
    members = centres[owner]
    flip_up_to(members, rng.integers(0, SPREAD + 1, size=clustered), rng)
    codes[:clustered] = members
    order = rng.permutation(size)
    in_cluster = np.zeros(size, dtype=bool)
    in_cluster[:clustered] = True
    return codes[order], in_cluster[order]


def make_queries(
    codes: np.ndarray, in_cluster: np.ndarray | None, count: int, rng: np.random.Generator
) -> np.ndarray:
    """Uniform: half a stored row moved d <= r bits, half random. Clustered: half a clustered
    row moved, a quarter a background row moved, a quarter random."""
    queries = random_codes(rng, count)
    flips: np.ndarray
    if in_cluster is None:
        sources = rng.integers(0, codes.shape[0], size=count // 2)
        flips = rng.integers(0, RADIUS + 1, size=(sources.shape[0],))
    else:
        inside = rng.choice(np.flatnonzero(in_cluster), size=count // 2)
        outside = rng.choice(np.flatnonzero(~in_cluster), size=count // 4)
        sources = np.concatenate([inside, outside])
        flips = np.concatenate(
            [
                rng.integers(0, SPREAD + 1, size=inside.shape[0]),
                rng.integers(0, RADIUS + 1, size=outside.shape[0]),
            ]
        )
    moved = codes[sources].copy()
    flip_random_bits(moved, flips, rng)
    queries[: moved.shape[0]] = moved
    return queries[rng.permutation(count)]


def cpu(fn: Callable[[], T]) -> tuple[float, T]:
    """CPU seconds of this process (one thread), so other load on the machine counts less."""
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def wall(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def best_qps(fn: Callable[[], Any], count: int, repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        seconds, out = cpu(fn)
        best = min(best, seconds)
    return count / best, out


def run_ours(
    index: HammingIndex, queries: np.ndarray, repeats: int
) -> tuple[float, float, list[set[int]]]:
    def singles() -> list[SearchResult]:
        return [index.search(q, RADIUS, max_matches=NO_CAP) for q in queries]

    def batches() -> list[SearchResult]:
        return [
            r
            for lo in range(0, len(queries), BATCH)
            for r in index.search_batch(queries[lo : lo + BATCH], RADIUS, max_matches=NO_CAP)
        ]

    index.search_batch(queries[:2], RADIUS)  # the probe plan for r is built once
    single_qps, single = best_qps(singles, len(queries), repeats)
    batch_qps, batch = best_qps(batches, len(queries), repeats)
    found = [set(r.rows.tolist()) for r in batch]
    if any(set(a.rows.tolist()) != b for a, b in zip(single, found, strict=True)):
        raise AssertionError(f"{index.kernel}: single and batch answers differ")
    return single_qps, batch_qps, found


def run_faiss(
    flat: Any, queries: np.ndarray, singles: int, repeats: int
) -> tuple[float, float, list[set[int]]]:
    as_bytes = queries.view(np.uint8).reshape(queries.shape[0], -1)
    single_qps, _ = best_qps(
        lambda: [flat.range_search(as_bytes[i : i + 1], RADIUS + 1) for i in range(singles)],
        singles,
        repeats,
    )

    def batches() -> list[set[int]]:
        found: list[set[int]] = []
        for lo in range(0, as_bytes.shape[0], BATCH):
            lims, _, labels = flat.range_search(as_bytes[lo : lo + BATCH], RADIUS + 1)
            found.extend(set(labels[lims[i] : lims[i + 1]].tolist()) for i in range(len(lims) - 1))
        return found

    batch_qps, found = best_qps(batches, len(queries), repeats)
    return single_qps, batch_qps, found


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    """Share of true matches found; fails loudly on any row beyond the radius."""
    total = sum(len(t) for t in truth)
    extra = sum(len(f - t) for f, t in zip(found, truth, strict=True))
    if extra:
        raise AssertionError(f"{extra} rows returned beyond the radius")
    hit = sum(len(f & t) for f, t in zip(found, truth, strict=True))
    return 1.0 if total == 0 else hit / total


def bench_case(
    dataset: str, size: int, args: argparse.Namespace, rows: list[Row], notes: list[str]
) -> None:
    rng = np.random.default_rng(args.seed + size + len(dataset))
    codes, in_cluster = make_dataset(dataset, size, rng)
    queries = make_queries(codes, in_cluster, args.queries, rng)

    build_s, native = cpu(lambda: HammingIndex(codes, BITS, kernel="native"))
    numpy_index = HammingIndex(native.codes, BITS, tables=native.tables, kernel="numpy")
    flat = faiss.IndexBinaryFlat(BITS)
    flat_build, _ = cpu(partial(flat.add, codes.view(np.uint8).reshape(size, -1)))
    singles = args.faiss_singles or len(queries)
    flat_single, flat_batch, truth = run_faiss(flat, queries, singles, args.repeats)
    flat.reset()
    per_query = np.array([len(t) for t in truth])
    chunks = f"{len(native.widths)} chunks of {'/'.join(map(str, sorted(set(native.widths))))}"
    per_hash = native.nbytes / size
    for name, index, note in (
        ("hashmatch native", native, chunks),
        ("hashmatch numpy", numpy_index, "same tables"),
    ):
        single, batch, found = run_ours(index, queries, args.repeats)
        rows.append(
            Row(dataset, size, name, build_s, per_hash, single, batch, recall(found, truth), note)
        )
    rows.append(
        Row(
            dataset,
            size,
            "faiss IndexBinaryFlat",
            flat_build,
            BITS / 8,
            flat_single,
            flat_batch,
            1.0,
            f"exhaustive; singles timed on {singles}",
        )
    )
    notes.append(
        f"{dataset} {size:,}: {np.count_nonzero(per_query)} of {len(queries)} queries match, "
        f"matches per query median {np.median(per_query):.0f}, p95 "
        f"{np.percentile(per_query, 95):.0f}, max {per_query.max()}"
    )
    print(f"  done: {dataset} {size:,}", flush=True)
    if args.apply and dataset == "uniform":
        notes.append(snapshot_timings(size, native, rng))


def snapshot_timings(size: int, index: HammingIndex, rng: np.random.Generator) -> str:
    ids = numbered_ids(size)
    labels = np.zeros(size, np.uint8)
    pdq = HASH_TYPES["pdq"]
    cells = []
    for kernel in ("native", "numpy"):
        kernel_index = HammingIndex(index.codes, BITS, tables=index.tables, kernel=kernel)
        table = TypeTable(pdq, kernel_index, ids, labels, labels.copy())
        snapshot = Snapshot(1, "w1", "2026-01-01T00:00:00Z", {"pdq": table}, kernel=kernel)
        changes: list[AddIndicator | RemoveIndicator] = [
            AddIndicator("pdq", random_codes(rng, 1).tobytes(), f"new_{i}", "new", "image")
            for i in range(500)
        ]
        changes += [RemoveIndicator(ids[i].decode()) for i in rng.choice(size, 500, replace=False)]
        cpu_start = time.process_time()
        apply_s, updated = wall(
            partial(snapshot.apply, changes, version=2, watermark="w2", created_at="t")
        )
        apply_cpu = time.process_time() - cpu_start
        assert updated.tables["pdq"].size == size
        del updated
        cells.append(f"{apply_s:.2f} s ({apply_cpu:.2f} s CPU)")
        if kernel == "native":
            save_s, blob = wall(snapshot.to_bytes)
            load_s, _ = wall(partial(load_and_search, blob, index.codes[:1]))
            cells = [
                f"{len(blob) / 1e6:,.0f} MB ({len(blob) / size:.0f} B/hash)",
                f"{save_s:.2f} s",
                f"{load_s:.2f} s",
                *cells,
            ]
            del blob
    return f"| {size:,} | " + " | ".join(cells) + " |"


def load_and_search(blob: bytes, query: np.ndarray) -> list[Hits]:
    return Snapshot.from_bytes(blob).search("pdq", query.view(np.uint8).reshape(1, -1), RADIUS)


def print_tables(rows: list[Row], notes: list[str]) -> None:
    print()
    print(
        "| data | N | method | q/s single | q/s batch 100 | x flat (single) | x flat (batch) | "
        "recall | build s | bytes/hash | note |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        ref = next(
            r
            for r in rows
            if r.method.startswith("faiss") and (r.dataset, r.size) == (row.dataset, row.size)
        )
        print(
            f"| {row.dataset} | {row.size:,} | {row.method} | {row.single_qps:,.0f} | "
            f"{row.batch_qps:,.0f} | {row.single_qps / ref.single_qps:.1f}x | "
            f"{row.batch_qps / ref.batch_qps:.1f}x | {row.recall:.4f} | {row.build_s:.1f} | "
            f"{row.bytes_per_hash:.1f} | {row.note} |"
        )
    print()
    for note in notes:
        if not note.startswith("|"):
            print(f"- {note}")
    snapshots = [note for note in notes if note.startswith("|")]
    if snapshots:
        print()
        print(
            "| N | snapshot (26-byte ids) | serialise | from_bytes + checksum + first query | "
            "apply 1,000, native: wall (CPU) | apply 1,000, numpy: wall (CPU) |"
        )
        print("|---:|---:|---:|---:|---:|---:|")
        for note in snapshots:
            print(note)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--cases",
        default="uniform:1000000,uniform:10000000,clustered:1000000",
        help="comma-separated dataset:N (dataset: uniform or clustered)",
    )
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument(
        "--faiss-singles", type=int, default=0, help="single faiss queries (0: all of them)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds per method (best kept)")
    parser.add_argument("--no-apply", dest="apply", action="store_false")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    rows: list[Row] = []
    notes: list[str] = []
    print(f"numpy {np.__version__}, faiss {faiss.__version__}, one thread; PDQ r{RADIUS}")
    for case in args.cases.split(","):
        dataset, size = case.split(":")
        bench_case(dataset, int(size), args, rows, notes)
    print_tables(rows, notes)


if __name__ == "__main__":
    main()

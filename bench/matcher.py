"""Benchmark the matching index against numpy brute force and faiss, on one core.

    .venv/bin/python bench/matcher.py                 # PDQ r31 and pHash r8/r10 at 1M and 10M
    .venv/bin/python bench/matcher.py --sizes 1000000 # 1M only

For each hash type, size and data set (uniform random; clustered with many near-duplicates and
one huge viral cluster) it builds every index, runs 1,000 queries (a known share of them with a
planted neighbour at a random distance <= radius) as single queries and as batches of 100, and
prints a Markdown table of queries per second per core, ratios against faiss IndexBinaryFlat
measured in the same run, recall against exhaustive search, build time and bytes per hash; then
snapshot save and load times. faiss's range radius is strict, so it is passed radius + 1.
"""

from __future__ import annotations

import os

# One core, so "per core" is honest: set before numpy/faiss load their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TypeVar  # noqa: E402

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from hashmatch.hashtypes import HASH_TYPES  # noqa: E402
from hashmatch.index import (  # noqa: E402
    HammingIndex,
    SearchResult,
    Snapshot,
    TypeTable,
)
from hashmatch.index.bits import distances_to  # noqa: E402

faiss.omp_set_num_threads(1)
BATCH = 100
T = TypeVar("T")
NO_CAP = 10**9


@dataclass
class Row:
    dataset: str
    size: int
    hash_type: str
    radius: int
    method: str
    build_s: float
    bytes_per_hash: float
    single_qps: float
    batch_qps: float
    recall: float
    note: str = ""


def random_codes(rng: np.random.Generator, size: int, words: int) -> np.ndarray:
    return rng.integers(0, 2**64 - 1, size=(size, words), dtype=np.uint64, endpoint=True)


def flip_random_bits(codes: np.ndarray, max_flips: np.ndarray, rng: np.random.Generator) -> None:
    """In place: flip up to max_flips[i] random bits of row i (repeats cancel: distance <= k)."""
    bits = codes.shape[1] * 64
    for j in range(int(max_flips.max(initial=0))):
        rows = np.flatnonzero(max_flips > j)
        pos = rng.integers(0, bits, size=rows.shape[0])
        codes[rows, pos // 64] ^= np.left_shift(np.uint64(1), (pos % 64).astype(np.uint64))


def make_dataset(
    kind: str, size: int, words: int, radius: int, rng: np.random.Generator
) -> np.ndarray:
    codes = random_codes(rng, size, words)
    if kind == "uniform":
        return codes
    # Clustered: 30% of rows are near-duplicates of 2,000 centres with Zipf-like cluster sizes,
    # plus one viral cluster holding 1% of all rows.
    clustered = int(size * 0.3)
    viral = size // 100
    centres = random_codes(rng, 2_000, words)
    weights = 1.0 / np.arange(1, 2_001) ** 1.1
    owner = rng.choice(2_000, size=clustered - viral, p=weights / weights.sum())
    owner = np.concatenate([np.zeros(viral, dtype=np.int64), owner])
    members = centres[owner].copy()
    flip_random_bits(members, rng.integers(0, radius + 1, size=clustered), rng)
    codes[:clustered] = members
    return codes[rng.permutation(size)]


def make_queries(
    codes: np.ndarray, count: int, share: float, radius: int, rng: np.random.Generator
) -> np.ndarray:
    """``share`` of queries are stored rows moved exactly d <= radius bits; the rest random."""
    planted = int(count * share)
    queries = random_codes(rng, count, codes.shape[1])
    bits = codes.shape[1] * 64
    for i in range(planted):
        q = codes[rng.integers(0, codes.shape[0])].copy()
        for pos in rng.choice(bits, size=int(rng.integers(0, radius + 1)), replace=False):
            q[pos // 64] ^= np.uint64(1) << np.uint64(pos % 64)
        queries[i] = q
    return queries[rng.permutation(count)]


def chunking_note(index: HammingIndex) -> str:
    widths = "/".join(map(str, sorted(set(index.widths), reverse=True)))
    return f"{len(index.widths)} chunks of {widths} bits"


def search_singles(index: HammingIndex, queries: np.ndarray, radius: int) -> list[SearchResult]:
    return [index.search(q, radius, max_matches=NO_CAP) for q in queries]


def search_batches(index: HammingIndex, queries: np.ndarray, radius: int) -> list[SearchResult]:
    return [
        result
        for lo in range(0, len(queries), BATCH)
        for result in index.search_batch(queries[lo : lo + BATCH], radius, max_matches=NO_CAP)
    ]


def brute_force_sets(codes: np.ndarray, queries: np.ndarray, radius: int) -> list[set[int]]:
    return [set(np.flatnonzero(distances_to(codes, q) <= radius).tolist()) for q in queries]


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """CPU seconds of this process (one thread), so other load on the machine counts less."""
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def faiss_rows(lims: np.ndarray, labels: np.ndarray) -> list[set[int]]:
    return [set(labels[lims[i] : lims[i + 1]].tolist()) for i in range(len(lims) - 1)]


def run_faiss(index: object, queries: np.ndarray, radius: int, singles: int) -> tuple:
    """(single q/s on the first ``singles`` queries, batch q/s, per-query row sets)."""
    as_bytes = queries.view(np.uint8).reshape(queries.shape[0], -1)
    t_single, _ = timed(
        lambda: [index.range_search(as_bytes[i : i + 1], radius + 1) for i in range(singles)]  # type: ignore[attr-defined]
    )
    found: list[set[int]] = []

    def batches() -> None:
        for lo in range(0, as_bytes.shape[0], BATCH):
            lims, _, labels = index.range_search(as_bytes[lo : lo + BATCH], radius + 1)  # type: ignore[attr-defined]
            found.extend(faiss_rows(lims, labels))

    t_batch, _ = timed(batches)
    return singles / t_single, queries.shape[0] / t_batch, found


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    """Share of true matches found; also fails loudly on any row beyond the radius."""
    total = sum(len(t) for t in truth)
    hit = sum(len(f & t) for f, t in zip(found, truth, strict=True))
    extra = sum(len(f - t) for f, t in zip(found, truth, strict=True))
    if extra:
        raise AssertionError(f"{extra} rows returned beyond the radius")
    return 1.0 if total == 0 else hit / total


def bench_case(
    dataset: str,
    size: int,
    hash_type: str,
    radii: list[int],
    args: argparse.Namespace,
    rows: list[Row],
    snapshot_notes: list[str],
) -> None:
    rng = np.random.default_rng(args.seed + size + len(hash_type))
    spec = HASH_TYPES[hash_type]
    words = spec.bits // 64
    codes = make_dataset(dataset, size, words, max(radii), rng)
    as_bytes = codes.view(np.uint8).reshape(size, -1)

    build_s, index = timed(lambda: HammingIndex(codes, spec.bits))
    assert isinstance(index, HammingIndex)
    flat = faiss.IndexBinaryFlat(spec.bits)
    flat_build, _ = timed(lambda: flat.add(as_bytes))
    nhash = 16 if spec.bits == 256 else 4
    mih = faiss.IndexBinaryMultiHash(spec.bits, nhash, spec.bits // nhash)
    mih_build, _ = timed(lambda: mih.add(as_bytes))

    for radius in radii:
        queries = make_queries(codes, args.queries, args.planted_share, radius, rng)
        label = f"{hash_type} r{radius}"
        # faiss IndexBinaryFlat is exhaustive: the truth for recall, and the reference speed.
        flat_single, flat_batch, truth = run_faiss(flat, queries, radius, args.faiss_singles)
        matches = sum(len(t) for t in truth)
        with_match = sum(1 for t in truth if t)

        index.search_batch(queries[:2], radius)  # warm up: builds the probe plan for r once
        single_s, single = timed(partial(search_singles, index, queries, radius))
        batch_s, batch_results = timed(partial(search_batches, index, queries, radius))
        ours_found = [set(r.rows.tolist()) for r in batch_results]
        assert all(set(a.rows.tolist()) == b for a, b in zip(single, ours_found, strict=True)), (
            "single and batch answers differ"
        )
        ours = Row(
            dataset,
            size,
            label,
            radius,
            "hashmatch MIH",
            build_s,
            index.nbytes / size,
            len(queries) / single_s,
            len(queries) / batch_s,
            recall(ours_found, truth),
            chunking_note(index),
        )

        # numpy brute force (XOR + popcount over every row), timed on a subset.
        subset = args.brute_queries
        brute_s, brute_found = timed(partial(brute_force_sets, codes, queries[:subset], radius))
        brute = Row(
            dataset,
            size,
            label,
            radius,
            "numpy brute force",
            0.0,
            codes.nbytes / size,
            subset / brute_s,
            subset / brute_s,
            recall(brute_found, truth[:subset]),
            f"timed on {subset} queries",
        )
        flat_row = Row(
            dataset,
            size,
            label,
            radius,
            "faiss IndexBinaryFlat",
            flat_build,
            spec.bits / 8,
            flat_single,
            flat_batch,
            1.0,
            "exhaustive: the recall reference",
        )
        mih.nflip = radius // nhash  # exact: nhash * (nflip + 1) >= radius + 1
        mih_single, mih_batch, mih_found = run_faiss(mih, queries, radius, args.faiss_singles)
        mih_row = Row(
            dataset,
            size,
            label,
            radius,
            "faiss IndexBinaryMultiHash",
            mih_build,
            float("nan"),
            mih_single,
            mih_batch,
            recall(mih_found, truth),
            f"nhash={nhash} nflip={mih.nflip}",
        )
        rows.extend([ours, flat_row, mih_row, brute])
        print(
            f"  {dataset} N={size:,} {label}: {with_match} queries matched, {matches} matches; "
            f"ours {ours.single_qps:,.0f}/{ours.batch_qps:,.0f} q/s, "
            f"flat {flat_single:,.0f}/{flat_batch:,.0f}",
            flush=True,
        )

    if hash_type == "pdq":
        snapshot_notes.append(snapshot_timings(dataset, size, spec, index, rng))


def wall(fn: Callable[[], T]) -> tuple[float, T]:
    """Wall-clock seconds: for load times, where waiting on memory and disk is the point."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def snapshot_timings(
    dataset: str, size: int, spec: object, index: HammingIndex, rng: np.random.Generator
) -> str:
    ids = np.char.zfill(np.arange(size).astype("S26"), 26)
    table = TypeTable(
        HASH_TYPES["pdq"], index, ids, np.zeros(size, np.uint8), np.zeros(size, np.uint8)
    )
    snapshot = Snapshot(1, "2026-01-01T00:00:00Z#0", "2026-01-01T00:00:00Z", {"pdq": table})
    save_s, blob = wall(snapshot.to_bytes)
    assert isinstance(blob, bytes)
    probe = index.codes[:1].view(np.uint8).reshape(1, -1)
    load_s, _ = wall(lambda: Snapshot.from_bytes(blob).search("pdq", probe, 31))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshot.bin"
        write_s, _ = wall(lambda: path.write_bytes(blob))
        mmap_s, _ = wall(lambda: Snapshot.load(path).search("pdq", probe, 31))
    from hashmatch.index import AddIndicator, RemoveIndicator

    changes: list = [
        AddIndicator(
            "pdq", bytes(rng.integers(0, 256, 32, dtype=np.uint8)), f"N{i}", "new", "image"
        )
        for i in range(500)
    ]
    changes += [RemoveIndicator(ids[i].decode()) for i in rng.choice(size, 500, replace=False)]
    apply_s, _ = wall(
        lambda: snapshot.apply(
            changes, version=2, watermark="w2", created_at="2026-01-01T00:01:00Z"
        )
    )
    return (
        f"| {dataset} | {size:,} | {len(blob) / 1e6:,.0f} MB ({len(blob) / size:.0f} B/hash incl. "
        f"26-byte ids) | {save_s:.2f} s + write {write_s:.2f} s | {load_s * 1000:.0f} ms | "
        f"{mmap_s * 1000:.0f} ms | {apply_s:.2f} s |"
    )


def print_table(rows: list[Row], snapshot_notes: list[str]) -> None:
    print()
    print(
        "| data | N | type | method | q/s single | q/s batch 100 | x flat (single) | "
        "x flat (batch) | recall | build s | bytes/hash | note |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        ref = next(
            r
            for r in rows
            if r.method == "faiss IndexBinaryFlat"
            and (r.dataset, r.size, r.hash_type) == (row.dataset, row.size, row.hash_type)
        )
        bph = "" if np.isnan(row.bytes_per_hash) else f"{row.bytes_per_hash:.1f}"
        print(
            f"| {row.dataset} | {row.size:,} | {row.hash_type} | {row.method} | "
            f"{row.single_qps:,.0f} | {row.batch_qps:,.0f} | "
            f"{row.single_qps / ref.single_qps:.1f}x | {row.batch_qps / ref.batch_qps:.1f}x | "
            f"{row.recall:.4f} | {row.build_s:.1f} | {bph} | {row.note} |"
        )
    if snapshot_notes:
        print()
        print(
            "| data | N | snapshot size | serialise | from_bytes + first query | "
            "mmap load + first query | apply 1,000 changes |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for note in snapshot_notes:
            print(note)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="1000000,10000000", help="comma-separated N values")
    parser.add_argument("--types", default="pdq,phash", help="pdq and/or phash")
    parser.add_argument("--datasets", default="uniform,clustered")
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--planted-share", type=float, default=0.5)
    parser.add_argument("--faiss-singles", type=int, default=200, help="single faiss queries timed")
    parser.add_argument("--brute-queries", type=int, default=50, help="numpy brute-force queries")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    rows: list[Row] = []
    notes: list[str] = []
    radii = {"pdq": [31], "phash": [8, 10]}
    print(f"numpy {np.__version__}, faiss {faiss.__version__}, one thread")
    for size in (int(s) for s in args.sizes.split(",")):
        for hash_type in args.types.split(","):
            for dataset in args.datasets.split(","):
                bench_case(dataset, size, hash_type, radii[hash_type], args, rows, notes)
    print_table(rows, notes)


if __name__ == "__main__":
    main()

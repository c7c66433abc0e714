"""Scale: one index at 100M PDQ hashes (if this machine can hold it), and the sharded path.

    .venv/bin/python -m bench.scale                       # 100M (memory permitting) + shards
    .venv/bin/python -m bench.scale --size 0              # only the sharding table (10M)

Part 1 (100M): the hashes are generated straight into a faiss IndexBinaryFlat and the native
index is built over a view of faiss's own buffer, so they are in memory once (~9 GB at peak with
the chunk tables). It runs only when MemAvailable leaves ``--headroom-gb`` for the other users
of the machine; otherwise it says so and skips. faiss is timed on fewer queries (a query scans
3.2 GB).

Part 2 (sharding, in-process): a 10M index and the same rows split into 2, 4 and 8 shards
(``ShardedIndex``), searched sequentially and with one thread per shard, as a fan-out to shard
functions would: the cost of splitting and merging, against the single index.

q/s are CPU-time based and one core (threads: wall time, two cores), as in bench/matcher.py.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from bench.matcher import BATCH, RADIUS, make_queries, random_codes  # noqa: E402
from hashmatch.index import HammingIndex, ShardedIndex  # noqa: E402
from hashmatch.index.kernel import collapse_to_huge_pages  # noqa: E402

faiss.omp_set_num_threads(1)
GENERATE_ROWS = 5_000_000  # rows generated and added to faiss per step (160 MB)


def available_gb() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return 0.0


def cpu_qps(fn: Any, count: int) -> float:
    start = time.process_time()
    fn()
    return count / (time.process_time() - start)


def wall_qps(fn: Any, count: int) -> float:
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def hundred_million(size: int, args: argparse.Namespace) -> None:
    # codes + row numbers (11 chunks) + boundaries + the build's scratch, in GB
    needed = size * (32 + 44 + 5 + 8) / 2**30
    free = available_gb()
    if free < needed + args.headroom_gb:
        print(
            f"{size:,}: skipped: needs ~{needed:.1f} GB, {free:.1f} GB available and "
            f"{args.headroom_gb} GB kept for the machine's other users"
        )
        return
    rng = np.random.default_rng(size)
    flat = faiss.IndexBinaryFlat(256)
    started = time.perf_counter()
    for lo in range(0, size, GENERATE_ROWS):
        part = random_codes(rng, min(GENERATE_ROWS, size - lo))
        flat.add(part.view(np.uint8).reshape(part.shape[0], -1))
    shared = faiss.rev_swig_ptr(flat.xb.data(), flat.ntotal * flat.code_size)  # type: ignore[attr-defined]
    codes = shared.view(np.uint64)
    codes = codes.reshape(size, 4)
    # faiss's buffer is on 4 KB pages; a snapshot loaded by Snapshot.from_* is on huge pages.
    collapsed = collapse_to_huge_pages(shared.data)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    index = HammingIndex(codes, 256, kernel="native")
    built = time.perf_counter() - started
    queries = make_queries(codes, None, args.queries, rng)
    index.search_batch(queries[:2], RADIUS)
    single = cpu_qps(
        lambda: [index.search(q, RADIUS, max_matches=10**9) for q in queries], len(queries)
    )
    batch = cpu_qps(
        lambda: [
            index.search_batch(queries[lo : lo + BATCH], RADIUS, max_matches=10**9)
            for lo in range(0, len(queries), BATCH)
        ],
        len(queries),
    )
    as_bytes = queries.view(np.uint8).reshape(len(queries), -1)
    few = args.faiss_queries
    flat_single = cpu_qps(
        lambda: [flat.range_search(as_bytes[i : i + 1], RADIUS + 1) for i in range(few)], few
    )
    lims, _, labels = flat.range_search(as_bytes[:few], RADIUS + 1)
    ours = index.search_batch(queries[:few], RADIUS, max_matches=10**9)
    for i in range(few):
        truth = set(labels[lims[i] : lims[i + 1]].tolist())
        if set(ours[i].rows.tolist()) != truth:
            raise AssertionError(f"query {i}: answer differs from faiss's exhaustive search")
    print()
    print(
        f"| N | chunks | bytes/hash | build (wall) | native single q/s | native batch {BATCH} q/s "
        f"| faiss flat q/s | x flat (single) | x flat (batch) | recall |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {size:,} | {len(index.widths)} x {'/'.join(map(str, sorted(set(index.widths))))} | "
        f"{index.nbytes / size:.1f} | {built:.0f} s | {single:,.0f} | {batch:,.0f} | "
        f"{flat_single:,.1f} | {single / flat_single:,.0f}x | {batch / flat_single:,.0f}x | "
        f"1.0000 ({few} queries vs faiss) |"
    )
    print(
        f"(hashes generated into faiss in {generated:.0f} s; index over faiss's buffer, "
        f"collapsed to huge pages: {collapsed})"
    )


def sharding(size: int, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(size + 1)
    codes = random_codes(rng, size)
    queries = make_queries(codes, None, args.queries, rng)
    print()
    print(
        "| N | shards | threads | single q/s | batch 100 q/s | x one index (batch) | bytes/hash |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    reference = None
    for shards in (1, 2, 4, 8):
        index = ShardedIndex.split(codes, 256, shards, kernel="native")
        for workers in (1, 2) if shards > 1 else (1,):
            index.workers = workers
            index.search_batch(queries[:2], RADIUS)
            timer = cpu_qps if workers == 1 else wall_qps
            single = timer(
                lambda i=index: [i.search(q, RADIUS, max_matches=10**9) for q in queries],
                len(queries),
            )
            batch = timer(
                lambda i=index: [
                    i.search_batch(queries[lo : lo + BATCH], RADIUS, max_matches=10**9)
                    for lo in range(0, len(queries), BATCH)
                ],
                len(queries),
            )
            reference = reference or batch
            print(
                f"| {size:,} | {shards} | {workers} | {single:,.0f} | {batch:,.0f} | "
                f"{batch / reference:.2f}x | {index.nbytes / size:.1f} |",
                flush=True,
            )
        del index


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000_000, help="0 skips the big index")
    parser.add_argument("--shard-size", type=int, default=10_000_000, help="0 skips sharding")
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--faiss-queries", type=int, default=20)
    parser.add_argument("--headroom-gb", type=float, default=6.0)
    args = parser.parse_args()
    print(f"numpy {np.__version__}, faiss {faiss.__version__}; PDQ r{RADIUS}, uniform")
    if args.size:
        hundred_million(args.size, args)
    if args.shard_size:
        sharding(args.shard_size, args)


if __name__ == "__main__":
    main()

"""The augmented index against today's, in one run: size and speed through ``Snapshot.search``.

    nice -n 10 .venv/bin/python -m bench.augmented_index                  # 1M indicators
    nice -n 10 .venv/bin/python -m bench.augmented_index --indicators 100000

Today: N indicators with one PDQ row each, queries of one PDQ hash at radius 31 (what a client
without companions gets, before and after variants). Augmented: the same N indicators with
``--hashes`` rows each (the image's own hash and its variants, each within 40 bits of it, as
crops and small rotations are), every row with its dHash companion; items of 10 PDQ hashes (the
value and 9 alternates) with their companions, searched under the agreement rule (PDQ + dHash
<= 36, or an indicator's own hash within PDQ's 31; the index is searched at PDQ radius 36) and
answered once per indicator. Half the
items have a planted match (a variant moved up to 30 PDQ bits and 6 dHash bits).

Printed: build time, bytes in memory (per indicator and in all), items per second single and in
batches of 100 items (CPU seconds of this one-threaded process), the ratios augmented/today, and
an exactness check of the augmented answers against brute force on a subset of items. Memory:
about 4 GB at 1M x 15 (one such run at a time on a shared machine).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402
from typing import TypeVar  # noqa: E402

import numpy as np  # noqa: E402

from hashmatch.hashtypes import HASH_TYPES  # noqa: E402
from hashmatch.index import Hits, Snapshot, TypeTable  # noqa: E402
from hashmatch.index.bits import as_words, distances_to  # noqa: E402
from hashmatch.index.snapshot import RowExtras  # noqa: E402

T = TypeVar("T")
PDQ = HASH_TYPES["pdq"]
THRESHOLD = PDQ.default_threshold
AGREEMENT = PDQ.default_agreement_threshold or 40
HASHES_PER_ITEM = 10
BATCH_ITEMS = 100
ID_WIDTH = 26


def cpu(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def flipped(rows: np.ndarray, max_flips: int, rng: np.random.Generator) -> np.ndarray:
    """Each row (uint8 bytes) with up to ``max_flips`` random bits flipped."""
    out = rows.copy()
    bits = out.shape[1] * 8
    counts = rng.integers(0, max_flips + 1, out.shape[0])
    for j in range(max_flips):
        which = np.flatnonzero(counts > j)
        positions = rng.integers(0, bits, which.shape[0])
        out[which, positions // 8] ^= (1 << (positions % 8)).astype(np.uint8)
    return out


def table_of(
    pdq: np.ndarray, companions: np.ndarray | None, variant: np.ndarray, owners: np.ndarray
) -> TypeTable:
    ids = np.char.zfill(owners.astype(f"S{ID_WIDTH}"), ID_WIDTH)
    rows = pdq.shape[0]
    extra = RowExtras(
        as_words(companions, 64) if companions is not None else np.zeros((rows, 1), np.uint64),
        np.full(rows, 1 if companions is not None else 0, np.uint8),
        variant.astype(np.uint8),
    )
    return TypeTable.build(
        PDQ,
        as_words(pdq, PDQ.bits),
        ids,
        np.zeros(rows, np.uint8),
        np.zeros(rows, np.uint8),
        rows_extra=extra,
    )


def snapshot_of(table: TypeTable) -> Snapshot:
    return Snapshot(1, "", "", {"pdq": table})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--hashes", type=int, default=15, help="rows per augmented indicator")
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--single-items", type=int, default=200)
    parser.add_argument("--check-items", type=int, default=20)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n, k = args.indicators, args.hashes
    own = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    own_companion = rng.integers(0, 256, (n, 8), dtype=np.uint8)

    build_today, today_table = cpu(lambda: table_of(own, None, np.zeros(n, np.uint8), np.arange(n)))
    today = snapshot_of(today_table)
    # Variants: rows 1.. of each indicator, within 40 PDQ bits and 12 dHash bits of its own.
    owners = np.repeat(np.arange(n), k)
    variant = np.tile(np.arange(k), n)
    pdq_rows = own[owners]
    companion_rows = own_companion[owners]
    moved = variant > 0
    pdq_rows[moved] = flipped(pdq_rows[moved], 40, rng)
    companion_rows[moved] = flipped(companion_rows[moved], 12, rng)
    build_aug, aug_table = cpu(partial(table_of, pdq_rows, companion_rows, variant, owners))
    del pdq_rows, companion_rows
    augmented = snapshot_of(aug_table)

    # Items: half planted near a random variant of a random indicator.
    items = args.items
    values = rng.integers(0, 256, (items, HASHES_PER_ITEM, 32), dtype=np.uint8)
    companions = rng.integers(0, 256, (items, HASHES_PER_ITEM, 8), dtype=np.uint8)
    planted = rng.permutation(items)[: items // 2]
    rows = aug_table.codes.shape[0]
    chosen = rng.integers(0, rows, planted.shape[0])
    codes_bytes = aug_table.codes[chosen].view(np.uint8).reshape(-1, 32)
    assert aug_table.rows_extra is not None
    companion_bytes = aug_table.rows_extra.companion[chosen].view(np.uint8).reshape(-1, 8)
    values[planted, 0] = flipped(codes_bytes, 30, rng)
    companions[planted, 0] = flipped(companion_bytes, 6, rng)

    def today_batch(lo: int, hi: int) -> list[Hits]:
        return list(today.search("pdq", values[lo:hi, 0], THRESHOLD))

    def augmented_batch(lo: int, hi: int) -> list[Hits]:
        flat = values[lo:hi].reshape(-1, 32)
        paired = [bytes(c) for c in companions[lo:hi].reshape(-1, 8)]
        return list(
            augmented.search("pdq", flat, THRESHOLD, companions=paired, agreement=AGREEMENT)
        )

    def rate(run: Callable[[int, int], list[Hits]], step: int, count: int) -> float:
        seconds, _ = cpu(lambda: [run(lo, min(lo + step, count)) for lo in range(0, count, step)])
        return count / seconds

    today_batch(0, 2)
    augmented_batch(0, 2)  # warm up the probe plans of both radii
    today_single = rate(today_batch, 1, args.single_items)
    aug_single = rate(augmented_batch, 1, args.single_items)
    today_batched = rate(today_batch, BATCH_ITEMS, items)
    aug_batched = rate(augmented_batch, BATCH_ITEMS, items)
    found = augmented_batch(0, items)
    matched_items = sum(
        1
        for item in range(items)
        if any(found[item * HASHES_PER_ITEM + j].hits for j in range(HASHES_PER_ITEM))
    )

    # Exactness: the indicators brute force finds under the rule, item by item.
    codes, extra = aug_table.codes, aug_table.rows_extra
    ids = aug_table.ids
    checked = list(planted[: args.check_items])
    for item in checked:
        answers = augmented_batch(int(item), int(item) + 1)
        for j in range(HASHES_PER_ITEM):
            pdq = distances_to(codes, as_words(values[item, j][None], PDQ.bits)[0]).astype(int)
            dh = distances_to(extra.companion, as_words(companions[item, j][None], 64)[0])
            # The rule, or an indicator's own hash within PDQ's threshold (as without companions)
            ok = (pdq + dh.astype(int) <= AGREEMENT) | ((extra.variant == 0) & (pdq <= THRESHOLD))
            want = {i.decode() for i in ids[ok].tolist()}
            got = {hit.indicator_id for hit in answers[j].hits}
            assert got == want, f"item {item} hash {j}: {sorted(got ^ want)[:3]}"

    today_bytes, aug_bytes = today_table.nbytes, aug_table.nbytes
    print(f"numpy {np.__version__}, one thread; N = {n:,} indicators, seed {args.seed}\n")
    print(
        "| index | rows | build s (CPU) | memory | bytes/indicator | items/s single | "
        "items/s batch 100 | hashes/item | PDQ radius searched |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| today: 1 hash, PDQ <= {THRESHOLD} | {today_table.size:,} | {build_today:.1f} | "
        f"{today_bytes / 2**30:.2f} GiB | {today_bytes / n:.0f} | {today_single:,.0f} | "
        f"{today_batched:,.0f} | 1 | {THRESHOLD} |"
    )
    print(
        f"| augmented: {k} hashes, PDQ + dHash <= {AGREEMENT} | {aug_table.size:,} | "
        f"{build_aug:.1f} | {aug_bytes / 2**30:.2f} GiB | {aug_bytes / n:.0f} | "
        f"{aug_single:,.0f} | {aug_batched:,.0f} | {HASHES_PER_ITEM} | {AGREEMENT} |"
    )
    print(
        f"\nRatios augmented / today: memory {aug_bytes / today_bytes:.1f}x, build "
        f"{build_aug / build_today:.1f}x, items/s single {aug_single / today_single:.3f}x "
        f"({today_single / aug_single:.0f}x slower), batch {aug_batched / today_batched:.3f}x "
        f"({today_batched / aug_batched:.0f}x slower); per PDQ hash searched: batch "
        f"{HASHES_PER_ITEM * aug_batched / today_batched:.2f}x."
    )
    print(
        f"{matched_items} of {items} augmented items matched ({len(planted)} planted); "
        f"{len(checked)} planted items ({len(checked) * HASHES_PER_ITEM} hashes) equal brute "
        "force under the rule."
    )


if __name__ == "__main__":
    main()

"""The cost of alternates (--rotations, --trim-borders): in the service and on the client.

    .venv/bin/python -m bench.alternates                    # 1M PDQ indicators, 50 photos
    .venv/bin/python -m bench.alternates --indicators 200000 --photos 20 --repeats 5

Service side: a snapshot of N random PDQ indicators, and 1,000 query items (a tenth near a
stored indicator) matched three ways: the value alone (1,000 hashes), with 7 rotation alternates
(8,000 hashes) and with 7 rotations plus a trimmed hash (9,000 hashes; the worst case, where every
image has a border). Timed: the index search alone (``Snapshot.search``) and the whole
``MatchService.match`` on an in-memory wiring (the matcher confirming candidates, merging per
item, events and counters to no-op stores: DynamoDB's own time is not in these figures).

Client side: ``hash_file`` on ``--photos`` photos of ../shared/data/photos (a seeded sample),
PDQ alone and PDQ+MD5 (the scan default), without and with rotations and trimmed borders; also
how many photos had a border (only those pay for the trimmed hash).

Everything is printed as a ratio to the plain case measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import flip, numbered_ids, pdq_snapshot, timed

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / ".." / "shared" / "data" / "photos"
BATCH = 1000
MATCHING_SHARE = 0.1
NEAR_BITS = 8
ROTATIONS = 7


# --- a minimal in-memory wiring of the matching service ---------------------------------------


class _SnapshotStore:
    def __init__(self, data: bytes) -> None:
        from hashmatch.indicators.ports import StoredSnapshot

        self._stored = StoredSnapshot(data=data, etag="bench")

    def read(self) -> Any:
        return self._stored

    def stream(self) -> Any:
        import io

        from hashmatch.indicators.ports import SnapshotStream

        body = io.BytesIO(self._stored.data)
        return SnapshotStream(body.read, len(self._stored.data), self._stored.etag)

    def current_etag(self) -> str | None:
        return self._stored.etag

    def write(self, data: bytes, *, replaces: str | None) -> str:
        raise NotImplementedError


class _AllActive:
    """Every indicator active: the confirming read returns what it is asked for."""

    def active_ids(self, indicator_ids: Iterable[str]) -> set[str]:
        return set(indicator_ids)


class _NoEvents:
    def put_many(self, events: Sequence[Any]) -> None:
        pass


class _NoCounters:
    def record(self, events: Sequence[Any]) -> int:
        return len(events)

    def tallies(self, year: int, indicator_ids: Any) -> dict[str, int]:
        return {}


def random_snapshot(size: int, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
    raw = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
    return pdq_snapshot(raw, numbered_ids(size)), raw


def bench_service(args: argparse.Namespace) -> None:
    from hashmatch.access.model import Principal, Role
    from hashmatch.clock import FixedClock
    from hashmatch.matching.matcher import Matcher
    from hashmatch.matching.service import MatchItem, MatchService
    from hashmatch.statistics.counting import Statistics

    rng = np.random.default_rng(args.seed)
    print(f"building {args.indicators:,} random PDQ indicators ...", flush=True)
    snapshot, raw = random_snapshot(args.indicators, rng)
    matching = int(BATCH * MATCHING_SHARE)
    planted = raw[rng.choice(args.indicators, size=matching, replace=False)]
    values = [flip(bytes(row), int(rng.integers(0, NEAR_BITS + 1)), rng) for row in planted]
    values += [bytes(rng.integers(0, 256, 32, dtype=np.uint8)) for _ in range(BATCH - matching)]

    def random_hexes(count: int) -> tuple[str, ...]:
        return tuple(bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(count))

    # Random alternates: a rotated image's hash is as unrelated to the database as a random one.
    plans = {
        "value only": 0,
        "+ 7 rotations": ROTATIONS,
        "+ 7 rotations + trimmed": ROTATIONS + 1,
    }
    items = {
        name: [MatchItem("pdq", value.hex(), alternates=random_hexes(extra)) for value in values]
        for name, extra in plans.items()
    }

    clock = FixedClock(datetime(2026, 6, 1, tzinfo=UTC))
    matcher = Matcher(_SnapshotStore(snapshot.to_bytes()), _AllActive(), clock)  # type: ignore[arg-type]
    service = MatchService(
        matcher,
        _NoEvents(),  # type: ignore[arg-type]
        Statistics(_NoCounters()),  # type: ignore[arg-type]
        clock,
        event_retention=timedelta(days=90),
    )
    principal = Principal(
        client_id="cl_" + "b" * 24,
        role=Role.PROVIDER,
        organisation_id="org_" + "b" * 24,
        owner="Benchmark Hosting SA",
        databases=("known",),
        hash_types=("pdq",),
    )
    loaded = matcher._current()  # load once, outside the timings (a warm function)
    for name, batch in items.items():
        matched = sum(1 for item in service.match(principal, batch).items if item.matches)
        assert matched >= matching, f"{name}: {matched} matched items, expected >= {matching}"

    rows = []
    for name, batch in items.items():
        words = [bytes.fromhex(h) for item in batch for h in (item.value, *item.alternates)]

        def search(words: list[bytes] = words) -> Any:
            return loaded.search("pdq", words, [31] * len(words), max_matches=100)

        def whole(batch: list[MatchItem] = batch) -> Any:
            return service.match(principal, batch)

        search_ms = statistics.median(timed(search, args.repeats))
        whole_ms = statistics.median(timed(whole, args.repeats))
        rows.append((name, len(words), search_ms, whole_ms))

    print()
    print(
        f"Service, {BATCH:,} PDQ items ({matching} near a stored indicator), "
        f"{args.indicators:,} indicators, radius 31, median of {args.repeats} runs"
    )
    print()
    print("| items carry | hashes | index search ms | ratio | MatchService.match ms | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    _, _, search_ref, whole_ref = rows[0]
    for name, hashes, search_ms, whole_ms in rows:
        print(
            f"| {name} | {hashes:,} | {search_ms:.1f} | {search_ms / search_ref:.2f}x "
            f"| {whole_ms:.1f} | {whole_ms / whole_ref:.2f}x |"
        )


# --- client-side hashing ----------------------------------------------------------------------


def bench_client(args: argparse.Namespace) -> None:
    from hashmatch_client.imaging import hash_file

    photos_dir = PHOTOS.resolve()
    if not photos_dir.is_dir():
        print(f"\nclient side skipped: no photos at {photos_dir}")
        return
    photos = sorted(
        path
        for path in photos_dir.iterdir()
        if path.suffix.lower() in {".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff"}
    )
    sample = sorted(random.Random(args.seed).sample(photos, min(args.photos, len(photos))))

    modes: list[tuple[str, Sequence[str], dict[str, bool]]] = [
        ("pdq", ("pdq",), {}),
        ("pdq --rotations", ("pdq",), {"rotations": True}),
        ("pdq --trim-borders", ("pdq",), {"trim_borders": True}),
        ("pdq --rotations --trim-borders", ("pdq",), {"rotations": True, "trim_borders": True}),
        ("pdq,md5 (scan default)", ("pdq", "md5"), {}),
        (
            "pdq,md5 --rotations --trim-borders",
            ("pdq", "md5"),
            {"rotations": True, "trim_borders": True},
        ),
    ]
    # Warms the page cache, and counts the photos that pay for a trimmed hash.
    bordered = sum(1 for path in sample if hash_file(path, ("pdq",), trim_borders=True).alternates)
    results = []
    for name, types, options in modes:
        per_photo: list[list[float]] = [[] for _ in sample]
        for _ in range(args.client_repeats):
            for number, path in enumerate(sample):
                started = time.perf_counter()
                hash_file(path, types, **options)
                per_photo[number].append((time.perf_counter() - started) * 1000)
        best = [min(times) for times in per_photo]  # least disturbed of the repeats
        results.append((name, sum(best), statistics.median(best)))

    print()
    print(
        f"Client, hash_file on {len(sample)} photos of {photos_dir} (seeded sample), best of "
        f"{args.client_repeats} per photo; {bordered} of {len(sample)} have a uniform border"
    )
    print()
    print("| hashes | total s | median ms/photo | ratio to pdq |")
    print("| --- | ---: | ---: | ---: |")
    reference = results[0][1]
    for name, total, median in results:
        print(f"| {name} | {total / 1000:.2f} | {median:.0f} | {total / reference:.2f}x |")


def main() -> None:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per service case")
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--client-repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-service", action="store_true")
    parser.add_argument("--skip-client", action="store_true")
    args = parser.parse_args()
    if not args.skip_service:
        bench_service(args)
    if not args.skip_client:
        bench_client(args)


if __name__ == "__main__":
    main()

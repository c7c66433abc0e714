"""Detection effectiveness on the shared photos: the report behind docs/effectiveness.md.

    .venv/bin/python bench/effectiveness.py [OUT] [--limit N] [--seed S] [--workers W]
        [--reuse-hashes]

Runs `hashmatch evaluate ../shared/data/photos --out OUT` (default bench/results/effectiveness,
gitignored) and prints the headline figures and the runtime. ``--reuse-hashes`` re-analyses
OUT/hashes.jsonl from an earlier run with the same options instead of hashing again (to
iterate on the analysis; the report then quotes the earlier run's hashing time).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from hashmatch_client.cli.main import main as hashmatch_main
from hashmatch_devtools.evaluation import evaluate
from hashmatch_devtools.evaluation.cache import HASHES_NAME, load_hashes
from hashmatch_devtools.evaluation.report import RESULTS_NAME, write_report

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / ".." / "shared" / "data" / "photos"
DEFAULT_OUT = ROOT / "bench" / "results" / "effectiveness"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse-hashes", action="store_true")
    args = parser.parse_args()
    if not PHOTOS.is_dir():
        print(f"{PHOTOS} not found: the shared test data is needed", file=sys.stderr)
        return 1
    argv = [str(PHOTOS.resolve()), "--out", str(args.out), "--seed", str(args.seed)]
    argv += ["--workers", str(args.workers)]
    if args.limit is not None:
        argv += ["--limit", str(args.limit)]
    started = time.perf_counter()
    if args.reuse_hashes:
        return reanalyse(args)
    status = hashmatch_main(["evaluate", *argv])
    print(f"wall time {time.perf_counter() - started:.0f} s; report in {args.out}")
    return status


def reanalyse(args: argparse.Namespace) -> int:
    previous = json.loads((args.out / RESULTS_NAME).read_text())
    result = evaluate(
        PHOTOS.resolve(),
        limit=args.limit,
        seed=args.seed,
        workers=previous["workers"],
        precomputed=load_hashes(args.out / HASHES_NAME),
        precomputed_seconds=previous["hashing_seconds"],
    )
    report = write_report(result, args.out)
    print(f"re-analysed in {result.analysis_seconds:.1f} s; report in {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Detection effectiveness on the shared photos: the report behind docs/effectiveness.md.

    .venv/bin/python bench/effectiveness.py [OUT] [--limit N] [--seed S] [--workers W]
        [--reuse-hashes] [--error-rates PATH]

Runs `hashmatch evaluate ../shared/data/photos --out OUT` (default bench/results/effectiveness,
gitignored) and prints the headline figures and the runtime. ``--reuse-hashes`` re-analyses
OUT/hashes.jsonl from an earlier run with the same options instead of hashing again (to
iterate on the analysis; the report then quotes the earlier run's hashing time).
``--error-rates PATH`` also writes the error rates the transparency report publishes
(layers/common/python/hashmatch/transparency/error_rates.json is written this way).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from hashmatch_client.cli.main import main as hashmatch_main
from hashmatch_devtools.evaluation import evaluate
from hashmatch_devtools.evaluation.cache import HASHES_NAME, load_hashes
from hashmatch_devtools.evaluation.error_rates import error_rates, write_error_rates
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
    parser.add_argument("--error-rates", type=Path, default=None)
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
    if status == 0 and args.error_rates is not None:
        args.reuse_hashes = True
        return reanalyse(args)  # the analysis again (seconds), from the hashes just written
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
    if args.error_rates is not None:
        target = args.error_rates.resolve()
        shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
        command = (
            ".venv/bin/python bench/effectiveness.py"
            + (f" --limit {args.limit}" if args.limit else "")
            + f" --error-rates {shown}"
        )
        rates = error_rates(
            result, dataset="../shared/data/photos", command=command, on=datetime.now(UTC).date()
        )
        write_error_rates(args.error_rates, rates)
        print(f"error rates written to {args.error_rates}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

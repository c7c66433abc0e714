"""Detection effectiveness on the shared photos: the report behind docs/effectiveness.md.

    .venv/bin/python bench/effectiveness.py [OUT] [--limit N] [--seed S] [--workers W]

Runs `hashmatch evaluate ../shared/data/photos --out OUT` (default bench/results/effectiveness,
gitignored) and prints the headline figures and the runtime.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hashmatch.cli.main import main as hashmatch_main

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / ".." / "shared" / "data" / "photos"
DEFAULT_OUT = ROOT / "bench" / "results" / "effectiveness"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not PHOTOS.is_dir():
        print(f"{PHOTOS} not found: the shared test data is needed", file=sys.stderr)
        return 1
    argv = [str(PHOTOS.resolve()), "--out", str(args.out), "--seed", str(args.seed)]
    argv += ["--workers", str(args.workers)]
    if args.limit is not None:
        argv += ["--limit", str(args.limit)]
    started = time.perf_counter()
    status = hashmatch_main(["evaluate", *argv])
    print(f"wall time {time.perf_counter() - started:.0f} s; report in {args.out}")
    return status


if __name__ == "__main__":
    sys.exit(main())

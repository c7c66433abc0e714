"""`hashmatch evaluate PHOTOS_DIR --out DIR`: measure detection effectiveness on a folder.

Makes modified copies of every photo (JPEG, resize, blur, crop, rotation, ...), hashes them with
PDQ, pHash and dHash and writes a Markdown report, PNG plots and results.json to ``--out``:
recall per transformation, false-match rates, recall at precision >= 99.99%, and the figures of
the improvements (8 PDQ rotations/flips, border trimming, combined hash types). Everything stays
on this machine. See docs/effectiveness.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from hashmatch.errors import HashmatchError

EXIT_OK = 0
EXIT_FAILED = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure recall and false matches of PDQ/pHash/dHash on a folder of photos",
        description=(
            "Transform every photo of PHOTOS_DIR (JPEG, resize, blur, crop, rotation, ...), hash "
            "originals and copies, and write a Markdown report with plots to --out. A "
            "manifest.csv in the folder (columns filename, category, notes) is optional."
        ),
    )
    parser.add_argument("photos_dir", type=Path, metavar="PHOTOS_DIR")
    parser.add_argument("--out", type=Path, required=True, help="folder for the report")
    parser.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        help="evaluate a seeded random sample of N photos (stated in the report)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of sample and transformations")
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=min(2, os.cpu_count() or 1),
        help="hashing processes (default: 2, or 1 on a single core)",
    )
    parser.add_argument(
        "--max-side",
        type=_positive_int,
        default=None,
        help="shrink originals to this longer side first (default 512)",
    )
    parser.set_defaults(func=run)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    # Imported here: `hashmatch --help` must not pay for numpy, PIL and the hashing libraries.
    from hashmatch_devtools.evaluation import evaluate
    from hashmatch_devtools.evaluation.hashing import DEFAULT_MAX_SIDE, EVALUATED_TYPES
    from hashmatch_devtools.evaluation.report import write_report
    from hashmatch_devtools.evaluation.summary import summary

    show_progress = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show_progress and (done == total or done % 10 == 0):
            print(f"\rhashed {done}/{total} photos", end="", file=sys.stderr, flush=True)

    try:
        result = evaluate(
            args.photos_dir,
            limit=args.limit,
            seed=args.seed,
            workers=args.workers,
            max_side=args.max_side or DEFAULT_MAX_SIDE,
            progress=progress,
        )
        report = write_report(result, args.out)
    except HashmatchError as error:
        print(f"hashmatch evaluate: {error.detail}", file=sys.stderr)
        return EXIT_FAILED
    if show_progress:
        print(file=sys.stderr)
    figures = summary(result)["methods"]
    for name in EVALUATED_TYPES:
        method = figures[name]
        strict = method["threshold_at_precision_target"]
        at_target = (
            f"{100 * method['recall_at_precision_target']:.1f}% at precision >= 99.99% "
            f"(<= {strict})"
            if strict is not None
            else "no threshold reaches precision >= 99.99%"
        )
        print(
            f"{name}: recall {100 * method['recall_at_default']:.1f}% at <= "
            f"{method['default_threshold']}; {at_target}"
        )
    print(
        f"{len(result.photos)} photos, hashing {result.hashing_seconds:.0f} s, "
        f"analysis {result.analysis_seconds:.1f} s; report: {report}"
    )
    return EXIT_OK

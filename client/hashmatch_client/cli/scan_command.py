"""`hashmatch scan DIR`: hash a folder locally, match the hashes, optionally report matches.

Exit status: 0 nothing matched, 1 something matched, 2 a file could not be hashed, a request
failed or a report could not be filed (errors win over matches: look at the output).

--rotations and --trim-borders hash each image a few more ways and send those hashes as the
query's alternates: a match then says "via alternate" (a rotated, mirrored or padded copy).
Cost: see each option (measured by bench/alternates.py; docs/effectiveness.md). Requests hold
at most 4,000 hashes, values and alternates together, so batches shrink accordingly (444 PDQ
queries per request with both options).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from hashmatch_client.cli.hash_command import hash_one, iter_files, parse_types

EXIT_NO_MATCH = 0
EXIT_MATCHED = 1
EXIT_ERRORS = 2
DEFAULT_TYPES = "pdq,md5"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="hash a folder locally and match it against the service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="DIR", help="folders or files")
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("HASHMATCH_ENDPOINT"),
        help="API base URL (default: $HASHMATCH_ENDPOINT)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("HASHMATCH_API_KEY"),
        help="provider API key (default: $HASHMATCH_API_KEY; prefer the variable)",
    )
    parser.add_argument(
        "--types",
        type=parse_types,
        default=parse_types(DEFAULT_TYPES),
        help=f"hash types to match (default {DEFAULT_TYPES})",
    )
    parser.add_argument(
        "--rotations",
        action="store_true",
        help="also match the 7 other rotations/flips of each image (PDQ): finds rotated and "
        "mirrored copies. Cost: 8 PDQ hashes per image instead of 1 (7.4x the hashing time "
        "on the shared photos), 8 hashes sent and looked up per query (about 8x the service "
        "time of a plain query)",
    )
    parser.add_argument(
        "--trim-borders",
        action="store_true",
        help="also match each bordered image with its uniform border trimmed: finds padded "
        "copies. Cost: one extra hash per type, sent and looked up, for bordered images only "
        "(1.5x the hashing time on the shared photos, two thirds of which have a border)",
    )
    parser.add_argument(
        "--augmented",
        action="store_true",
        help="PDQ: match each image by its rotations/flips, its exactly trimmed copy and the "
        "inner frame of a small rotation too, each with its dHash companion, so that the "
        "agreement rule decides and indicators' variants match (finds cropped, slightly turned "
        "and padded copies: 76%% -> 88%% on the shared photos, with no false match). Cost: "
        "up to 10 PDQ and 10 dHash hashes per image, up to 10 lookups per query (400 queries "
        "per request). Supersedes --rotations and --trim-borders for PDQ",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--batch-size", type=int, default=1000, help="items per request (1-1000)")
    reports = parser.add_argument_group("reporting (--report)")
    reports.add_argument("--report", action="store_true", help="file a report per matched file")
    reports.add_argument("--legal-basis", help="the legal basis you report under (required)")
    reports.add_argument("--member-state", help="ISO 3166-1 alpha-2 code, if known")
    reports.add_argument("--urgent", action="store_true", help="imminent risk to a child")
    reports.add_argument("--removed", action="store_true", help="you removed the content")
    reports.add_argument(
        "--also-reported-to", default="", help="comma-separated bodies, e.g. NCMEC"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from hashmatch_client.scan import ReportOptions, scan
    from hashmatch_client.sdk import HashmatchClient

    problem = _usage_problem(args)
    if problem:
        print(f"hashmatch scan: {problem}", file=sys.stderr)
        return EXIT_ERRORS
    types = list(args.types)
    if args.report and "sha256" not in types:
        types.append("sha256")  # the report's content reference
    files = list(iter_files(args.paths))
    quiet = not sys.stderr.isatty()
    records = [
        hash_one(
            path,
            types,
            rotations=args.rotations,
            trim_borders=args.trim_borders,
            augmented=args.augmented,
        )
        for path in tqdm(files, desc="hashing", unit="file", file=sys.stderr, disable=quiet)
    ]
    client = HashmatchClient(args.endpoint, args.api_key)
    report = (
        ReportOptions(
            legal_basis=args.legal_basis,
            suspected_member_state=args.member_state,
            urgent=args.urgent,
            removed=args.removed,
            also_reported_to=tuple(
                p.strip() for p in args.also_reported_to.split(",") if p.strip()
            ),
        )
        if args.report
        else None
    )
    with tqdm(
        total=sum(1 for r in records if "error" not in r) * len(args.types),
        desc="matching",
        unit="hash",
        file=sys.stderr,
        disable=quiet,
    ) as progress:
        result = scan(
            records,
            args.types,
            client,
            report=report,
            batch_size=args.batch_size,
            on_batch=progress.update,
        )
    if args.json:
        print(json.dumps(_json_summary(result), indent=2))
    else:
        _print_table(result)
    if result.failed or result.request_errors:
        return EXIT_ERRORS
    return EXIT_MATCHED if result.matched else EXIT_NO_MATCH


def _usage_problem(args: argparse.Namespace) -> str | None:
    if not args.endpoint:
        return "no endpoint: pass --endpoint or set HASHMATCH_ENDPOINT"
    if not args.api_key:
        return "no API key: set HASHMATCH_API_KEY (or pass --api-key)"
    if not 1 <= args.batch_size <= 1000:
        return "--batch-size must be between 1 and 1000"
    if args.report and not args.legal_basis:
        return "--report needs --legal-basis"
    return None


def _json_summary(result: Any) -> dict[str, Any]:
    return {
        "index_version": result.index_version,
        "files": len(result.files),
        "matched": len(result.matched),
        "failed": len(result.failed),
        "request_errors": result.request_errors,
        "results": [outcome.to_json_dict() for outcome in result.files],
    }


def _print_table(result: Any) -> None:
    print(f"{'file':50} {'type':6} {'database':13} {'band':>5}  match / report")
    for outcome in result.files:
        if outcome.error:
            print(f"{_short(outcome.path):50} {'-':6} {'-':13} {'-':>5}  ERROR {outcome.error}")
        for match in outcome.matches:
            report = f" -> {outcome.report_id}" if outcome.report_id else ""
            if outcome.already_reported:
                report += " (reported before)"
            if match.get("via") == "alternate":
                report += " (via alternate)"
            print(
                f"{_short(outcome.path):50} {match['type']:6} {match['database']:13} "
                f"{match.get('band', '-'):>5}  {match['match_id']}{report}"
            )
        if outcome.report_error:
            print(f"{_short(outcome.path):50} report failed: {outcome.report_error}")
    print(
        f"\n{len(result.files)} files, {len(result.matched)} matched, {len(result.failed)} failed"
        f" (index version {result.index_version})"
    )


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 50 else "..." + text[-47:]

"""`hashmatch transparency YEAR`: the yearly transparency report as JSON, CSV and HTML files.

A published year is written out as it was published. A year not published yet is drafted from
the counters as they are now (marked "draft", stored nowhere), or, with ``--publish`` and once
the year has ended, published: the same publication the daily schedule makes (written once to
the Object Lock bucket, its digest in the audit log). Like `hashmatch audit verify` it acts on
the running local stack or, with ``--stack-name``, a deployed stack with operator credentials.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hashmatch.errors import HashmatchError
from hashmatch_operators.deployment import (
    DeploymentNotFound,
    add_deployment_arguments,
    use_deployment,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "transparency", help="write a year's transparency report (JSON, CSV, HTML)"
    )
    parser.add_argument("year", type=int, help="the calendar year (UTC)")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the files (default: transparency-YEAR)"
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="publish the year if it has ended and is not published yet (immutable, audited)",
    )
    add_deployment_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0: the files are written; 2: the report could not be made."""
    from hashmatch.transparency.rendering import (
        CSV_NAME,
        HTML_NAME,
        JSON_NAME,
        report_csv,
        report_html,
        report_json,
    )

    out: Path = args.out or Path(f"transparency-{args.year}")
    try:
        print(f"using the {use_deployment(args)}", file=sys.stderr)
        from hashmatch import bootstrap

        service = bootstrap.transparency()
        if args.publish:
            publication = service.publish(args.year)
            print(f"{args.year} published: sha256 {publication.digest}", file=sys.stderr)
        if any(p.year == args.year and p.audit_seq for p in service.publications()):
            files = {
                name: service.published_file(args.year, name)
                for name in (JSON_NAME, CSV_NAME, HTML_NAME)
            }
            status = "published"
        else:
            report = service.draft(args.year)
            files = {
                JSON_NAME: report_json(report),
                CSV_NAME: report_csv(report),
                HTML_NAME: report_html(report),
            }
            status = "draft (not published)"
    except (DeploymentNotFound, HashmatchError) as error:
        print(f"hashmatch transparency: {error}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (out / name).write_bytes(body)
    print(f"{args.year}: {status}; wrote {', '.join(str(out / name) for name in files)}")
    return 0

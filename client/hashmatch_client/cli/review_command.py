"""`hashmatch review queue|show|claim|decide|confirm|ask|forwarded`: triage reports (reviewers).

Every subcommand calls the API over HTTPS with a reviewer's key and prints a readable table
(`--json` prints the API's answer instead). Exit status: 0 done, 1 the API refused (its
problem is printed: e.g. 409 when another reviewer holds the report), 2 a usage or connection
error. Reason codes, four eyes and the forwarding format: docs/review.md.

  hashmatch review queue [--status S] [--database D] [--media-type M] [--member-state XX]
  hashmatch review show REPORT_ID
  hashmatch review claim REPORT_ID [--release]
  hashmatch review decide REPORT_ID --unfounded CODE[,CODE] [--duplicate-of ID] [--note TEXT]
  hashmatch review decide REPORT_ID --forward (--member-state XX | --europol-only) --note TEXT
                                    [--do-not-inform-until 2027-06-30T00:00:00Z]
  hashmatch review confirm REPORT_ID        (four eyes: another reviewer's forwarding)
  hashmatch review ask REPORT_ID QUESTION   (the report waits for the provider's answer)
  hashmatch review forwarded                (forwarded reports and their deliveries)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from hashmatch_client.cli.connection import UsageError, add_connection_arguments, client_of

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_ERROR = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "review",
        help="triage reports: queue, show, claim, decide, confirm, ask (reviewers)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    queue = _action(actions, "queue", "reports to review, urgent first then oldest", run_queue)
    queue.add_argument("--status", help="default stored (also: awaiting_confirmation, ...)")
    queue.add_argument("--database", choices=["known", "new", "solicitation"])
    queue.add_argument("--media-type", choices=["image", "video"])
    queue.add_argument("--member-state", help="the suspected Member State, e.g. DE")
    queue.add_argument("--limit", type=int, default=25, help="reports per page (1-100)")
    queue.add_argument("--all", action="store_true", help="follow every page")

    show = _action(actions, "show", "a report with its matches and indicators (audited)", run_show)
    show.add_argument("report_id")

    claim = _action(actions, "claim", "claim a report (a lease) or --release it", run_claim)
    claim.add_argument("report_id")
    claim.add_argument("--release", action="store_true", help="give your claim back")

    decide = _action(actions, "decide", "decide: manifestly unfounded, or forward", run_decide)
    decide.add_argument("report_id")
    outcome = decide.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--unfounded", metavar="CODES", help="comma-separated reason codes")
    outcome.add_argument("--forward", action="store_true", help="forward to law enforcement")
    decide.add_argument("--duplicate-of", help="with reason duplicate: the report it repeats")
    decide.add_argument("--member-state", help="forward: the competent Member State")
    decide.add_argument("--europol-only", action="store_true", help="forward: Europol only")
    decide.add_argument("--note", help="internal note (never shown to the provider)")
    decide.add_argument("--do-not-inform-until", help="forward: ISO 8601 time with zone")

    confirm = _action(actions, "confirm", "confirm another reviewer's forwarding", run_confirm)
    confirm.add_argument("report_id")

    ask = _action(actions, "ask", "ask the provider a question about a report", run_ask)
    ask.add_argument("report_id")
    ask.add_argument("question")

    forwarded = _action(
        actions, "forwarded", "forwarded reports and their deliveries", run_forwarded
    )
    forwarded.add_argument("--limit", type=int, default=25, help="reports per page (1-100)")


def _action(actions: Any, name: str, help_text: str, run: Callable[..., int]) -> Any:
    parser = actions.add_parser(name, help=help_text, description=help_text)
    add_connection_arguments(parser, role="reviewer")
    parser.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    parser.set_defaults(func=lambda args: _guarded(run, args))
    return parser


def _guarded(run: Callable[[argparse.Namespace, Any], int], args: argparse.Namespace) -> int:
    """Run with a client; a refusal prints the API's problem, a fault exits 2."""
    from requests import RequestException

    from hashmatch_client.sdk import ApiError

    try:
        return run(args, client_of(args))
    except UsageError as error:
        print(f"hashmatch review: {error}", file=sys.stderr)
        return EXIT_ERROR
    except ApiError as refused:
        print(f"hashmatch review: refused: {refused}", file=sys.stderr)
        for item in refused.errors:
            print(
                f"  {'.'.join(map(str, item.get('loc', [])))}: {item.get('msg')}", file=sys.stderr
            )
        return EXIT_REFUSED if refused.status < 500 else EXIT_ERROR
    except RequestException as error:
        print(f"hashmatch review: cannot reach the API: {error}", file=sys.stderr)
        return EXIT_ERROR


def _printed(args: argparse.Namespace, answer: Any, table: Callable[[Any], None]) -> int:
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        table(answer)
    return EXIT_OK


# -- queue and forwarded ---------------------------------------------------------------------


def run_queue(args: argparse.Namespace, client: Any) -> int:
    pages = _pages(
        lambda cursor: client.review_queue(
            status=args.status,
            database=args.database,
            media_type=args.media_type,
            member_state=args.member_state,
            limit=args.limit,
            next=cursor,
        ),
        follow=args.all,
    )
    reports = [report for page in pages for report in page["reports"]]
    return _printed(args, {"reports": reports}, lambda answer: _queue_table(answer["reports"]))


def run_forwarded(args: argparse.Namespace, client: Any) -> int:
    page = client.review_queue(status="forwarded", limit=args.limit)
    return _printed(args, page, lambda answer: _forwarded_table(answer["reports"]))


def _pages(fetch: Callable[[str | None], dict[str, Any]], *, follow: bool) -> list[dict[str, Any]]:
    pages = [fetch(None)]
    while follow and pages[-1].get("next"):
        pages.append(fetch(pages[-1]["next"]))
    return pages


def _queue_table(reports: Sequence[dict[str, Any]]) -> None:
    rows = [
        (
            r["report_id"],
            r["status"],
            "URGENT" if r["urgent"] else "",
            _age(r["age_seconds"]),
            r["content_type"],
            r["suspected_member_state"] or "-",
            ",".join(r["databases"]) or "-",
            f"{r['claimed_by']} until {_clock(r['claimed_until'])}" if r["claimed_by"] else "",
        )
        for r in reports
    ]
    _table(("report", "status", "", "age", "media", "state", "databases", "claimed by"), rows)
    print(f"\n{len(reports)} report(s)")


def _forwarded_table(reports: Sequence[dict[str, Any]]) -> None:
    rows = [
        (r["report_id"], d["recipient"], d["state"], str(d["attempts"]), _clock(d["delivered_at"]))
        for r in reports
        for d in r["deliveries"]
    ]
    _table(("report", "recipient", "delivery", "attempts", "delivered at"), rows)


# -- one report ------------------------------------------------------------------------------


def run_show(args: argparse.Namespace, client: Any) -> int:
    return _printed(args, client.review_report(args.report_id), _show)


def _show(report: dict[str, Any]) -> None:
    claim = report.get("claim")
    facts = [
        ("report", report["report_id"]),
        ("status", report["status"] + ("  URGENT" if report["urgent"] else "")),
        ("provider", f"{report['provider']} ({report['client_id']})"),
        ("filed", report["filed_at"]),
        ("detected", report["detected_at"]),
        ("content", f"{report['content_type']} {report['content_ref']!r}"),
        ("suspected state", report["suspected_member_state"] or "-"),
        ("legal basis", report["legal_basis"]),
        ("removed", "yes" if report["removed"] else "no"),
        ("also reported to", ", ".join(report["also_reported_to"]) or "-"),
        ("claimed by", f"{claim['holder']} until {claim['until']}" if claim else "-"),
    ]
    decision = report.get("decision")
    if decision:
        facts.append(("decision", _decision_text(decision)))
        if decision.get("internal_note"):
            facts.append(("internal note", decision["internal_note"]))
    width = max(len(name) for name, _ in facts)
    for name, value in facts:
        print(f"{name:<{width}}  {value}")
    print("\nmatches")
    _table(
        ("match", "indicator", "database", "media", "type", "distance", "index"),
        [
            (
                m["match_id"],
                m["indicator_id"],
                m["database"],
                m["media_type"],
                m["hash_type"],
                f"{m['distance']}/{m['threshold']}",
                str(m["index_version"]),
            )
            for m in report["matches"]
        ],
    )
    if report["missing_match_ids"]:
        print("  gone: " + ", ".join(report["missing_match_ids"]))
    print("\ncited indicators")
    _table(
        ("indicator", "status", "assessed by", "reference", "disputes"),
        [
            (
                i["indicator_id"],
                _flagged(i),
                ", ".join(f"{p['authority']} ({p['member_state']})" for p in i["provenance"])
                or "-",
                ", ".join(p["assessment_reference"] for p in i["provenance"]) or "-",
                str(i["disputes"]),
            )
            for i in report["indicators"]
        ],
    )
    for request in report["information_requests"]:
        print(f"\nasked {request['asked_at']}: {request['question']}")
        if request["answered_at"]:
            print(f"answered {request['answered_at']}: {request['answer']}")
    print("\nhistory")
    _table(
        ("at", "status", "step", "by", "detail"),
        [
            (
                h["at"],
                h["status"],
                h["step"],
                h["by"],
                " ".join(
                    str(part)
                    for part in (
                        h["recipient"],
                        h["attempt"] and f"try {h['attempt']}",
                        h["detail"],
                    )
                    if part
                ),
            )
            for h in report["history"]
        ],
    )


def _flagged(indicator: dict[str, Any]) -> str:
    if not indicator["found"]:
        return "GONE"
    status = str(indicator["status"])
    return status.upper() if indicator["revoked"] or indicator["suspended"] else status


def _decision_text(decision: dict[str, Any]) -> str:
    by = f"by {decision['decided_by']} at {decision['decided_at']}"
    if decision["outcome"] == "manifestly_unfounded":
        return f"manifestly unfounded ({', '.join(decision['reasons'])}) {by}"
    where = (
        "Europol only" if decision["europol_only"] else f"Europol and {decision['member_state']}"
    )
    confirmed = decision.get("confirmed_by")
    four_eyes = (
        f", confirmed by {confirmed}"
        if confirmed
        else (" (awaits a second reviewer)" if decision["four_eyes"] else "")
    )
    return f"forward to {where} {by}{four_eyes}"


# -- steps -----------------------------------------------------------------------------------


def run_claim(args: argparse.Namespace, client: Any) -> int:
    if args.release:
        released = client.release_claim(args.report_id)
        word = "released" if released["released"] else "you held no claim on"
        return _printed(args, released, lambda _: print(f"{word} {args.report_id}"))
    claim = client.claim(args.report_id)
    return _printed(args, claim, lambda c: print(f"claimed {c['report_id']} until {c['until']}"))


def run_decide(args: argparse.Namespace, client: Any) -> int:
    return _printed(args, client.decide(args.report_id, _decision(args)), _outcome)


def _decision(args: argparse.Namespace) -> dict[str, Any]:
    if args.unfounded:
        if args.member_state or args.europol_only or args.do_not_inform_until:
            raise UsageError(
                "--member-state, --europol-only and --do-not-inform-until go with --forward"
            )
        body: dict[str, Any] = {
            "outcome": "manifestly_unfounded",
            "reasons": [code.strip() for code in args.unfounded.split(",") if code.strip()],
        }
        if args.duplicate_of:
            body["duplicate_of"] = args.duplicate_of
    else:
        if args.duplicate_of:
            raise UsageError("--duplicate-of goes with --unfounded duplicate")
        body = {"outcome": "forward", "europol_only": args.europol_only}
        if args.member_state:
            body["member_state"] = args.member_state
        if args.do_not_inform_until:
            body["do_not_inform_until"] = args.do_not_inform_until
    if args.note:
        body["internal_note"] = args.note
    return body


def run_confirm(args: argparse.Namespace, client: Any) -> int:
    return _printed(args, client.confirm(args.report_id), _outcome)


def run_ask(args: argparse.Namespace, client: Any) -> int:
    asked = client.request_information(args.report_id, args.question)
    return _printed(
        args,
        asked,
        lambda a: print(f"asked {a['request_id']}: {a['report_id']} waits for the provider"),
    )


def _outcome(outcome: dict[str, Any]) -> None:
    status = outcome["status"]
    line = f"{outcome['report_id']}: {status}"
    if status == "awaiting_confirmation":
        line += " (a second reviewer must confirm: hashmatch review confirm)"
    deliveries = outcome.get("deliveries") or []
    if deliveries:
        line += " to " + ", ".join(f"{d['recipient']} ({d['state']})" for d in deliveries)
    print(line)


# -- tables ----------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    rows = [tuple(str(cell) for cell in row) for row in rows]
    if not rows:
        print("  (none)")
        return
    widths = [max(len(row[i]) for row in (tuple(header), *rows)) for i in range(len(header))]
    for row in (tuple(header), *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _age(seconds: int) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _clock(moment: str | None) -> str:
    if not moment:
        return "-"
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")

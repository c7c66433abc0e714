"""The retention demonstration (`make retention-demo`): the real template on a local stack, data
of every class, then the clock moved to each due date with erase_expired run on demand, printing
what each run erased; finally `hashmatch audit verify` with the erasure receipts.

Run: ``python -m hashmatch_devtools.retention_demo`` (``--short`` stops after the 90-day due dates).
The e2e test tests/e2e/test_retention.py drives the same steps on its own stack.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hashmatch.access.model import Role

if TYPE_CHECKING:
    from hashmatch_devtools.localstack.stack import LocalStack

DAY_SECONDS = 86_400
HOLD_DAYS = 200
# Each due date of the default policy, and what falls due then (day 0 = when the data is made).
FULL_SCHEDULE: tuple[tuple[int, str], ...] = (
    (29, "the day before the unfounded report is due: nothing"),
    (30, "the unfounded report (30 days after the decision) and the match event it cites"),
    (89, "the day before the 90-day dates: nothing"),
    (
        90,
        "uncited match events; the revoked indicator's provenance; the copy of what was "
        "forwarded (90 days after forwarding); the held event is skipped",
    ),
    (HOLD_DAYS, "the legal hold ran out: its match event goes now"),
    (365, "the forwarded report (365 days after forwarding) and its match event"),
    (730, "nothing of statistics: a year's counters go a year after its report is published"),
    (1826, "audit entries older than 5 years, behind a sealed checkpoint"),
)
SHORT_SCHEDULE = FULL_SCHEDULE[:4]


@dataclass(frozen=True)
class Seeded:
    unfounded_report: str
    forwarded_report: str
    uncited_match: str
    held_match: str
    revoked_indicator: str
    hold_id: str


class DemoApi:
    """Just enough HTTP to act as each role (the SDK covers the provider and curator side)."""

    def __init__(self, base_url: str, keys: dict[Role, str]) -> None:
        import requests

        self._session = requests.Session()
        self._base = base_url.rstrip("/")
        self._keys = keys

    def call(self, role: Role, method: str, path: str, body: Any = None) -> Any:
        answer = self._session.request(
            method,
            self._base + path,
            json=body,
            headers={"Authorization": f"Bearer {self._keys[role]}"},
            timeout=30,
        )
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer.json()


def seed_every_class(stack: LocalStack, api: DemoApi) -> Seeded:
    """Indicators, match events, reports (one unfounded, one forwarded), a legal hold, daily
    counters and audit entries — through the API, as each role would make them."""
    rng = random.Random(6)
    hashes = [f"{rng.getrandbits(256):064x}" for _ in range(2)]
    provenance = {
        "authority": "Bundeskriminalamt",
        "member_state": "DE",
        "assessment_reference": "BKA-DEMO-1",
        "assessed_at": "2026-01-05T10:00:00Z",
    }
    added = api.call(
        Role.CURATOR,
        "POST",
        "/v1/indicators",
        {
            "items": [
                {
                    "hash_type": "pdq",
                    "hash": value,
                    "database": "known",
                    "media_type": "image",
                    "provenance": provenance,
                }
                for value in hashes
            ]
        },
    )
    indicator_ids = [item["id"] for item in added["items"]]
    # A full rebuild: an incremental one would miss them if an earlier run (on a stack whose
    # clock was moved ahead and back) left its watermark in the future.
    stack.functions["BuildIndexFunction"].invoke({"full_rebuild": True})
    # A warm matcher looks for a newer snapshot at most every 30 s: let a minute pass.
    stack.set_clock_offset(stack.clock_offset() + 60)
    matches = []
    for _ in range(4):  # four match events of the first indicator
        answer = api.call(
            Role.PROVIDER,
            "POST",
            "/v1/match",
            {"items": [{"type": "pdq", "value": hashes[0], "quality": 100}]},
        )
        matches.append(answer["items"][0]["matches"][0]["match_id"])
    reports = [file_report(api, match_id) for match_id in matches[:2]]
    wait_until_stored(api, reports)
    unfounded = {"outcome": "manifestly_unfounded", "reasons": ["outside_scope"]}
    forward = {"outcome": "forward", "member_state": "DE", "internal_note": "retention demo"}
    api.call(Role.REVIEWER, "POST", f"/v1/reports/{reports[0]}/decision", unfounded)
    api.call(Role.REVIEWER, "POST", f"/v1/reports/{reports[1]}/decision", forward)
    api.call(Role.CURATOR, "DELETE", f"/v1/indicators/{indicator_ids[1]}", {"reason": "withdrawn"})
    api.call(Role.CURATOR, "GET", f"/v1/indicators/{indicator_ids[0]}")  # an audited read
    until = datetime.now(UTC) + timedelta(seconds=stack.clock_offset(), days=HOLD_DAYS)
    hold = api.call(
        Role.REVIEWER,
        "POST",
        "/v1/legal-holds",
        {
            "target_class": "match_event",
            "target_id": matches[3],
            "authority": "Parquet de Paris",
            "reference": "PR-DEMO-118",
            "until": until.isoformat(),
        },
    )
    return Seeded(
        unfounded_report=reports[0],
        forwarded_report=reports[1],
        uncited_match=matches[2],
        held_match=matches[3],
        revoked_indicator=indicator_ids[1],
        hold_id=hold["hold_id"],
    )


def file_report(api: DemoApi, match_id: str) -> str:
    answer = api.call(
        Role.PROVIDER,
        "POST",
        "/v1/reports",
        {
            "match_ids": [match_id],
            "content_ref": f"upload-{match_id[-6:]}",
            "content_type": "image",
            "detected_at": "2026-01-06T08:00:00Z",
            "legal_basis": "Regulation (EU) 2021/1232",
        },
    )
    return str(answer["report_id"])


def wait_until_stored(api: DemoApi, report_ids: Sequence[str], timeout: float = 20.0) -> None:
    from hashmatch_devtools.demo_stack import wait_until_all

    def stored(report_id: str) -> bool:
        try:
            api.call(Role.PROVIDER, "GET", f"/v1/reports/{report_id}")
        except RuntimeError:
            return False
        return True

    wait_until_all(report_ids, stored, timeout=timeout, what="intake did not store")


def erase_on_day(stack: LocalStack, day: int) -> dict[str, Any]:
    """Move the clock to ``day`` days after the start (plus an hour) and run erase_expired."""
    stack.set_clock_offset(day * DAY_SECONDS + 3600)
    while True:
        outcome: dict[str, Any] = stack.run_schedule("EraseExpiredFunction")
        if outcome["finished"]:
            return outcome


def describe(outcome: dict[str, Any]) -> str:
    erased = {name: count for name, count in outcome["counts"].items() if count}
    parts = [f"{name}={count}" for name, count in sorted(erased.items())] or ["nothing"]
    if outcome["skipped_on_hold"]:
        parts.append(f"(skipped on hold: {outcome['skipped_on_hold']})")
    return " ".join(parts)


def run_demo(
    stack: LocalStack,
    schedule: Sequence[tuple[int, str]],
    out: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    from hashmatch_devtools.serve_command import create_demo_clients

    keys = create_demo_clients(stack)
    api = DemoApi(stack.api_url, keys)
    start = datetime.now(UTC)
    out(f"day    0  {start:%Y-%m-%d}  making data of every class through the API ...")
    seeded = seed_every_class(stack, api)
    out(f"           reports {seeded.unfounded_report} (unfounded), {seeded.forwarded_report}")
    out(f"           (forwarded); match events {seeded.uncited_match}, {seeded.held_match}")
    out(f"           (held by {seeded.hold_id} for {HOLD_DAYS} days)")
    out(f"           revoked indicator {seeded.revoked_indicator}")
    first = erase_on_day(stack, 0)
    out(f"day    0  erase_expired: {describe(first)}")
    outcomes = [first]
    for day, expectation in schedule:
        outcome = erase_on_day(stack, day)
        outcomes.append(outcome)
        date = (start + timedelta(days=day)).strftime("%Y-%m-%d")
        out(f"day {day:>4}  {date}  erase_expired: {describe(outcome)}")
        out(f"           expected: {expectation}")
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", action="store_true", help="stop after the 90-day due dates")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    args = parser.parse_args(argv)
    from hashmatch_devtools.demo_stack import demo_stack

    with demo_stack(args.template, "hashmatch-retention-demo") as stack:
        from hashmatch_client.cli.main import main as hashmatch

        print(f"local stack at {stack.api_url} (schedules on demand, clock moved by the demo)")
        began = time.monotonic()
        run_demo(stack, SHORT_SCHEDULE if args.short else FULL_SCHEDULE)
        print(f"\n(erasure runs took {time.monotonic() - began:.1f} s in all)")
        print("\n$ hashmatch audit verify --receipts")
        status = hashmatch(["audit", "verify", "--receipts", "--state-file", str(stack.state_file)])
    return status


if __name__ == "__main__":
    sys.exit(main())

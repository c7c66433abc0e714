"""Two known years of activity on a fresh local stack, and their published transparency reports.

Run: ``python -m hashmatch_devtools.transparency_demo --out DIR`` (``make transparency-demo``).
It starts the real template on a local stack of its own, moves the clock through two years
(the next two calendar years), and in each does through the API what the service counts:
indicators added, suspended and revoked; hashes matched (one batch retried with its
Idempotency-Key); reports filed (one message delivered twice; one report citing an indicator an
earlier report of the year cited); decisions; deliveries of forwarded reports; erasures. After
each year the daily schedule publishes it. DIR receives, per year, the published report.json,
report.csv and report.html (read back over the public API and with `hashmatch transparency`),
the auditor's GET /v1/statistics CSV, and ``seeded.json``: what was done, every secret used
(keys, client ids, content references, hashes, reasons) and each publication's audit head.
tests/e2e/test_transparency.py runs it and checks every figure.

Decisions, four eyes and an information request go through the reviewer API; forwarded reports
are delivered by forward_reports to the fake recipients the demo stack starts.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashmatch_devtools.localstack.stack import LocalStack

PROVIDERS = ("Alpha Hosting SA", "Beta Cloud BV")
CLIENT_VALIDITY = timedelta(days=365)
REVOKE_REASON = "assessment withdrawn by the authority, ref W-17"
SUSPEND_REASON = "re-check requested by curator desk 4"
FORWARD_NOTE = "consistent with the cited indicators; reviewer desk 2"
QUESTION = "Was the upload shared publicly, and since when? (desk 2)"
ANSWER = "Private album, uploaded the same day; account disabled."


@dataclass
class Seeded:
    years: tuple[int, int]
    secrets: set[str] = field(default_factory=set)
    published: dict[int, dict[str, Any]] = field(default_factory=dict)
    report_ids: list[str] = field(default_factory=list)
    organisations: dict[str, str] = field(default_factory=dict)  # name -> organisation id

    def keep(self, *values: str) -> None:
        self.secrets.update(value for value in values if value)


class Demo:
    def __init__(self, stack: LocalStack, seeded: Seeded) -> None:
        import requests

        self.stack = stack
        self.seeded = seeded
        self.http = requests.Session()
        self.keys: dict[str, str] = {}
        self.client_ids: dict[str, str] = {}
        self._rng = random.Random(83)
        self._counter = 0

    # -- plumbing ----------------------------------------------------------------------------

    def at(self, moment: datetime) -> None:
        self.stack.set_clock_offset((moment - datetime.now(UTC)).total_seconds())

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.stack.clock_offset())

    def call(
        self, who: str, method: str, path: str, body: Any = None, key: str | None = None
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        if key:
            headers["Idempotency-Key"] = key
            self.seeded.keep(key)
        answer = self.http.request(
            method, self.stack.api_url + path, json=body, headers=headers, timeout=60
        )
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer.json()

    def clients(self) -> None:
        """Clients valid from now for a year (the clock has moved; last year's have expired)."""
        from hashmatch import bootstrap
        from hashmatch.access.model import OrganisationKind, Role

        service = bootstrap.client_service()
        organisations: dict[str, str] = {}
        for who, role, owner in (
            ("curator", Role.CURATOR, "Demo Centre curation"),
            ("reviewer", Role.REVIEWER, "Demo Centre review"),
            ("second reviewer", Role.REVIEWER, "Demo Centre review"),
            ("auditor", Role.AUDITOR, "Demo Centre audit"),
            ("alpha", Role.PROVIDER, PROVIDERS[0]),
            ("beta", Role.PROVIDER, PROVIDERS[1]),
        ):
            if owner not in organisations:
                kind = (
                    OrganisationKind.PROVIDER
                    if role is Role.PROVIDER
                    else OrganisationKind.AUTHORITY
                )
                organisations[owner] = service.create_organisation(
                    name=owner, kind=kind
                ).organisation_id
                self.seeded.organisations[owner] = organisations[owner]
            created = service.create(
                role=role,
                organisation_id=organisations[owner],
                purpose="transparency demonstration",
                legal_basis="none (local stack)",
                valid_for=CLIENT_VALIDITY,
                databases=("known", "new", "solicitation"),
                hash_types=("pdq",),
            )
            self.keys[who] = created.api_key
            self.client_ids[who] = created.client.client_id
            self.seeded.keep(created.api_key, created.client.client_id)

    def new_hash(self) -> str:
        value = f"{self._rng.getrandbits(256):064x}"
        self.seeded.keep(value)
        return value

    def add_indicators(self, count: int, *, database: str, member_state: str) -> list[tuple]:
        values = [self.new_hash() for _ in range(count)]
        reference = f"AUTH-{member_state}-{self.now():%Y}-{self._rng.randrange(10**6):06d}"
        authority = {"DE": "Bundeskriminalamt", "FR": "OFMIN"}[member_state]
        self.seeded.keep(reference)
        added = self.call(
            "curator",
            "POST",
            "/v1/indicators",
            {
                "items": [
                    {
                        "hash_type": "pdq",
                        "hash": value,
                        "database": database,
                        "media_type": "image",
                        "provenance": {
                            "authority": authority,
                            "member_state": member_state,
                            "assessment_reference": reference,
                            "assessed_at": (self.now() - timedelta(days=3)).isoformat(),
                        },
                    }
                    for value in values
                ]
            },
        )
        ids = [item["id"] for item in added["items"]]
        self.seeded.keep(*ids)
        return list(zip(ids, values, strict=True))

    def index(self) -> None:
        self.stack.functions["BuildIndexFunction"].invoke({"full_rebuild": True})
        self.at(self.now() + timedelta(seconds=61))  # the matcher's next snapshot check

    def match(self, who: str, values: list[str], key: str) -> list[list[str]]:
        answer = self.call(
            who,
            "POST",
            "/v1/match",
            {"items": [{"type": "pdq", "value": v, "quality": 100} for v in values]},
            key,
        )
        matches = [[m["match_id"] for m in item.get("matches", [])] for item in answer["items"]]
        self.seeded.keep(*(m for found in matches for m in found))
        return matches

    def report(self, who: str, match_id: str, *, state: str, urgent: bool = False) -> str:
        self._counter += 1
        content_ref = f"{who}-upload-{self._counter:04d}-{self._rng.randrange(10**8):08d}"
        self.seeded.keep(content_ref)
        answer = self.call(
            who,
            "POST",
            "/v1/reports",
            {
                "match_ids": [match_id],
                "content_ref": content_ref,
                "content_type": "image",
                "detected_at": (self.now() - timedelta(minutes=5)).isoformat(),
                "urgent": urgent,
                "suspected_member_state": state,
                "legal_basis": "Regulation (EU) 2021/1232",
            },
            key=f"{who}-filing-{self._counter}",
        )
        report_id = str(answer["report_id"])
        self.seeded.keep(report_id)
        self.seeded.report_ids.append(report_id)
        return report_id

    def wait_stored(self, who: str, report_ids: list[str], timeout: float = 30.0) -> None:
        from hashmatch_devtools.demo_stack import wait_until_all

        def stored(report_id: str) -> bool:
            try:
                self.call(who, "GET", f"/v1/reports/{report_id}")
            except RuntimeError:
                return False
            return True

        wait_until_all(report_ids, stored, timeout=timeout, what="intake did not store")

    def deliver_again(self, report_id: str) -> None:
        """The same filing message once more on the reports queue (SQS delivers at least once)."""
        from hashmatch import bootstrap
        from hashmatch.adapters.aws import sqs_client
        from hashmatch.reports.messages import ReportMessage

        report = bootstrap.report_store().get(report_id)
        assert report is not None
        queue = self.stack.resources["ReportsQueue"].url
        sqs_client().send_message(
            QueueUrl=str(queue), MessageBody=ReportMessage.of(report.filing).model_dump_json()
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            attributes = sqs_client().get_queue_attributes(
                QueueUrl=str(queue),
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            if all(int(value) == 0 for value in attributes.values()):
                return
            time.sleep(0.2)
        raise RuntimeError("intake did not take the redelivered message")

    def forward(self, report_id: str, member_state: str, *, four_eyes: bool = False) -> None:
        """Forwarded (to Europol and the Member State), then delivered by forward_reports."""
        body = {"outcome": "forward", "member_state": member_state, "internal_note": FORWARD_NOTE}
        answer = self.call("reviewer", "POST", f"/v1/reports/{report_id}/decision", body)
        if four_eyes:  # every match in the new database: a second reviewer confirms
            assert answer["status"] == "awaiting_confirmation", answer
            self.call("second reviewer", "POST", f"/v1/reports/{report_id}/decision/confirm")
        self.seeded.keep(FORWARD_NOTE)

    def unfounded(self, report_id: str, reason: str) -> None:
        body = {"outcome": "manifestly_unfounded", "reasons": [reason]}
        self.call("reviewer", "POST", f"/v1/reports/{report_id}/decision", body)

    def ask(self, who: str, report_id: str) -> None:
        """An information request, and the provider's answer (the report returns to review)."""
        path = f"/v1/review/reports/{report_id}/information-request"
        asked = self.call("reviewer", "POST", path, {"question": QUESTION})
        answer = {"request_id": asked["request_id"], "answer": ANSWER}
        self.call(who, "POST", f"/v1/reports/{report_id}/information", answer)
        self.seeded.keep(QUESTION, ANSWER)

    def wait_delivered(self, timeout: float = 60.0) -> None:
        """Until forward_reports has taken every message off the outbound queue."""
        from hashmatch.adapters.aws import sqs_client

        queue = str(self.stack.resources["OutboundQueue"].url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            attributes = sqs_client().get_queue_attributes(
                QueueUrl=queue,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            if all(int(value) == 0 for value in attributes.values()):
                return
            time.sleep(0.3)
        raise RuntimeError("forward_reports did not deliver every forwarded report")

    def erase(self) -> dict[str, Any]:
        while True:
            outcome: dict[str, Any] = self.stack.run_schedule("EraseExpiredFunction")
            if outcome["finished"]:
                return outcome

    def publish(self, year: int) -> None:
        """The daily schedule's run on 2 January: it publishes last year."""
        from hashmatch import bootstrap

        self.at(datetime(year + 1, 1, 2, 7, tzinfo=UTC))
        head = bootstrap.audit_log().last()
        result = self.stack.run_schedule("PublishStatisticsFunction")
        assert result["published"] == year, result
        self.seeded.published[year] = {
            "sha256": result["sha256"],
            "audit_head": {"seq": head.seq, "digest": head.digest} if head else None,
        }

    # -- the two years -----------------------------------------------------------------------

    def first_year(self, year: int) -> None:
        self.at(datetime(year, 2, 1, 9, tzinfo=UTC))
        self.erase()  # erasure's first run: later runs cover every day from here
        self.clients()
        known = self.add_indicators(6, database="known", member_state="DE")
        self.index()
        values = [value for _, value in known] + [self.new_hash(), self.new_hash()]
        matches = self.match("alpha", values, key=f"alpha-{year}-batch-1")
        reports = [self.report("alpha", found[0], state="DE") for found in matches[:6]]
        self.wait_stored("alpha", reports)
        self.at(datetime(year, 2, 2, 15, tzinfo=UTC))  # 30 hours after filing
        for report_id in reports[:5]:
            self.forward(report_id, "DE")
        self.unfounded(reports[5], "outside_scope")
        self.wait_delivered()
        self.at(datetime(year, 4, 15, 3, tzinfo=UTC))
        self.erase()  # the unfounded report (due 30 days after its decision)
        self.publish(year)
        self.known = known

    def second_year(self, year: int) -> None:
        self.at(datetime(year, 3, 1, 9, tzinfo=UTC))
        self.clients()
        new = self.add_indicators(5, database="new", member_state="FR")
        first, second = self.known[0][0], self.known[1][0]
        self.call("curator", "POST", f"/v1/indicators/{first}/suspend", {"reason": SUSPEND_REASON})
        self.call("curator", "DELETE", f"/v1/indicators/{second}", {"reason": REVOKE_REASON})
        self.seeded.keep(SUSPEND_REASON, REVOKE_REASON)
        self.index()
        known = [value for _, value in self.known]
        batch = [*known[2:6], new[0][1], self.new_hash(), self.new_hash(), self.new_hash()]
        batch += ["zz", known[0]]  # a malformed hash (rejected), a suspended indicator's
        key = f"alpha-{year}-batch-2"
        matches = self.match("alpha", batch, key=key)
        self.match("alpha", batch, key=key)  # the same batch retried: counted once
        again = self.match("alpha", [known[2]] * 5, key=f"alpha-{year}-batch-3")
        beta = self.match("beta", [new[1][1], new[2][1]], key=f"beta-{year}-batch-1")
        first_reports = [self.report("alpha", found[0], state="DE") for found in matches[:5]]
        # five more reports of the first batch's first indicator: repeat reports
        repeats = [self.report("alpha", found[0], state="DE") for found in again]
        urgent = self.report("beta", beta[0][0], state="FR", urgent=True)
        normal = self.report("beta", beta[1][0], state="FR")
        self.wait_stored("alpha", [*first_reports, *repeats])
        self.wait_stored("beta", [urgent, normal])
        self.deliver_again(first_reports[0])  # counted once
        self.at(datetime(year, 3, 1, 11, tzinfo=UTC))  # 2 hours
        self.forward(urgent, "FR", four_eyes=True)
        self.ask("alpha", first_reports[1])
        self.at(datetime(year, 3, 2, 12, tzinfo=UTC))  # 27 hours
        for report_id in [*first_reports[:4], repeats[0]]:
            self.forward(report_id, "DE")
        self.unfounded(first_reports[4], "not_a_match")  # a false match of a new indicator
        for report_id in repeats[1:]:
            self.unfounded(report_id, "outside_scope")
        self.unfounded(normal, "indicator_wrong")  # and another
        self.wait_delivered()
        self.at(datetime(year, 6, 15, 3, tzinfo=UTC))
        self.erase()
        self.publish(year)


def run_demo(stack: LocalStack, out: Path) -> Seeded:
    """Seed both years, publish them, and write what was published to ``out``."""
    from hashmatch_client.cli.main import main as hashmatch

    this_year = datetime.now(UTC).year
    seeded = Seeded(years=(this_year + 1, this_year + 2))
    demo = Demo(stack, seeded)
    try:
        demo.first_year(seeded.years[0])
        demo.second_year(seeded.years[1])
        out.mkdir(parents=True, exist_ok=True)
        for year in seeded.years:
            folder = out / str(year)
            folder.mkdir(exist_ok=True)
            public = {
                f"/v1/transparency/{year}": "public.json",
                f"/v1/transparency/{year}/report.html": "public.html",
            }
            for route, name in public.items():
                answer = demo.http.get(stack.api_url + route, timeout=30)
                answer.raise_for_status()
                (folder / name).write_bytes(answer.content)
            status = hashmatch(
                [
                    "transparency",
                    str(year),
                    "--out",
                    str(folder),
                    "--state-file",
                    str(stack.state_file),
                ]
            )
            if status != 0:
                raise RuntimeError(f"hashmatch transparency {year} exited {status}")
            statistics = demo.http.get(
                stack.api_url + "/v1/statistics",
                params={"from": f"{year}-01-01", "to": f"{year}-12-31"},
                headers={"Authorization": f"Bearer {demo.keys['auditor']}", "Accept": "text/csv"},
                timeout=30,
            )
            statistics.raise_for_status()
            (folder / "statistics.csv").write_bytes(statistics.content)
        (out / "seeded.json").write_text(
            json.dumps(
                {
                    "years": list(seeded.years),
                    "published": {str(y): p for y, p in seeded.published.items()},
                    "secrets": sorted(seeded.secrets),
                    "organisations": seeded.organisations,
                },
                indent=2,
            )
            + "\n"
        )
    finally:
        stack.set_clock_offset(0)
    return seeded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("transparency-demo"))
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    args = parser.parse_args(argv)
    from hashmatch_devtools.demo_stack import demo_stack

    began = time.monotonic()
    with demo_stack(args.template, "hashmatch-transparency-demo") as stack:
        seeded = run_demo(stack, args.out)
    for year in seeded.years:
        print(f"{year}: published, sha256 {seeded.published[year]['sha256']}")
    print(f"files in {args.out}/<year>/ ({time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

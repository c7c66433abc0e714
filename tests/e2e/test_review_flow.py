"""Human review over HTTP with the real client, on the local stack (issue 12, "Must show").

A curator adds indicators made from shared photos (hashes only; one photo in the `new`
database); a provider scans folders and reports (one urgent, several normal, one matching only
`new`); reviewers triage with `hashmatch review` and the SDK: the urgent report is first in the
queue; one is decided manifestly unfounded and the provider reads the reasons, never the
internal note (and its webhook is told, signed); one is forwarded and each fake recipient
receives exactly one message of the documented shape; the `new`-only one is not forwarded until
a second reviewer confirms; an information request answered by the provider sends the report
back to the queue; every step is in the history with a time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from hashmatch import bootstrap
from hashmatch.access.model import OrganisationKind, Role
from hashmatch.reports.outbound import ForwardedReportMessage
from hashmatch_client.cli.main import main as hashmatch
from hashmatch_client.sdk import ApiError, HashmatchClient
from hashmatch_devtools.fake_recipients import FakeRecipients
from hashmatch_devtools.localstack.stack import LocalStack
from tests.e2e.helpers import SHARED_PHOTOS, scan_and_report, shared_photos, wait_for
from tests.factories import in_new_organisation

NOTE = "seen side by side: a holiday photo, not the indicated material"


@pytest.fixture(scope="module")
def photos() -> list[Path]:
    """Five distinct shared photos, none a near duplicate of another."""
    names, related = shared_photos()
    chosen: list[str] = []
    for name in reversed(names):  # not the ones test_provider_flow indexes
        if not any(frozenset((name, other)) in related for other in chosen):
            chosen.append(name)
        if len(chosen) == 5:
            break
    return [SHARED_PHOTOS / name for name in chosen]


class Actors:
    def __init__(self, stack: LocalStack, recipients: FakeRecipients) -> None:
        service = bootstrap.client_service()

        def create(role: Role, name: str, **extra: Any) -> Any:
            return service.create(
                role=role,
                organisation_id=in_new_organisation(
                    service,
                    name,
                    OrganisationKind.PROVIDER
                    if role is Role.PROVIDER
                    else OrganisationKind.AUTHORITY,
                ),
                purpose="review end-to-end test",
                legal_basis="test",
                valid_for=timedelta(days=1),
                databases=("known", "new", "solicitation"),
                hash_types=("pdq", "md5", "sha256"),
                **extra,
            )

        self.endpoint = stack.api_url
        self.curator_key = create(Role.CURATOR, "E2E review curators").api_key
        provider = create(
            Role.PROVIDER,
            "E2E Review Hosting",
            webhook_url=recipients.webhook_url("review-provider"),
        )
        self.provider_key, self.webhook_secret = provider.api_key, provider.webhook_secret
        self.provider = HashmatchClient(self.endpoint, self.provider_key)
        alice, bob = (create(Role.REVIEWER, f"EU Centre {n}").api_key for n in ("A", "B"))
        self.alice_key = alice
        self.alice, self.bob = (
            HashmatchClient(self.endpoint, alice),
            HashmatchClient(self.endpoint, bob),
        )

    def review_cli(self, *argv: str) -> int:
        return hashmatch(
            ["review", *argv, "--endpoint", self.endpoint, "--api-key", self.alice_key]
        )


def add_indicators(actors: Actors, files: list[Path], database: str) -> None:
    status = hashmatch(
        [
            "indicators",
            "add",
            *map(str, files),
            "--database",
            database,
            "--authority",
            "Bundeskriminalamt",
            "--member-state",
            "DE",
            "--assessment-reference",
            f"E2E-REVIEW-{database}",
            "--assessed-at",
            "2026-11-01T10:00:00Z",
            "--endpoint",
            actors.endpoint,
            "--api-key",
            actors.curator_key,
        ]
    )
    assert status == 0


def reported(actors: Actors, folder: Path, capsys: Any, *extra: str) -> list[str]:
    status, summary = scan_and_report(actors.endpoint, actors.provider_key, folder, capsys, *extra)
    assert status == 1, summary
    return [r["report_id"] for r in summary["results"] if r["matched"]]


def folder_of(tmp_path: Path, name: str, files: list[Path]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for original in files:
        (folder / original.name).write_bytes(original.read_bytes())
    return folder


def rows_of(out: str) -> list[str]:
    """The table rows a `hashmatch review` command printed (without the handlers' log lines)."""
    return [line for line in out.splitlines() if line.startswith("rp_")]


def steps(history: list[dict[str, Any]]) -> list[str]:
    for entry in history:
        assert datetime.fromisoformat(entry["at"].replace("Z", "+00:00")), entry
    return [entry["step"] for entry in history]


def test_reports_are_triaged_forwarded_returned_and_every_step_is_timed(
    local_stack: LocalStack, recipients: FakeRecipients, photos, tmp_path, capsys
):
    recipients.reset()
    actors = Actors(local_stack, recipients)
    urgent_photo, *normal_photos, new_photo = photos
    add_indicators(actors, [urgent_photo, *normal_photos], "known")
    add_indicators(actors, [new_photo], "new")
    local_stack.run_schedule("BuildIndexFunction")
    bootstrap.reset()  # a cold start: the matcher loads the snapshot just built

    # -- the provider scans and reports ----------------------------------------------------------
    normal = reported(actors, folder_of(tmp_path, "normal", normal_photos), capsys)
    (urgent,) = reported(actors, folder_of(tmp_path, "urgent", [urgent_photo]), capsys, "--urgent")
    (new_only,) = reported(actors, folder_of(tmp_path, "new", [new_photo]), capsys)
    assert len(normal) == 3
    every = {*normal, urgent, new_only}
    wait_for(
        lambda: (
            every
            <= {r["report_id"] for r in actors.provider.list_reports(status="stored")["reports"]}
        ),
        "intake to store the reports",
    )

    # -- the queue: urgent first ---------------------------------------------------------------
    queue = actors.alice.review_queue()["reports"]
    assert queue[0]["report_id"] == urgent
    assert {r["report_id"] for r in queue} >= every
    capsys.readouterr()
    assert actors.review_cli("queue") == 0
    assert rows_of(capsys.readouterr().out)[0].startswith(urgent)

    # -- unfounded: the provider reads the reasons, never the note, and its webhook is told ------
    unfounded = normal[0]
    assert actors.review_cli("decide", unfounded, "--unfounded", "not_a_match", "--note", NOTE) == 0
    shown = actors.provider.get_report(unfounded)
    assert shown["status"] == "unfounded"
    assert [r["code"] for r in shown["unfounded_reasons"]] == ["not_a_match"]
    assert "holiday" not in json.dumps(shown)
    (call,) = wait_for(
        lambda: [
            c
            for c in recipients.webhook_calls("review-provider")
            if json.loads(c["body"])["report_id"] == unfounded
        ],
        "the provider's webhook",
    )
    assert json.loads(call["body"])["status"] == "unfounded"
    mac = hmac.new(
        actors.webhook_secret.encode(),
        call["timestamp"].encode() + b"." + call["body"].encode(),
        hashlib.sha256,
    )
    assert call["signature"] == "sha256=" + mac.hexdigest()

    # -- forwarded: each recipient receives exactly one message of the documented shape --------
    assert actors.review_cli("claim", urgent) == 0
    assert (
        actors.review_cli(
            "decide",
            urgent,
            "--forward",
            "--member-state",
            "DE",
            "--note",
            "matches known material",
        )
        == 0
    )

    def received(recipient: str, report_id: str) -> list[dict[str, Any]]:
        return [m for m in recipients.received(recipient) if m["report"]["report_id"] == report_id]

    for recipient in ("europol", "DE"):
        wait_for(partial(received, recipient, urgent), f"delivery to {recipient}")
    time.sleep(1.0)  # any duplicate would have arrived by now
    for recipient in ("europol", "DE"):
        (message,) = received(recipient, urgent)
        parsed = ForwardedReportMessage.model_validate(message)
        assert (parsed.recipient, parsed.report.competent_member_state) == (recipient, "DE")
        assert parsed.report.urgent
        assert "matches known material" not in json.dumps(message)

    # -- four eyes: new material only waits for a second reviewer ------------------------------
    proposed = actors.alice.decide(
        new_only, {"outcome": "forward", "europol_only": True, "internal_note": "new material"}
    )
    assert proposed["status"] == "awaiting_confirmation"
    assert actors.provider.get_report(new_only)["status"] == "stored"
    time.sleep(2.0)
    assert received("europol", new_only) == []
    with pytest.raises(ApiError) as own:
        actors.alice.confirm(new_only)
    assert own.value.status == 409
    assert actors.bob.confirm(new_only)["status"] == "forwarded"
    wait_for(lambda: received("europol", new_only), "the confirmed forwarding's delivery")

    # -- an information request is answered and the report is back in the queue ----------------
    asked = normal[1]
    assert actors.review_cli("ask", asked, "Is the uploading account still active?") == 0
    waiting = actors.provider.get_report(asked)
    assert waiting["status"] == "awaiting_provider"
    request = waiting["information_request"]
    assert request["question"] == "Is the uploading account still active?"
    answered = actors.provider.answer_information_request(
        asked, request["request_id"], "Suspended."
    )
    assert answered["status"] == "stored"
    assert asked in {r["report_id"] for r in actors.alice.review_queue()["reports"]}

    # -- every step is in the history, with a time ---------------------------------------------
    history = {
        rid: actors.alice.review_report(rid)["history"]
        for rid in (urgent, unfounded, asked, new_only)
    }
    assert steps(history[unfounded]) == ["filed", "stored", "decided_unfounded"]
    assert steps(history[asked]) == [
        "filed",
        "stored",
        "information_requested",
        "information_provided",
    ]
    assert steps(history[urgent])[:3] == ["filed", "stored", "forwarded"]
    assert sorted(h["recipient"] for h in history[urgent] if h["step"] == "delivered") == [
        "DE",
        "europol",
    ]
    assert steps(history[new_only])[:4] == ["filed", "stored", "forward_proposed", "forwarded"]
    provider_steps = [s["status"] for s in actors.provider.get_report(new_only)["history"]]
    assert provider_steps == ["received", "stored", "forwarded"]  # no internal steps

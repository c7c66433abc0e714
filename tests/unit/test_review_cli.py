"""`hashmatch review ...` against the real review service over in-memory fakes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from hashmatch.access.model import Principal
from hashmatch.api.problems import status_of
from hashmatch.errors import HashmatchError
from hashmatch.reports.model import ReportStatus
from hashmatch.reports.ports import QueueQuery
from hashmatch.reports.review import queue_status_of
from hashmatch.reports.review_requests import (
    DecisionRequest,
    ForwardDecision,
    InformationRequestBody,
    UnfoundedDecision,
)
from hashmatch.reports.review_schemas import (
    ClaimView,
    InformationRequestView,
    ReviewOutcome,
    ReviewQueuePage,
    ReviewReportView,
)
from hashmatch_client.cli import review_command
from hashmatch_client.cli.main import main
from hashmatch_client.sdk import ApiError
from tests.unit.review_world import ALICE, BOB, ReviewWorld

DECISION: TypeAdapter[UnfoundedDecision | ForwardDecision] = TypeAdapter(DecisionRequest)


class ServiceBackedReviewClient:
    """The SDK's review methods answered by the real service, as the API would answer."""

    def __init__(self, world: ReviewWorld, principal: Principal) -> None:
        self.world = world
        self.principal = principal

    def _call(self, work: Any) -> Any:
        try:
            return work().model_dump(mode="json")
        except HashmatchError as error:
            problem = {"type": error.code, "detail": error.detail, "errors": error.errors}
            raise ApiError(int(status_of(error)), problem) from error
        except ValidationError as error:
            items = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in error.errors()]
            raise ApiError(422, {"detail": "invalid request", "errors": items}) from error

    def review_queue(self, *, status=None, limit=25, next=None, **filters: Any) -> Any:
        query = QueueQuery(
            status=queue_status_of(ReportStatus(status) if status else None),
            limit=limit,
            cursor=next,
            **{k: v for k, v in filters.items() if v is not None},
        )
        service = self.world.review
        return self._call(lambda: ReviewQueuePage.of(service.queue(query), service.now))

    def review_report(self, report_id: str) -> Any:
        service = self.world.review
        return self._call(
            lambda: ReviewReportView.of(service.detail(self.principal, report_id), service.now)
        )

    def claim(self, report_id: str) -> Any:
        return self._call(
            lambda: ClaimView.of(report_id, self.world.review.claim(self.principal, report_id))
        )

    def decide(self, report_id: str, body: dict[str, Any]) -> Any:
        return self._call(
            lambda: ReviewOutcome.of(
                self.world.review.decide(self.principal, report_id, DECISION.validate_python(body))
            )
        )

    def confirm(self, report_id: str) -> Any:
        return self._call(
            lambda: ReviewOutcome.of(self.world.review.confirm(self.principal, report_id))
        )

    def request_information(self, report_id: str, question: str) -> Any:
        body = InformationRequestBody(question=question)
        return self._call(
            lambda: InformationRequestView.of(
                report_id, self.world.review.request_information(self.principal, report_id, body)
            )
        )


@pytest.fixture
def world() -> ReviewWorld:
    return ReviewWorld()


@pytest.fixture
def as_reviewer(world, monkeypatch):
    """Run `hashmatch review ...` as ALICE (or another reviewer)."""

    def run(*argv: str, principal: Principal = ALICE) -> int:
        client = ServiceBackedReviewClient(world, principal)
        monkeypatch.setattr(review_command, "client_of", lambda args: client)
        return main(["review", *argv, "--endpoint", "https://api.example", "--api-key", "hm_x"])

    return run


def test_the_queue_table_lists_urgent_first_with_age_and_claim(world, as_reviewer, capsys):
    normal = world.stored_report()
    urgent = world.stored_report(urgent=True)
    world.review.claim(BOB, normal)

    assert as_reviewer("queue") == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith(urgent)
    assert "URGENT" in lines[1]
    assert lines[2].startswith(normal)
    assert BOB.client_id in lines[2]


def test_show_prints_the_matches_the_indicators_and_the_history(world, as_reviewer, capsys):
    report_id = world.stored_report()

    assert as_reviewer("show", report_id) == 0

    out = capsys.readouterr().out
    assert "Bundeskriminalamt (DE)" in out
    assert "3/31" in out  # distance / threshold
    assert "stored" in out.split("history", 1)[1]


def test_decide_forward_then_the_forwarded_table_shows_the_deliveries(world, as_reviewer, capsys):
    report_id = world.stored_report()

    status = as_reviewer("decide", report_id, "--forward", "--member-state", "DE", "--note", "ok")
    as_reviewer("forwarded")

    out = capsys.readouterr().out
    assert status == 0
    assert f"{report_id}: forwarded to DE (pending), europol (pending)" in out
    assert out.count("pending") >= 2


def test_a_refused_decision_exits_1_and_names_the_fault(world, as_reviewer, capsys):
    report_id = world.stored_report()

    status = as_reviewer("decide", report_id, "--forward", "--note", "no state")

    assert status == 1
    assert "member_state" in capsys.readouterr().err
    assert world.report(report_id).status is ReportStatus.STORED


def test_four_eyes_from_the_command_line(world, as_reviewer, capsys):
    report_id = world.stored_report("new")

    as_reviewer("decide", report_id, "--forward", "--europol-only", "--note", "new material")
    own = as_reviewer("confirm", report_id)
    other = as_reviewer("confirm", report_id, principal=BOB)

    captured = capsys.readouterr()
    assert "a second reviewer must confirm" in captured.out
    assert own == 1
    assert "another reviewer must confirm" in captured.err
    assert other == 0
    assert world.report(report_id).status is ReportStatus.FORWARDED


def test_ask_and_unfounded_with_json_output(world, as_reviewer, capsys):
    asked_id, decided_id = world.stored_report(), world.stored_report()

    as_reviewer("ask", asked_id, "Where is the account holder?")
    as_reviewer("decide", decided_id, "--unfounded", "not_a_match", "--json")

    out = capsys.readouterr().out
    assert f"{asked_id} waits for the provider" in out
    decided = json.loads(out[out.index("{") :])
    assert decided["decision"]["reasons"] == ["not_a_match"]


def test_usage_errors_exit_2(as_reviewer, capsys):
    status = as_reviewer("decide", "rp_" + "0" * 24, "--unfounded", "x", "--europol-only")

    assert status == 2
    assert "go with --forward" in capsys.readouterr().err

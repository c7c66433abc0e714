"""Reports: filing (validation, ownership, idempotency, queue faults), intake and read-back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from hashmatch.access.model import Principal, Role
from hashmatch.clock import FixedClock
from hashmatch.errors import DependencyUnavailable, InvalidInput, NotFound
from hashmatch.matching.events import new_match_id
from hashmatch.reports.intake import INTAKE_ACTOR, ReportIntake
from hashmatch.reports.messages import ReportMessage
from hashmatch.reports.model import ReportDetails, ReportStatus
from hashmatch.reports.service import ReportService
from hashmatch.statistics.counting import Statistics
from tests.factories import a_match_event
from tests.fakes import (
    InMemoryAuditLog,
    InMemoryCounterStore,
    InMemoryIdempotencyStore,
    InMemoryMatchEventStore,
    InMemoryReportQueue,
    InMemoryReportStore,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PROVIDER = Principal(client_id="cl_" + "a" * 24, role=Role.PROVIDER, owner="Example Hosting SA")
OTHER = Principal(client_id="cl_" + "b" * 24, role=Role.PROVIDER, owner="Other Cloud BV")


class World:
    def __init__(self) -> None:
        self.clock = FixedClock(NOW)
        self.events = InMemoryMatchEventStore()
        self.queue = InMemoryReportQueue()
        self.reports = InMemoryReportStore()
        self.audit = InMemoryAuditLog(self.clock)
        self.service = ReportService(
            match_events=self.events,
            queue=self.queue,
            reports=self.reports,
            clock=self.clock,
            audit=self.audit,
            idempotency_store=InMemoryIdempotencyStore(),
        )
        self.counters = InMemoryCounterStore()
        self.intake = ReportIntake(
            reports=self.reports,
            match_events=self.events,
            clock=self.clock,
            audit=self.audit,
            statistics=Statistics(self.counters),
        )

    def match(self, principal: Principal = PROVIDER, **changes: Any) -> str:
        event = a_match_event(principal, self.clock.now(), distance=4, **changes)
        self.events.put_many([event])
        return event.match_id

    def take_in_everything_queued(self) -> None:
        for filing in self.queue.sent:
            self.intake.take_in(filing)


def details(match_ids: list[str], **changes: Any) -> ReportDetails:
    fields: dict[str, Any] = {
        "match_ids": match_ids,
        "content_ref": "upload-7f3a",
        "content_type": "image",
        "detected_at": NOW - timedelta(hours=1),
        "urgent": False,
        "suspected_member_state": "DE",
        "legal_basis": "Regulation (EU) 2024/1307",
        "removed": True,
        "also_reported_to": ["NCMEC"],
    }
    return ReportDetails.model_validate({**fields, **changes})


@pytest.fixture
def world() -> World:
    return World()


def test_a_filing_is_queued_under_a_new_report_id(world):
    match_id = world.match()

    receipt = world.service.file(PROVIDER, details([match_id]))

    assert receipt.status is ReportStatus.RECEIVED
    (filing,) = world.queue.sent
    assert filing.report_id == receipt.report_id
    assert (filing.provider, filing.client_id) == (PROVIDER.owner, PROVIDER.client_id)
    assert filing.details.match_ids == (match_id,)


def test_unknown_and_other_providers_match_ids_are_named_alike_and_nothing_is_queued(world):
    mine = world.match()
    theirs = world.match(OTHER)
    unknown = new_match_id()

    with pytest.raises(InvalidInput) as refused:
        world.service.file(PROVIDER, details([mine, theirs, unknown]))

    assert refused.value.errors == [
        {"loc": ["body", "match_ids", 1], "msg": f"{theirs}: unknown or not yours"},
        {"loc": ["body", "match_ids", 2], "msg": f"{unknown}: unknown or not yours"},
    ]
    assert world.queue.sent == []


def test_a_match_event_past_its_retention_date_cannot_be_reported(world):
    expired = world.match(expires_at=NOW - timedelta(seconds=1))

    with pytest.raises(InvalidInput, match="cannot be reported"):
        world.service.file(PROVIDER, details([expired]))


def test_a_match_event_already_cited_by_a_report_cannot_be_reported_again(world):
    match_id = world.match()
    first = world.service.file(PROVIDER, details([match_id]))
    world.take_in_everything_queued()

    with pytest.raises(InvalidInput) as refused:
        world.service.file(PROVIDER, details([match_id]))

    assert refused.value.errors[0]["msg"] == f"{match_id}: already cited by {first.report_id}"


def test_a_retry_with_the_same_idempotency_key_returns_the_same_report(world):
    match_id = world.match()

    first = world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")
    world.take_in_everything_queued()  # the retry must not trip over its own citation
    retry = world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")

    assert retry == first
    assert len(world.queue.sent) == 1


def test_an_idempotency_key_reused_for_a_different_report_is_refused(world):
    match_id = world.match()
    world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")

    with pytest.raises(InvalidInput, match="different report"):
        world.service.file(PROVIDER, details([match_id], urgent=True), idempotency_key="k-1")


def test_two_providers_may_use_the_same_idempotency_key(world):
    mine, theirs = world.match(), world.match(OTHER)

    first = world.service.file(PROVIDER, details([mine]), idempotency_key="k-1")
    second = world.service.file(OTHER, details([theirs]), idempotency_key="k-1")

    assert first.report_id != second.report_id
    assert len(world.queue.sent) == 2


def test_a_refused_send_is_retryable_and_the_retry_files_exactly_one_report(world):
    match_id = world.match()
    world.queue.refusing = True

    with pytest.raises(DependencyUnavailable):
        world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")
    world.queue.refusing = False
    receipt = world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")
    again = world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")

    assert [filing.report_id for filing in world.queue.sent] == [receipt.report_id]
    assert again == receipt


def test_a_refused_filing_with_a_key_can_be_corrected_and_refiled_with_that_key(world):
    match_id = world.match()
    with pytest.raises(InvalidInput):
        world.service.file(PROVIDER, details([new_match_id()]), idempotency_key="k-1")

    receipt = world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")

    assert [filing.report_id for filing in world.queue.sent] == [receipt.report_id]


def test_a_detection_in_the_future_is_refused(world):
    match_id = world.match()

    with pytest.raises(InvalidInput, match="future"):
        world.service.file(PROVIDER, details([match_id], detected_at=NOW + timedelta(hours=1)))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"match_ids": []}, "match_ids"),
        ({"match_ids": [new_match_id() for _ in range(101)]}, "match_ids"),
        ({"match_ids": ["mt_" + "0" * 24, "mt_" + "0" * 24]}, "match_ids"),
        ({"match_ids": ["in_" + "0" * 24]}, "match_ids"),
        ({"content_ref": "x" * 257}, "content_ref"),
        ({"content_ref": ""}, "content_ref"),
        ({"content_type": "audio"}, "content_type"),
        ({"detected_at": "2026-11-29T12:00:00"}, "detected_at"),
        ({"suspected_member_state": "XX"}, "suspected_member_state"),
        ({"suspected_member_state": "DEU"}, "suspected_member_state"),
        ({"legal_basis": "x" * 201}, "legal_basis"),
        ({"also_reported_to": ["NCMEC", "NCMEC"]}, "also_reported_to"),
        ({"also_reported_to": ["x" * 41]}, "also_reported_to"),
    ],
)
def test_malformed_report_details_are_refused_naming_the_field(changes, field):
    fields = {"match_ids": ["mt_" + "1" * 24], **changes}

    with pytest.raises(ValidationError) as refused:
        details(**fields)

    assert {error["loc"][0] for error in refused.value.errors()} == {field}


def test_a_member_state_code_is_normalised_to_upper_case():
    assert details(["mt_" + "1" * 24], suspected_member_state=" lu ").suspected_member_state == "LU"


def test_intake_stores_the_report_with_a_timestamp_for_each_status(world):
    match_id = world.match()
    receipt = world.service.file(PROVIDER, details([match_id]))
    world.clock.advance(timedelta(seconds=3))

    outcome = world.intake.take_in(world.queue.sent[0])

    report = world.reports.get(receipt.report_id)
    assert outcome.stored
    assert report is not None
    assert [(step.status, step.at, step.by) for step in report.history] == [
        (ReportStatus.RECEIVED, NOW, PROVIDER.client_id),
        (ReportStatus.STORED, NOW + timedelta(seconds=3), INTAKE_ACTOR),
    ]
    assert report.status is ReportStatus.STORED


def test_intake_cites_the_match_events_so_they_live_as_long_as_the_report(world):
    match_id = world.match()
    receipt = world.service.file(PROVIDER, details([match_id]))

    world.take_in_everything_queued()

    assert world.events.events[match_id].report_id == receipt.report_id


def test_a_duplicate_delivery_yields_one_report(world):
    receipt = world.service.file(PROVIDER, details([world.match()]))
    filing = world.queue.sent[0]
    world.intake.take_in(filing)
    first = world.reports.get(receipt.report_id)
    world.clock.advance(timedelta(minutes=1))

    outcome = world.intake.take_in(filing)

    assert not outcome.stored
    assert list(world.reports.reports) == [receipt.report_id]
    assert world.reports.get(receipt.report_id) == first


def test_a_match_event_erased_before_intake_does_not_lose_the_report(world):
    kept, erased = world.match(), world.match()
    receipt = world.service.file(PROVIDER, details([kept, erased]))
    del world.events.events[erased]

    outcome = world.intake.take_in(world.queue.sent[0])

    assert outcome.uncited_match_ids == (erased,)
    assert world.reports.get(receipt.report_id) is not None


def test_a_match_event_keeps_the_first_report_that_cited_it(world):
    match_id = world.match()
    first = world.service.file(PROVIDER, details([match_id]))
    second = world.service.file(PROVIDER, details([match_id]))  # before either is taken in

    world.take_in_everything_queued()

    assert world.events.events[match_id].report_id == first.report_id
    assert world.reports.get(second.report_id) is not None


def test_a_queue_message_round_trips_to_the_same_filing(world):
    world.service.file(PROVIDER, details([world.match()]))
    filing = world.queue.sent[0]

    body = ReportMessage.of(filing).model_dump_json()

    assert ReportMessage.model_validate_json(body).to_filing() == filing


@pytest.mark.parametrize("body", ["not json", "{}", '{"version": 2}'])
def test_an_unparseable_queue_message_is_refused(body):
    with pytest.raises(ValidationError):
        ReportMessage.model_validate_json(body)


def test_a_provider_reads_its_own_report_and_no_one_elses(world):
    receipt = world.service.file(PROVIDER, details([world.match()]))
    world.take_in_everything_queued()

    assert world.service.get(PROVIDER, receipt.report_id).report_id == receipt.report_id
    with pytest.raises(NotFound):
        world.service.get(OTHER, receipt.report_id)
    with pytest.raises(NotFound):
        world.service.get(PROVIDER, "rp_" + "0" * 24)


def test_a_listing_shows_only_the_providers_reports_of_the_status_asked(world):
    mine = world.service.file(PROVIDER, details([world.match()]))
    world.service.file(OTHER, details([world.match(OTHER)]))
    world.take_in_everything_queued()

    stored = world.service.list(PROVIDER, status=ReportStatus.STORED)
    forwarded = world.service.list(PROVIDER, status=ReportStatus.FORWARDED)

    assert [report.report_id for report in stored.reports] == [mine.report_id]
    assert forwarded.reports == ()


def test_a_listing_page_size_above_the_limit_is_refused(world):
    with pytest.raises(InvalidInput, match="limit"):
        world.service.list(PROVIDER, limit=101)

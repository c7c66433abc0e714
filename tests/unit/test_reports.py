"""Reports: filing (validation, ownership, idempotency, queue faults), intake and read-back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from hashmatch.access.model import Principal, Role
from hashmatch.clock import FixedClock
from hashmatch.errors import Conflict, DependencyUnavailable, InvalidInput, NotFound
from hashmatch.matching.events import new_match_id
from hashmatch.reports.intake import INTAKE_ACTOR, ReportIntake
from hashmatch.reports.messages import ReportMessage
from hashmatch.reports.model import ReportDetails, ReportStatus
from hashmatch.reports.service import KeyReused, ReportService
from hashmatch.statistics.counting import Statistics
from tests.factories import a_match_event, a_principal
from tests.fakes import (
    InMemoryAuditLog,
    InMemoryCounterStore,
    InMemoryIdempotencyStore,
    InMemoryMatchEventStore,
    InMemoryReportQueue,
    InMemoryReportStore,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PROVIDER = a_principal("a", Role.PROVIDER, "Example Hosting SA")
OTHER = a_principal("b", Role.PROVIDER, "Other Cloud BV")


class World:
    def __init__(self) -> None:
        self.clock = FixedClock(NOW)
        self.events = InMemoryMatchEventStore()
        self.queue = InMemoryReportQueue()
        self.reports = InMemoryReportStore()
        self.audit = InMemoryAuditLog(self.clock)
        self.idempotency_store = InMemoryIdempotencyStore()
        self.service = ReportService(
            match_events=self.events,
            queue=self.queue,
            reports=self.reports,
            clock=self.clock,
            audit=self.audit,
            idempotency_store=self.idempotency_store,
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
    assert (filing.provider, filing.client_id) == (PROVIDER.organisation_id, PROVIDER.client_id)
    assert filing.details.match_ids == (match_id,)


def test_unknown_and_other_providers_match_ids_are_named_alike_and_nothing_is_queued(world):
    mine = world.match()
    theirs = world.match(OTHER)
    unknown = new_match_id()

    with pytest.raises(NotFound) as refused:
        world.service.file(PROVIDER, details([mine, theirs, unknown]))

    assert refused.value.errors == [
        {"loc": ["body", "match_ids", 1], "msg": f"{theirs}: unknown or not yours"},
        {"loc": ["body", "match_ids", 2], "msg": f"{unknown}: unknown or not yours"},
    ]
    assert world.queue.sent == []


def test_a_match_event_past_its_retention_date_cannot_be_reported(world):
    expired = world.match(expires_at=NOW - timedelta(seconds=1))

    with pytest.raises(NotFound, match="unknown or not yours"):
        world.service.file(PROVIDER, details([expired]))


def test_a_match_event_already_cited_by_a_report_cannot_be_reported_again(world):
    match_id = world.match()
    first = world.service.file(PROVIDER, details([match_id]))
    world.take_in_everything_queued()

    with pytest.raises(Conflict) as refused:
        world.service.file(PROVIDER, details([match_id]))

    assert refused.value.errors[0]["msg"] == f"{match_id}: already cited by {first.report_id}"


def test_a_retry_with_the_same_idempotency_key_returns_the_same_report(world):
    match_id = world.match()

    first = world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")
    world.take_in_everything_queued()  # the retry must not trip over its own citation
    retry = world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")

    assert retry == first
    assert len(world.queue.sent) == 1


def test_an_idempotency_key_reused_for_a_different_report_is_refused_naming_its_report(world):
    match_id = world.match()
    first = world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")

    with pytest.raises(KeyReused) as refused:
        world.service.file(PROVIDER, details([match_id], urgent=True), idempotency_key="k-1")

    assert refused.value.report_id == first.report_id
    assert len(world.queue.sent) == 1


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
    with pytest.raises(NotFound):
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


@pytest.mark.parametrize("code", ["lu", " LU", "Lu"])
def test_a_member_state_code_is_refused_unless_written_as_iso_writes_it(code):
    with pytest.raises(ValidationError):
        details(["mt_" + "1" * 24], suspected_member_state=code)


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


def test_a_second_filing_citing_a_match_before_intake_is_409_and_queues_nothing(world):
    match_id = world.match()
    first = world.service.file(PROVIDER, details([match_id]))

    with pytest.raises(Conflict) as refused:
        world.service.file(PROVIDER, details([match_id]))  # before the first is taken in

    assert refused.value.errors[0]["msg"] == f"{match_id}: already cited by {first.report_id}"
    assert [filing.report_id for filing in world.queue.sent] == [first.report_id]
    assert world.events.events[match_id].report_id == first.report_id


def test_citing_is_all_or_nothing_across_the_reports_match_ids(world):
    cited, free = world.match(), world.match()
    world.service.file(PROVIDER, details([cited]))

    with pytest.raises(Conflict):
        world.service.file(PROVIDER, details([free, cited]))

    assert world.events.events[free].report_id is None
    assert world.service.file(PROVIDER, details([free])).report_id


def test_a_refused_send_releases_the_claim_so_a_retry_without_a_key_can_file(world):
    match_id = world.match()
    world.queue.refusing = True

    with pytest.raises(DependencyUnavailable):
        world.service.file(PROVIDER, details([match_id]))
    world.queue.refusing = False

    assert world.events.events[match_id].report_id is None
    assert world.service.file(PROVIDER, details([match_id])).report_id


def test_a_failure_after_the_send_lets_the_retry_file_under_the_same_report_id(world):
    match_id = world.match()
    world.audit.store.failing = True

    with pytest.raises(DependencyUnavailable):
        world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")
    world.audit.store.failing = False
    retry = world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")
    world.take_in_everything_queued()

    assert {filing.report_id for filing in world.queue.sent} == {retry.report_id}
    assert [r.report_id for r in world.service.list(PROVIDER).reports] == [retry.report_id]


def test_a_retry_leaving_out_default_fields_is_the_same_report(world):
    match_id = world.match()
    spelt_out = details(
        [match_id], urgent=False, removed=False, suspected_member_state=None, also_reported_to=[]
    )
    first = world.service.file(PROVIDER, spelt_out, idempotency_key="k-1")

    retry = world.service.file(
        PROVIDER,
        ReportDetails.model_validate(
            {
                "match_ids": [match_id],
                "content_ref": spelt_out.content_ref,
                "content_type": "image",
                "detected_at": spelt_out.detected_at.isoformat().replace("+00:00", "Z"),
                "legal_basis": spelt_out.legal_basis,
            }
        ),
        idempotency_key="k-1",
    )

    assert retry == first
    assert len(world.queue.sent) == 1


def test_the_same_content_and_indicator_with_new_match_ids_is_the_same_report(world):
    first_scan = world.match(indicator_id="ind_" + "1" * 22)
    receipt = world.service.file(PROVIDER, details([first_scan]), idempotency_key="scan-1")
    second_scan = world.match(indicator_id="ind_" + "1" * 22)

    again = world.service.file(PROVIDER, details([second_scan]), idempotency_key="scan-1")

    assert again == receipt
    assert len(world.queue.sent) == 1


def test_a_key_whose_answer_was_forgotten_still_refuses_to_file_a_second_report(world):
    match_id = world.match()
    first = world.service.file(PROVIDER, details([match_id]), idempotency_key="k-1")
    world.take_in_everything_queued()
    world.idempotency_store.records.clear()  # the 24-hour window has passed

    with pytest.raises(KeyReused) as refused:
        world.service.file(PROVIDER, details([world.match()]), idempotency_key="k-1")

    assert refused.value.report_id == first.report_id
    assert len(world.queue.sent) == 1


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


SAME_NAME = a_principal("c", owner=PROVIDER.owner)


def test_an_organisation_of_the_same_name_neither_reads_nor_lists_anothers_reports(world):
    receipt = world.service.file(PROVIDER, details([world.match()]))
    world.take_in_everything_queued()

    with pytest.raises(NotFound):
        world.service.get(SAME_NAME, receipt.report_id)
    assert world.service.list(SAME_NAME).reports == ()
    assert world.service.get(PROVIDER, receipt.report_id).report_id == receipt.report_id


def test_an_organisation_of_the_same_name_cannot_cite_anothers_match(world):
    with pytest.raises(NotFound):
        world.service.file(SAME_NAME, details([world.match(PROVIDER)]))


def test_idempotency_keys_are_the_organisations_not_the_names(world):
    first = world.service.file(PROVIDER, details([world.match()]), idempotency_key="k-1")
    second = world.service.file(SAME_NAME, details([world.match(SAME_NAME)]), "k-1")

    assert first.report_id != second.report_id

"""Retention: each data class is erased on the day it is due and not a day earlier; legal holds;
resumable runs with exactly one receipt each."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

import pytest

from hashmatch.errors import Conflict, InvalidInput, NotFound
from hashmatch.indicators.model import IndicatorStatus
from hashmatch.indicators.retention import INDICATOR_PROVENANCE
from hashmatch.matching.retention import MATCH_EVENTS
from hashmatch.reports.retention import (
    INFORMATION_REQUESTS,
    OUTBOUND_MESSAGES,
    REPORTS,
    REVIEW_CLAIMS,
)
from hashmatch.reports.review_requests import InformationAnswer, InformationRequestBody
from hashmatch.retention.holds import LegalHoldRequest
from hashmatch.retention.ports import DueItem, HoldTarget
from hashmatch.retention_policy import RetentionPolicy, due_day
from hashmatch.settings import RetentionSettings, SettingsError, clear_settings_cache, load_settings
from hashmatch.statistics.ports import Publication
from tests.factories import CURATOR, pdq_hex, submission
from tests.unit.retention_world import (
    DECISIONS,
    POLICY,
    PROVIDER,
    REVIEWER,
    START,
    RetentionWorld,
)

DAY = timedelta(days=1)


@pytest.fixture
def world() -> RetentionWorld:
    return RetentionWorld()


def erased(world: RetentionWorld, data_class: str) -> int:
    return sum(int(receipt["erased"][data_class]) for receipt in world.receipts())


def test_the_policy_reads_every_period_from_one_json_setting(monkeypatch):
    monkeypatch.setenv(
        "RETENTION_DAYS",
        '{"match_events": 90, "unfounded_reports": 30, "forwarded_reports": 365,'
        ' "revoked_provenance": 90, "audit_entries": 1826, "statistics": 365,'
        ' "legal_hold_max": 548, "claims": 7, "information_requests": 30,'
        ' "outbound_messages": 90, "probing_sketches": 1}',
    )
    clear_settings_cache()

    assert load_settings(RetentionSettings).retention_days == POLICY
    clear_settings_cache()


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ('{"match_events": 90}', "RETENTION_DAYS: audit_entries: Field required"),
        ("match_events=90,statistics=730", "RETENTION_DAYS: Invalid JSON"),
        ('{"match_events": "ninety"}', "RETENTION_DAYS: match_events: Value error"),
        ('{"match_events": 90, "later": 1}', "RETENTION_DAYS: later: Extra inputs"),
    ],
)
def test_a_malformed_policy_is_refused_naming_the_variable_and_the_key(monkeypatch, value, named):
    monkeypatch.setenv("RETENTION_DAYS", value)
    clear_settings_cache()

    with pytest.raises(SettingsError, match=re.escape(named)):
        load_settings(RetentionSettings)
    clear_settings_cache()


def test_a_policy_period_must_be_a_whole_number_of_days():
    with pytest.raises(ValueError, match="whole number of days"):
        RetentionPolicy.model_validate({**POLICY.model_dump(), "statistics": 0})


def test_a_match_event_is_erased_on_its_due_day_and_not_a_day_earlier(world):
    # Given a match event nobody reported
    match_id = world.match_event()
    due = START + POLICY.match_events

    # When erasure runs the day before it is due, then when it is due
    world.at(due - DAY)
    world.run()
    kept_the_day_before = match_id in world.events.events
    world.at(due)
    world.run()

    # Then it survived the day before and is gone on the day
    assert kept_the_day_before
    assert match_id not in world.events.events
    assert erased(world, MATCH_EVENTS) == 1


def test_a_match_event_is_not_erased_earlier_on_its_due_day(world):
    match_id = world.match_event()

    world.at(START + POLICY.match_events - timedelta(minutes=1))
    world.run()

    assert match_id in world.events.events


def test_an_unfounded_report_goes_30_days_after_the_decision_with_its_match_events(world):
    report_id, match_id = world.decided_report("unfounded")

    world.at(START + POLICY.unfounded_reports - DAY)
    world.run()
    kept = report_id in world.reports.reports and match_id in world.events.events
    world.at(START + POLICY.unfounded_reports)
    world.run()

    assert kept
    assert report_id not in world.reports.reports
    assert match_id not in world.events.events
    assert erased(world, REPORTS) == 1
    assert erased(world, MATCH_EVENTS) == 1


def test_a_forwarded_report_is_kept_365_days_after_forwarding(world):
    report_id, _ = world.decided_report("forwarded")

    world.at(START + POLICY.forwarded_reports - DAY)
    world.run()
    kept = report_id in world.reports.reports
    world.at(START + POLICY.forwarded_reports)
    world.run()

    assert kept
    assert report_id not in world.reports.reports


def test_a_cited_match_event_outlives_its_own_period_with_its_report(world):
    # Given a report still awaiting a decision cites a match event
    report_id, match_id = world.stored_report()

    # When the match event's own 90 days pass
    world.at(START + POLICY.match_events + DAY)
    world.run()

    # Then it stays with the report
    assert match_id in world.events.events
    assert report_id in world.reports.reports


def test_a_revoked_indicators_provenance_is_erased_after_its_period_and_the_record_stays(world):
    indicator_id = world.revoked_indicator()

    world.at(START + POLICY.revoked_provenance - DAY)
    world.run()
    kept = world.indicators.items[indicator_id].provenance != ()
    world.at(START + POLICY.revoked_provenance)
    world.run()

    tombstone = world.indicators.items[indicator_id]
    assert kept
    assert tombstone.provenance == ()
    assert tombstone.status is IndicatorStatus.REVOKED
    assert tombstone.hash_value  # the hash stays, so the same hash stays revoked
    assert erased(world, INDICATOR_PROVENANCE) == 1


def test_an_active_indicator_keeps_its_provenance(world):
    result = world.curation.add_batch([submission(pdq_hex(7))], submitted_by=CURATOR)
    indicator = result.items[0].indicator
    assert indicator is not None

    world.at(START + 3 * 365 * DAY)
    world.run()

    assert world.indicators.items[indicator.id].provenance != ()


def test_a_years_counters_are_kept_until_its_report_is_published_plus_the_period(world):
    # Given counters of a day of 2027, and tallies of that year
    day = world.counter_today()
    world.counters.tally[(2027, "ind_a")] = 2

    # When 2028 and half of 2029 pass without a report for 2027
    world.at(START + 540 * DAY)
    world.run()
    kept_unpublished = any(key.day == day for key in world.counters.counts)
    # and the report is published on 2 July 2028 ... then a year passes
    published_at = START + 540 * DAY
    world.publications.put(Publication(year=2027, published_at=published_at, digest="0" * 64))
    world.at(published_at + POLICY.statistics - DAY)
    world.run()
    kept_a_year = any(key.day == day for key in world.counters.counts)
    world.at(published_at + POLICY.statistics)
    outcome = world.run()

    # Then they were kept until a year after publication, and erased then, tallies too
    assert kept_unpublished
    assert kept_a_year
    assert not any(key.day == day for key in world.counters.counts)
    assert world.counters.tally == {}
    assert outcome.counts["statistics"] >= 2


def test_statistics_of_an_unpublished_year_are_not_due_at_all(world):
    day = world.counter_today()

    assert world.registry.get("statistics").due_at(day.isoformat()) is None


def test_audit_entries_are_erased_after_five_years_and_the_rest_still_verifies(world):
    # Given entries from the start, and later ones
    world.match_event()
    world.hold(HoldTarget.MATCH_EVENT, world.match_event(), days=30)
    first_entries = max(world.audit.store.entries)

    # When five years (and a day) pass with hourly runs in between
    world.at(START + POLICY.audit_entries - DAY)
    world.run()
    kept = 1 in world.audit.store.entries
    world.at(START + POLICY.audit_entries + DAY)
    world.run()

    # Then the old entries are gone behind a checkpoint, and the chain verifies
    assert kept
    assert not any(seq <= first_entries for seq in world.audit.store.entries)
    assert world.audit.store.saved_checkpoint is not None
    assert world.audit.verify(world.sealer).ok


# -- legal holds -------------------------------------------------------------------------------


def test_a_held_report_survives_its_due_date(world):
    report_id, match_id = world.decided_report("unfounded")
    world.hold(HoldTarget.REPORT, report_id)

    world.at(START + POLICY.unfounded_reports + 5 * DAY)
    outcome = world.run()

    assert report_id in world.reports.reports
    assert match_id in world.events.events
    assert outcome.skipped_on_hold == 1


def test_a_released_hold_lets_the_next_run_erase_the_item(world):
    report_id, _ = world.decided_report("unfounded")
    hold = world.hold(HoldTarget.REPORT, report_id)
    world.at(START + POLICY.unfounded_reports + 5 * DAY)
    world.run()

    world.hold_service.release(REVIEWER, hold.hold_id)
    world.at(world.clock.now() + timedelta(hours=1))
    world.run()

    assert report_id not in world.reports.reports
    assert world.holds.holds == {}  # erasure forgets a hold once it has acted on its target


def test_a_hold_that_runs_out_lets_its_item_be_erased(world):
    match_id = world.match_event()
    world.hold(HoldTarget.MATCH_EVENT, match_id, days=120)

    world.at(START + POLICY.match_events + DAY)
    world.run()
    kept = match_id in world.events.events
    world.at(START + 120 * DAY + timedelta(hours=1))
    world.run()

    assert kept
    assert match_id not in world.events.events


def test_a_legal_hold_must_end_within_18_months(world):
    report_id, _ = world.stored_report()
    request = LegalHoldRequest(
        target_class=HoldTarget.REPORT,
        target_id=report_id,
        authority="Parquet de Paris",
        reference="PR-1",
        until=START + POLICY.legal_hold_max + DAY,
    )

    with pytest.raises(InvalidInput) as refused:
        world.hold_service.place(REVIEWER, request)

    assert refused.value.errors[0]["loc"] == ["body", "until"]


def test_a_legal_hold_naming_an_id_of_another_class_finds_no_such_target(world):
    request = LegalHoldRequest(
        target_class=HoldTarget.REPORT,
        target_id="mt_" + "1" * 24,
        authority="Parquet de Paris",
        reference="PR-1",
        until=START + DAY,
    )

    with pytest.raises(NotFound):
        world.hold_service.place(REVIEWER, request)


@pytest.mark.parametrize(
    ("target_class", "target_id"),
    [
        (HoldTarget.REPORT, "rp_" + "1" * 24),
        (HoldTarget.MATCH_EVENT, "mt_" + "1" * 24),
        (HoldTarget.INDICATOR, "ind_" + "1" * 22),
    ],
)
def test_a_legal_hold_on_a_target_that_does_not_exist_is_refused(world, target_class, target_id):
    request = LegalHoldRequest(
        target_class=target_class,
        target_id=target_id,
        authority="Parquet de Paris",
        reference="PR-1",
        until=START + DAY,
    )

    with pytest.raises(NotFound):
        world.hold_service.place(REVIEWER, request)

    assert world.hold_service.list_current() == []


def test_a_hold_cannot_be_released_twice(world):
    hold = world.hold(HoldTarget.MATCH_EVENT, world.match_event())
    world.hold_service.release(REVIEWER, hold.hold_id)

    with pytest.raises(Conflict):
        world.hold_service.release(REVIEWER, hold.hold_id)


def test_placing_and_releasing_a_hold_is_audited(world):
    hold = world.hold(HoldTarget.MATCH_EVENT, world.match_event())
    world.hold_service.release(REVIEWER, hold.hold_id)

    assert world.audit.actions()[-2:] == ["legal_hold.set", "legal_hold.released"]


# -- runs and receipts -------------------------------------------------------------------------


def test_each_run_writes_one_receipt_with_counts_and_period_but_no_ids(world):
    match_id = world.match_event()
    world.at(START + POLICY.match_events)

    outcome = world.run()

    (receipt,) = world.receipts()
    assert outcome.finished
    assert receipt["erased"] == {
        "match_events": 1,
        "reports": 0,
        "indicator_provenance": 0,
        "audit_entries": 0,
        "statistics": 0,
        "review_claims": 0,
        "information_requests": 0,
        "outbound_messages": 0,
    }
    assert receipt["period"] == {"from": "2027-03-10", "through": "2027-04-10"}
    assert match_id not in str(receipt)


def test_an_interrupted_run_resumes_and_writes_one_receipt(world):
    # Given more due items than one page
    for _ in range(60):
        world.match_event()
    world.at(START + POLICY.match_events)

    # When the first invocation runs out of time after two pages, and the next one resumes
    calls = iter([False, False, True])
    first = world.erasure.run(should_stop=lambda: next(calls, True))
    second = world.run()

    # Then one run, one receipt, every event counted once
    assert not first.finished
    assert second.finished
    assert second.run_id == first.run_id
    (receipt,) = world.receipts()
    assert receipt["erased"]["match_events"] == 60
    assert receipt["interruptions"] == 1
    assert world.events.events == {}


def test_a_run_that_dies_after_writing_its_receipt_does_not_write_another(world):
    world.match_event()
    world.at(START + POLICY.match_events)
    world.run()
    # As if the progress save after the receipt had failed:
    assert world.progress.progress is not None
    world.progress.progress = world.progress.progress.model_copy(update={"state": "receipt"})

    world.run()

    assert len(world.receipts()) == 1


def test_the_next_run_covers_the_days_from_where_the_last_one_ended(world):
    world.run()
    world.at(START + 3 * DAY)

    world.run()

    periods = [receipt["period"] for receipt in world.receipts()]
    assert periods[1] == {"from": "2027-01-10", "through": "2027-01-13"}


# -- decisions ---------------------------------------------------------------------------------


def test_a_decision_sets_when_the_report_is_erased(world):
    report_id, _ = world.stored_report()

    decided = world.review.decide(REVIEWER, report_id, DECISIONS["unfounded"])

    assert decided.erase_after == START + POLICY.unfounded_reports
    assert world.audit.actions()[-1] == "report.unfounded"


def test_a_report_is_decided_once(world):
    report_id, _ = world.decided_report("forwarded")

    with pytest.raises(Conflict):
        world.review.decide(REVIEWER, report_id, DECISIONS["unfounded"])


# -- the parts of a report with periods of their own -----------------------------------------


def test_a_lapsed_claim_is_erased_its_period_after_it_lapsed(world):
    report_id, _ = world.stored_report()
    claim = world.review.claim(REVIEWER, report_id)
    world.at(claim.until + POLICY.claims - DAY)
    world.run()
    assert world.reports.get(report_id).claim is not None

    world.at(claim.until + POLICY.claims)
    world.run()

    assert world.reports.get(report_id).claim is None
    assert erased(world, REVIEW_CLAIMS) == 1


def answered_then_forwarded(world: RetentionWorld) -> str:
    report_id, _ = world.stored_report()
    asked = world.review.request_information(
        REVIEWER, report_id, InformationRequestBody(question="Where is the uploader?")
    )
    world.answers.answer(
        PROVIDER, report_id, InformationAnswer(request_id=asked.request_id, answer="In Lyon.")
    )
    world.review.decide(REVIEWER, report_id, DECISIONS["forwarded"])
    return report_id


def test_information_request_texts_go_their_period_after_the_decision_and_the_times_stay(world):
    report_id = answered_then_forwarded(world)
    world.at(START + POLICY.information_requests)

    world.run()

    (request,) = world.reports.get(report_id).information_requests
    assert (request.question, request.answer) == (None, None)
    assert request.asked_at == START
    assert request.answered_at == START
    assert erased(world, INFORMATION_REQUESTS) == 1


def test_the_forwarded_copy_goes_its_period_after_forwarding_and_the_deliveries_stay(world):
    report_id, _ = world.decided_report("forwarded")
    world.at(START + POLICY.outbound_messages)

    world.run()

    outbound = world.reports.get(report_id).outbound
    assert outbound.message is None
    assert set(outbound.deliveries) == {"europol", "FR"}
    assert erased(world, OUTBOUND_MESSAGES) == 1


def test_a_hold_on_a_report_keeps_its_request_texts_and_forwarded_copy_until_released(world):
    report_id = answered_then_forwarded(world)
    hold = world.hold(HoldTarget.REPORT, report_id)
    world.at(START + POLICY.outbound_messages)
    world.run()
    assert world.reports.get(report_id).outbound.message is not None
    assert world.reports.get(report_id).information_requests[0].answer == "In Lyon."

    world.hold_service.release(REVIEWER, hold.hold_id)
    world.at(world.clock.now() + DAY)
    world.run()

    report = world.reports.get(report_id)
    assert report.outbound.message is None
    assert report.information_requests[0].answer is None


class Widgets:
    """A toy data class with a retention period: registering it is all erasure needs."""

    name = "widgets"
    hold_target = None

    def __init__(self, period: timedelta) -> None:
        self.period = period
        self.items: dict[str, datetime] = {}  # id -> due

    def add(self, item_id: str, made_at: datetime) -> None:
        self.items[item_id] = made_at + self.period

    def is_item_id(self, item_id: str) -> bool:
        return item_id.startswith("wg_")

    def exists(self, item_id: str) -> bool:
        return item_id in self.items

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        due = sorted(
            DueItem(item_id, at)
            for item_id, at in self.items.items()
            if due_day(at) == day and (after is None or item_id > after)
        )
        return due[:limit]

    def due_at(self, item_id: str) -> datetime | None:
        return self.items.get(item_id)

    def erase(self, item_id: str, cutoff: datetime) -> Counter[str]:
        due = self.items.get(item_id)
        if due is None or due > cutoff:
            return Counter()
        del self.items[item_id]
        return Counter({self.name: 1})


def test_a_data_class_registered_in_one_place_is_erased_on_its_due_day():
    # Given a toy data class registered with erasure, holding 30 items made now (more than a page)
    widgets = Widgets(period=timedelta(days=10))
    world = RetentionWorld(widgets)
    for number in range(30):
        widgets.add(f"wg_{number:03d}", START)

    # When erasure runs the day before they are due, then on their due day
    world.at(START + widgets.period - DAY)
    world.run()
    kept = len(widgets.items)
    world.at(START + widgets.period)
    world.run()

    # Then they survive the first run, all go in the second, and the receipts count them
    assert kept == 30
    assert widgets.items == {}
    assert [receipt["erased"]["widgets"] for receipt in world.receipts()] == [0, 30]

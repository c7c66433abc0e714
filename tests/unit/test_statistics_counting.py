"""Counting: every event source counts once where its event happens, whatever is retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hashmatch.clock import FixedClock
from hashmatch.errors import DependencyUnavailable
from hashmatch.indicators.builder import IndexBuilder
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.service import MatchItem, MatchService
from hashmatch.reports.intake import ReportIntake
from hashmatch.statistics.counting import (
    CitedIndicator,
    IndicatorEvent,
    Statistics,
)
from hashmatch.statistics.model import (
    Count,
    CountedEvent,
    DecisionOutcome,
    DeliveryOutcome,
    IndicatorChange,
    TallyStep,
    decision_hours_bucket,
)
from hashmatch.statistics.ports import TallyMoved
from tests.factories import CURATOR, a_filing, a_match_event, a_principal, pdq_hex, submission
from tests.fakes import (
    InMemoryAuditLog,
    InMemoryCounterStore,
    InMemoryIndicatorStore,
    InMemoryMatchEventStore,
    InMemoryReportStore,
    InMemorySnapshotStore,
    curation_service,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
PROVIDER = a_principal("a", databases=("known", "new"), hash_types=("pdq",))
ORG = PROVIDER.organisation_id


class World:
    def __init__(self) -> None:
        self.clock = FixedClock(NOW)
        self.counters = InMemoryCounterStore()
        self.statistics = Statistics(self.counters)
        self.indicators = InMemoryIndicatorStore()
        self.events = InMemoryMatchEventStore()
        self.reports = InMemoryReportStore()
        self.audit = InMemoryAuditLog(self.clock)
        self.curation = curation_service(self.indicators, self.clock, counters=self.counters)
        self.snapshots = InMemorySnapshotStore()
        self.matching = MatchService(
            Matcher(self.snapshots, self.indicators, self.clock),
            self.events,
            self.statistics,
            self.clock,
            event_retention=timedelta(days=90),
        )
        # The service fails closed without a snapshot: an empty index to start from.
        IndexBuilder(self.indicators, self.snapshots, self.clock).build()
        self.intake = ReportIntake(
            reports=self.reports,
            match_events=self.events,
            clock=self.clock,
            audit=self.audit,
            statistics=self.statistics,
        )

    def indicator(self, seed: int, **overrides: str) -> str:
        result = self.curation.add_batch(
            [submission(pdq_hex(seed), **overrides)], submitted_by=CURATOR
        )
        indicator = result.items[0].indicator
        assert indicator is not None
        return indicator.id

    def filing_citing(self, *indicator_ids: str):
        events = [a_match_event(PROVIDER, self.clock.now(), indicator_id=i) for i in indicator_ids]
        self.events.put_many(events)
        return a_filing(PROVIDER, self.clock.now(), tuple(e.match_id for e in events))


@pytest.fixture
def world() -> World:
    return World()


# -- match requests ------------------------------------------------------------------------------


def test_the_same_match_request_retried_is_counted_once(world):
    # Given an indicator in the index
    value = pdq_hex(1)
    world.indicator(1)
    IndexBuilder(world.indicators, world.snapshots, world.clock).build()
    items = [MatchItem("pdq", value, quality=100), MatchItem("pdq", pdq_hex(2), quality=100)]

    # When the same request (one Idempotency-Key) arrives three times, the last after midnight
    for _ in range(2):
        world.matching.match(PROVIDER, items, request_key="batch-7")
    world.clock.advance(timedelta(hours=13))
    answer = world.matching.match(PROVIDER, items, request_key="batch-7")

    # Then it is answered each time but counted once
    assert answer.items[0].matches
    assert world.counters.of("queries") == {
        (ORG, "pdq", "matched", "-"): 1,
        (ORG, "pdq", "no_match", "-"): 1,
    }
    assert world.counters.of("matches") == {(ORG, "known", "image", "pdq"): 1}


def test_requests_without_a_key_or_with_other_keys_are_each_counted(world):
    items = [MatchItem("pdq", pdq_hex(2), quality=100)]

    world.matching.match(PROVIDER, items)
    world.matching.match(PROVIDER, items)
    world.matching.match(PROVIDER, items, request_key="a")
    world.matching.match(PROVIDER, items, request_key="b")

    assert world.counters.of("queries") == {(ORG, "pdq", "no_match", "-"): 4}


def test_a_rejected_query_is_counted_with_its_reason(world):
    world.matching.match(
        PROVIDER, [MatchItem("pdq", "zz", quality=100), MatchItem("md5", "0" * 32)]
    )

    assert world.counters.of("queries") == {
        (ORG, "pdq", "rejected", "invalid-hash"): 1,
        (ORG, "md5", "rejected", "hash-type-not-allowed"): 1,
    }


# -- reports ---------------------------------------------------------------------------------------


def test_the_same_report_message_delivered_twice_is_counted_once(world):
    filing = world.filing_citing(world.indicator(1))

    world.intake.take_in(filing)
    world.intake.take_in(filing)

    assert world.counters.of("reports_received") == {(ORG, "normal", "image", "unknown"): 1}
    assert world.counters.of("repeat_reports") == {}


def test_a_count_lost_to_a_failure_is_made_by_the_redelivery(world):
    filing = world.filing_citing(world.indicator(1))
    world.counters.failing = True
    with pytest.raises(DependencyUnavailable):
        world.intake.take_in(filing)  # stored, but not counted: the message comes back

    world.counters.failing = False
    world.intake.take_in(filing)

    assert world.counters.of("reports_received") == {(ORG, "normal", "image", "unknown"): 1}


def test_a_report_citing_an_indicator_an_earlier_report_cited_is_a_repeat(world):
    # Given two indicators; one report cites the first, the next cites both
    first, second = world.indicator(1), world.indicator(2)
    world.intake.take_in(world.filing_citing(first))
    world.intake.take_in(world.filing_citing(first, second))
    world.intake.take_in(world.filing_citing(second))

    # Then the second and third reports are repeats, and the tallies say 2 reports each
    assert world.counters.of("repeat_reports") == {(ORG,): 2}
    assert world.counters.year_tallies(2026) == {first: 2, second: 2}


def test_a_report_in_a_new_year_starts_that_years_tallies(world):
    indicator = world.indicator(1)
    world.intake.take_in(world.filing_citing(indicator))
    world.clock.advance(timedelta(days=214))  # 2027-01-01

    world.intake.take_in(world.filing_citing(indicator))

    assert world.counters.of("repeat_reports") == {}
    assert world.counters.year_tallies(2027) == {indicator: 1}


def test_a_tally_moved_by_a_concurrent_report_is_read_again(world):
    class RacingStore(InMemoryCounterStore):
        """Another report cites the indicator just before this one is written, once."""

        raced = False

        def record(self, events):
            if not self.raced and any(e.tallies for e in events):
                self.raced = True
                super().record(
                    [CountedEvent("other", NOW.date(), {}, tallies={"ind_x": TallyStep(0, 1)})]
                )
            return super().record(events)

    store = RacingStore()
    statistics = Statistics(store)

    statistics.report_received(
        report_id="rp_1",
        filed_at=NOW,
        provider="P",
        urgent=False,
        content_type="image",
        suspected_member_state=None,
        cited=["ind_x"],
    )

    assert store.year_tallies(2026) == {"ind_x": 2}
    assert store.of("repeat_reports") == {("P",): 1}


def test_a_tally_that_keeps_moving_is_a_retryable_failure():
    class MovingStore(InMemoryCounterStore):
        def record(self, events):
            raise TallyMoved("moved")

    with pytest.raises(DependencyUnavailable):
        Statistics(MovingStore()).report_received(
            report_id="rp_1",
            filed_at=NOW,
            provider="P",
            urgent=True,
            content_type="image",
            suspected_member_state="DE",
            cited=["ind_x"],
        )


# -- indicators ------------------------------------------------------------------------------------


def test_indicator_changes_are_counted_with_the_active_total(world):
    # Given three indicators added (two known, one new), one suspended and reinstated,
    # one revoked while suspended, one revoked while active
    a, b, c = world.indicator(1), world.indicator(2), world.indicator(3, database="new")
    world.curation.suspend(a, reason="check", by=CURATOR)
    world.curation.reinstate(a, by=CURATOR)
    world.curation.suspend(b, reason="check", by=CURATOR)
    world.curation.revoke(b, reason="withdrawn", by=CURATOR)
    world.curation.revoke(c, reason="withdrawn", by=CURATOR)
    world.curation.revoke(c, reason="withdrawn", by=CURATOR)  # a retry: nothing new

    assert world.counters.of("indicator_changes") == {
        ("added", "known", "image", "DE"): 2,
        ("added", "new", "image", "DE"): 1,
        ("suspended", "known", "image", "DE"): 2,
        ("reinstated", "known", "image", "DE"): 1,
        ("revoked", "known", "image", "DE"): 1,
        ("revoked", "new", "image", "DE"): 1,
    }
    assert world.counters.totals("indicators_active_change") == {
        Count("indicators_active_change", ("known", "image")): 1,
        Count("indicators_active_change", ("new", "image")): 0,
    }


def test_an_import_run_again_counts_nothing_twice_and_repairs_a_lost_count(world):
    rows = [submission(pdq_hex(n)) for n in range(3)]
    world.counters.failing = True
    with pytest.raises(DependencyUnavailable):
        world.curation.add_batch(rows, submitted_by=CURATOR)  # created, not counted

    world.counters.failing = False
    world.curation.add_batch(rows, submitted_by=CURATOR)
    world.curation.add_batch(rows, submitted_by=CURATOR)

    assert world.counters.of("indicator_changes") == {("added", "known", "image", "DE"): 3}


def test_two_suspensions_of_one_indicator_are_two_events():
    event = IndicatorEvent("ind_1", IndicatorChange.SUSPENDED, NOW, "known", "image", "DE", -1)
    later = IndicatorEvent(
        "ind_1", IndicatorChange.SUSPENDED, NOW + timedelta(hours=1), "known", "image", "DE", -1
    )

    assert event.key != later.key


# -- decisions, review, forwarding, erasure ---------------------------------------------------


def test_an_unfounded_decision_counts_each_reason_and_each_false_match(world):
    statistics, counters = world.statistics, world.counters
    cited = [CitedIndicator("ind_a", "known"), CitedIndicator("ind_b", "new")]
    for _ in range(2):  # recorded twice: counted once
        statistics.decision_made(
            report_id="rp_1",
            decided_at=NOW,
            filed_at=NOW - timedelta(minutes=30),
            outcome=DecisionOutcome.UNFOUNDED,
            urgent=True,
            reasons=("not_a_match", "indicator_wrong"),
            false_matches=cited,
        )

    assert counters.of("decisions") == {("unfounded", "-"): 1}
    assert counters.of("unfounded_reasons") == {("not_a_match",): 1, ("indicator_wrong",): 1}
    assert counters.of("false_matches") == {("known", "ind_a"): 1, ("new", "ind_b"): 1}
    assert counters.of("time_to_decision") == {("unfounded", "urgent", "1"): 1}


def test_information_requests_and_deliveries_are_counted_once_each(world):
    statistics, counters = world.statistics, world.counters
    for _ in range(2):
        statistics.information_requested(request_id="iq_1", at=NOW, provider="P")
        statistics.forwarding_attempted(
            delivery_id="rp_1:europol", at=NOW, recipient="europol", outcome=DeliveryOutcome.FAILED
        )
        statistics.forwarding_attempted(
            delivery_id="rp_2:DE", at=NOW, recipient="DE", outcome=DeliveryOutcome.DELIVERED
        )

    assert counters.of("information_requests") == {("P",): 1}
    assert counters.of("forwarding") == {("europol", "failed"): 1, ("DE", "delivered"): 1}


def test_an_erasure_receipt_is_counted_per_data_class_once(world):
    for _ in range(2):
        world.statistics.erasure_receipted(
            run_id="er_1", at=NOW, erased={"reports": 2, "match_events": 0, "audit_entries": 7}
        )

    assert world.counters.of("erasures") == {("reports",): 2, ("audit_entries",): 7}


@pytest.mark.parametrize(
    ("hours", "bucket"), [(0.2, "1"), (1.0, "1"), (1.01, "4"), (700, "720"), (721, "more")]
)
def test_times_to_decision_fall_in_the_bucket_of_their_upper_bound(hours, bucket):
    assert decision_hours_bucket(hours) == bucket


def test_a_counter_takes_exactly_its_dimensions_values():
    with pytest.raises(ValueError, match="takes 4 values"):
        Count("queries", ("P", "pdq"))
    with pytest.raises(ValueError, match="unknown statistics dimension"):
        Count("people", ())

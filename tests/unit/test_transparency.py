"""The yearly transparency report: figures, suppression, changes, publication once, rendering."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from hashmatch.access.model import Organisation, OrganisationKind
from hashmatch.audit.model import AuditAction
from hashmatch.clock import FixedClock
from hashmatch.errors import Conflict, DependencyUnavailable, InvalidInput, NotFound
from hashmatch.index import DATABASES
from hashmatch.statistics.counting import QueryCount, Statistics
from hashmatch.statistics.model import QueryOutcome
from hashmatch.statistics.query import Period, StatisticsQuery, counts_csv
from hashmatch.transparency.error_rates import error_rates_in_force
from hashmatch.transparency.publication import TransparencyService, digest_of
from hashmatch.transparency.rendering import CSV_NAME, HTML_NAME, JSON_NAME
from hashmatch.transparency.suppression import suppressed
from tests.fakes import (
    InMemoryAuditLog,
    InMemoryCounterStore,
    InMemoryOrganisationStore,
    InMemoryPublicationRecords,
    InMemoryPublishedReports,
)

THRESHOLDS = {"pdq": 31, "phash": 8, "dhash": 8}
# Deployed per database: every database at the same thresholds.
DEPLOYED = {database: THRESHOLDS for database in DATABASES}


class World:
    def __init__(self) -> None:
        self.clock = FixedClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
        self.counters = InMemoryCounterStore()
        self.statistics = Statistics(self.counters)
        self.reports = InMemoryPublishedReports()
        self.records = InMemoryPublicationRecords()
        self.audit = InMemoryAuditLog(self.clock)
        self.organisations = InMemoryOrganisationStore()
        self.service = TransparencyService(
            counters=self.counters,
            reports=self.reports,
            records=self.records,
            audit=self.audit,
            clock=self.clock,
            match_thresholds=DEPLOYED,
            small_cell_threshold=5,
            organisations=self.organisations,
        )
        self._reports = 0

    def reports_received(self, provider: str, state: str | None, number: int) -> None:
        for _ in range(number):
            self._reports += 1
            self.statistics.report_received(
                report_id=f"rp_{self._reports}",
                filed_at=self.clock.now(),
                provider=provider,
                urgent=False,
                content_type="image",
                suspected_member_state=state,
                cited=[f"ind_{self._reports % 3}"],
            )

    def queries(self, number: int) -> None:
        self.statistics.queries_answered(
            request_key=f"q{self.clock.now().isoformat()}",
            day=self.clock.now().date(),
            provider="P",
            queries={QueryCount("pdq", QueryOutcome.NO_MATCH): number},
            matches={},
        )

    def next_year(self) -> None:
        self.clock.advance(timedelta(days=366))


@pytest.fixture
def world() -> World:
    return World()


def rows_of(report, figure_id):
    return {tuple(r.key.values()): r.count for r in report.figure(figure_id).rows}


# -- suppression --------------------------------------------------------------------------------


def test_a_small_count_is_hidden_and_so_is_what_would_reveal_it():
    # total 30 = 3 + 20 + 7: hiding 3 alone lets 30 - 20 - 7 give it back
    values = {"total": 30, "a": 3, "b": 20, "c": 7}

    hidden = suppressed(values, [("total", ["a", "b", "c"])], 5)

    assert hidden == {"a", "c"}


def test_zeros_are_shown_and_nothing_is_hidden_when_every_count_is_large():
    values = {"total": 15, "a": 0, "b": 15}

    assert suppressed(values, [("total", ["a", "b"])], 5) == set()


def test_secondary_suppression_follows_through_connected_sums():
    # a two-way table: rows p, q; columns x, y; margins published too
    values = {
        "p": 12, "q": 20, "x": 14, "y": 18, "all": 32,
        "px": 2, "py": 10, "qx": 12, "qy": 8,
    }  # fmt: skip
    sums = [
        ("all", ["p", "q"]),
        ("all", ["x", "y"]),
        ("p", ["px", "py"]),
        ("q", ["qx", "qy"]),
        ("x", ["px", "qx"]),
        ("y", ["py", "qy"]),
    ]

    hidden = suppressed(values, sums, 5)

    for total, parts in sums:  # no sum is left with exactly one unknown
        assert sum(1 for cell in [total, *parts] if cell in hidden) != 1
    assert "px" in hidden
    assert "all" not in hidden


# -- the report --------------------------------------------------------------------------------


def test_every_figure_is_counted_with_small_cells_shown_as_under_five(world):
    world.reports_received("Big Host", "DE", 12)
    world.reports_received("Big Host", "FR", 6)
    world.reports_received("Mid Host", "FR", 7)
    world.reports_received("Tiny Host", "DE", 2)
    world.queries(40)
    world.next_year()

    report = world.service.draft(2026)

    assert report.figure("reports_received").count == 27
    # Tiny Host's 2 is hidden, and Mid Host's 7 with it (else 27 - 18 - 7 gives it back)
    assert rows_of(report, "reports_received") == {
        ("Big Host",): 18,
        ("Mid Host",): "<5",
        ("Tiny Host",): "<5",
    }
    two_way = rows_of(report, "reports_by_provider_and_member_state")
    assert two_way[("Tiny Host", "DE")] == "<5"
    assert sum(1 for count in two_way.values() if count == "<5") >= 2
    assert report.figure("queries").count == 40
    assert report.figure("repeat_reports").count == 24  # 3 indicators, 27 reports
    assert rows_of(report, "reports_per_indicator") == {
        ("1",): 0,
        ("2",): 0,
        ("3-5",): 0,
        ("6-10",): "<5",  # 3 indicators, 9 reports each: a small count too
        ("more than 10",): 0,
    }
    assert report.suppression.threshold == 5
    assert '"<5"' in report.suppression.rule


def test_providers_counted_by_organisation_id_are_published_by_name(world):
    # Given reports counted under two organisations' ids, one of them since renamed away
    named = Organisation(
        organisation_id="org_" + "b" * 24,
        name="Example Hosting SA",
        kind=OrganisationKind.PROVIDER,
        created_at=world.clock.now(),
    )
    world.organisations.put_new(named)
    world.reports_received(named.organisation_id, "DE", 6)
    world.reports_received("org_" + "c" * 24, "DE", 7)
    world.next_year()

    report = world.service.draft(2026)

    # Then the known one is named, the unknown one keeps its id; the sums still hold
    assert rows_of(report, "reports_received") == {
        ("Example Hosting SA",): 6,
        ("org_" + "c" * 24,): 7,
    }
    assert (
        rows_of(report, "reports_by_provider_and_member_state")[("Example Hosting SA", "DE")] == 6
    )


def test_the_change_is_against_the_previous_years_published_report(world):
    world.queries(40)
    world.reports_received("Big Host", "DE", 10)
    world.next_year()  # 2027-03-02
    world.service.publish(2026)
    world.queries(50)
    world.reports_received("Big Host", "DE", 3)
    world.next_year()

    report = world.service.draft(2027)

    queries = report.figure("queries")
    assert (queries.count, queries.previous, queries.change, queries.change_percent) == (
        50,
        40,
        10,
        25.0,
    )
    received = report.figure("reports_received")
    assert (received.count, received.previous, received.change) == ("<5", 10, None)
    assert report.previous_year.published
    assert report.previous_year.digest == digest_of(world.reports.files[(2026, JSON_NAME)])


def test_without_a_published_previous_year_no_change_is_given(world):
    world.queries(40)
    world.next_year()

    report = world.service.draft(2026)

    assert report.figure("queries").previous is None
    assert report.figure("queries").change is None
    assert not report.previous_year.published


def test_the_time_to_decision_gives_the_median_and_90th_percentile_buckets(world):
    from hashmatch.statistics.model import DecisionOutcome

    for number, hours in enumerate([0.5, 2, 3, 10, 30, 30, 30, 30, 30, 200]):
        now = world.clock.now()
        world.statistics.decision_made(
            report_id=f"rp_{number}",
            decided_at=now,
            filed_at=now - timedelta(hours=hours),
            outcome=DecisionOutcome.FORWARDED,
            urgent=False,
        )
    world.next_year()

    histogram = world.service.draft(2026).time_to_decision

    assert histogram.count == 10
    assert (histogram.median_within_hours, histogram.p90_within_hours) == ("48", "48")
    assert {r.key["within_hours"]: r.count for r in histogram.rows}["48"] == 5


def test_the_error_rates_are_those_at_the_deployed_thresholds(world):
    world.next_year()

    rates = {r.hash_type: r for r in world.service.draft(2026).error_rates.hash_types}

    assert {name: r.threshold for name, r in rates.items()} == THRESHOLDS
    assert {name: r.databases for name, r in rates.items()}["pdq"] == sorted(DATABASES)
    assert len(rates["pdq"].recall_per_transformation) == 29
    assert rates["pdq"].pairs > 0


def test_databases_at_different_thresholds_publish_the_rates_of_each():
    deployed = {**DEPLOYED, "new": {**THRESHOLDS, "pdq": 24}}

    rates = error_rates_in_force(deployed)

    pdq = [(r.threshold, r.databases) for r in rates.hash_types if r.hash_type == "pdq"]
    others = sorted(set(DATABASES) - {"new"})
    assert pdq == [(24, ["new"]), (31, others)]
    recall = {r.threshold: r.recall for r in rates.hash_types if r.hash_type == "pdq"}
    assert recall[24] <= recall[31]  # a tighter threshold finds no more copies


# -- publication ---------------------------------------------------------------------------------


def test_a_year_is_published_once_with_its_digest_in_the_audit_log(world):
    world.queries(40)
    world.next_year()

    first = world.service.publish(2026)
    world.queries(5)  # counted later: the published report does not change
    again = world.service.publish(2026)

    body = world.reports.files[(2026, JSON_NAME)]
    assert first == again
    assert first.digest == digest_of(body)
    assert json.loads(body)["figures"][4]["count"] == 40
    entries = [e for e in world.audit.store.entries.values()]
    published = [e for e in entries if e.action == AuditAction.TRANSPARENCY_PUBLISHED]
    assert len(published) == 1
    assert published[0].details["sha256"] == first.digest
    assert {name for _, name in world.reports.files} == {JSON_NAME, CSV_NAME, HTML_NAME}


def test_a_publication_that_died_half_way_is_completed_with_the_same_bytes(world):
    world.queries(40)
    world.next_year()
    world.reports.failing_on = HTML_NAME
    with pytest.raises(DependencyUnavailable):
        world.service.publish(2026)
    json_before = world.reports.files[(2026, JSON_NAME)]

    world.reports.failing_on = None
    world.clock.advance(timedelta(hours=3))
    world.service.publish(2026)

    assert world.reports.files[(2026, JSON_NAME)] == json_before
    published = [e for e in world.audit.actions() if e == AuditAction.TRANSPARENCY_PUBLISHED]
    assert len(published) == 1


def test_the_report_names_the_audit_head_before_its_own_entry(world):
    world.audit.record("x", actor="a", role="r")
    world.next_year()

    world.service.publish(2026)

    report = world.service.published_report(2026)
    assert report.audit_head is not None
    assert report.audit_head.seq == 1
    assert report.audit_head.digest == world.audit.store.entries[1].digest
    assert report.status == "published"


def test_a_year_that_has_not_ended_can_be_drafted_but_not_published(world):
    with pytest.raises(Conflict, match="has not ended"):
        world.service.publish(2026)

    assert world.service.draft(2026).status == "draft"
    with pytest.raises(InvalidInput):
        world.service.draft(2031)


def test_an_unpublished_year_is_not_found(world):
    with pytest.raises(NotFound):
        world.service.published_file(2025, JSON_NAME)


def test_the_schedule_publishes_last_year_once_from_the_second_of_january(world):
    world.queries(3)  # 1 March 2026
    world.clock.advance(datetime(2027, 1, 1, 23, tzinfo=UTC) - world.clock.now())

    assert world.service.publish_due() is None  # 1 January: not yet
    world.clock.advance(timedelta(hours=2))
    published = world.service.publish_due()
    assert published is not None
    assert published.year == 2026
    assert world.service.publish_due() is None


def test_the_schedule_leaves_a_year_it_counted_nothing_in_to_an_explicit_publication(world):
    world.clock.advance(datetime(2027, 1, 2, 7, tzinfo=UTC) - world.clock.now())

    assert world.service.publish_due() is None
    assert world.service.publish(2026).year == 2026


# -- rendering ------------------------------------------------------------------------------------


def test_the_page_is_self_contained_and_escapes_every_name(world):
    world.reports_received('<script>alert(1)</script> "Host"', "DE", 6)
    world.next_year()
    world.service.publish(2026)

    page = world.reports.files[(2026, HTML_NAME)].decode()

    assert "<script" not in page.lower()
    assert not re.search(r"<(img|link|iframe|object|embed)\b", page, re.IGNORECASE)
    assert not re.search(r"(src|href)\s*=", page, re.IGNORECASE)
    assert "url(" not in page
    assert "@font-face" not in page
    assert "&lt;script&gt;" in page
    charts = re.findall(r'<svg class="chart" data-chart="([^"]+)"', page)
    assert "reports_received" in charts
    assert "recall_pdq" in charts


def test_csv_cells_cannot_run_as_spreadsheet_formulas(world):
    world.reports_received("=HYPERLINK(1)", "DE", 6)
    world.next_year()
    counts = StatisticsQuery(world.counters, world.clock).counts(
        Period.of_year(2026), ["reports_received"]
    )

    rows = list(csv.reader(io.StringIO(counts_csv(counts))))

    assert rows[0] == [
        "from", "to", "dimension", "provider", "urgency", "content_type",
        "suspected_member_state", "count",
    ]  # fmt: skip
    assert rows[1][3] == "'=HYPERLINK(1)"
    assert rows[1][-1] == "6"


def test_the_active_count_at_a_days_end_is_todays_total_less_later_changes(world):
    from hashmatch.statistics.counting import IndicatorEvent
    from hashmatch.statistics.model import IndicatorChange

    def change(day: int, kind: IndicatorChange, delta: int, indicator: str) -> IndicatorEvent:
        at = datetime(2026, 1, day, tzinfo=UTC)
        return IndicatorEvent(indicator, kind, at, "known", "image", "DE", delta)

    world.statistics.indicators_changed(
        [
            change(1, IndicatorChange.ADDED, 1, "a"),
            change(1, IndicatorChange.ADDED, 1, "b"),
            change(5, IndicatorChange.ADDED, 1, "c"),
            change(9, IndicatorChange.REVOKED, -1, "a"),
        ]
    )
    query = StatisticsQuery(world.counters, world.clock)  # today: 1 March

    def active(day: int) -> dict[tuple[str, ...], int]:
        counts = query.active_at_end_of(datetime(2026, 1, day, tzinfo=UTC).date())
        return {count.values: number for count, number in counts.items()}

    assert active(1) == {("known", "image"): 2}
    assert active(5) == {("known", "image"): 3}
    assert active(9) == {("known", "image"): 2}

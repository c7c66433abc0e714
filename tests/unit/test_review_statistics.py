"""Review steps counted: decisions (four eyes at the confirmation), reasons and the false matches
they imply, information requests, deliveries and final failures; proposals count nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hashmatch.reports.model import Step
from hashmatch.reports.review_events import ReviewEvent
from hashmatch.reports.review_records import UnfoundedReason
from hashmatch.reports.review_statistics import CountedReviewEvents
from hashmatch.statistics.counting import Statistics
from tests.factories import a_match_event, a_principal
from tests.fakes import InMemoryCounterStore, InMemoryMatchEventStore

FILED = datetime(2026, 5, 4, 8, tzinfo=UTC)
PROVIDER = a_principal("a")


@pytest.fixture
def counted() -> tuple[CountedReviewEvents, InMemoryCounterStore, InMemoryMatchEventStore]:
    counters, events = InMemoryCounterStore(), InMemoryMatchEventStore()
    statistics = Statistics(counters)
    listener = CountedReviewEvents(statistics=lambda: statistics, match_events=lambda: events)
    return listener, counters, events


def step(what: Step, hours: float = 5, **changes) -> ReviewEvent:
    values = {
        "step": what,
        "at": FILED + timedelta(hours=hours),
        "report_id": "rp_" + "1" * 24,
        "urgent": False,
        "databases": ("known",),
        "provider": PROVIDER.owner,
        "filed_at": FILED,
        **changes,
    }
    return ReviewEvent(**values)


def test_a_forwarding_counts_once_with_its_member_state_and_time(counted):
    listener, counters, _ = counted

    for _ in range(2):  # announced again (a redelivered message): counted once
        listener.publish(step(Step.FORWARDED, member_state="DE"))

    assert counters.of("decisions") == {("forwarded", "DE"): 1}
    assert counters.of("time_to_decision") == {("forwarded", "normal", "12"): 1}


def test_a_proposal_counts_nothing_and_europol_only_is_named(counted):
    listener, counters, _ = counted

    listener.publish(step(Step.FORWARD_PROPOSED, member_state="DE"))
    listener.publish(step(Step.FORWARDED, hours=30, member_state=None))

    assert counters.of("decisions") == {("forwarded", "europol_only"): 1}
    assert counters.of("time_to_decision") == {("forwarded", "normal", "48"): 1}


def test_an_unfounded_decision_counts_reasons_and_false_matches_of_its_indicators(counted):
    listener, counters, events = counted
    cited = [a_match_event(PROVIDER, FILED, indicator_id=f"ind_{n:022d}") for n in range(2)]
    events.put_many(cited)

    listener.publish(
        step(
            Step.DECIDED_UNFOUNDED,
            reasons=(UnfoundedReason.NOT_A_MATCH, UnfoundedReason.OUTSIDE_SCOPE),
            match_ids=tuple(e.match_id for e in cited),
        )
    )

    assert counters.of("decisions") == {("unfounded", "-"): 1}
    assert counters.of("unfounded_reasons") == {("not_a_match",): 1, ("outside_scope",): 1}
    assert counters.of("false_matches") == {
        ("known", "ind_" + "0" * 22): 1,
        ("known", "ind_" + "0" * 21 + "1"): 1,
    }


def test_a_reason_that_blames_no_indicator_counts_no_false_match(counted):
    listener, counters, events = counted
    cited = a_match_event(PROVIDER, FILED)
    events.put_many([cited])

    listener.publish(
        step(
            Step.DECIDED_UNFOUNDED,
            reasons=(UnfoundedReason.OUTSIDE_SCOPE,),
            match_ids=(cited.match_id,),
        )
    )

    assert counters.of("false_matches") == {}


def test_information_requests_deliveries_and_final_failures_are_counted(counted):
    listener, counters, _ = counted

    listener.publish(step(Step.INFORMATION_REQUESTED))
    listener.publish(step(Step.INFORMATION_PROVIDED))
    for recipient in ("europol", "DE"):
        listener.publish(step(Step.DELIVERY_FAILED, recipient=recipient, filed_at=None))
        listener.publish(step(Step.DELIVERED, recipient=recipient, filed_at=None))
    listener.publish(step(Step.DELIVERED, recipient="DE", filed_at=None))  # again: once
    listener.publish(step(Step.DELIVERY_ABANDONED, recipient="FR", filed_at=None))

    assert counters.of("information_requests") == {("Example Hosting SA",): 1}
    assert counters.of("forwarding") == {
        ("europol", "delivered"): 1,
        ("DE", "delivered"): 1,
        ("FR", "failed"): 1,
    }

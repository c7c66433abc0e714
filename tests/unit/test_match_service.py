"""Provider matching: per-item outcomes, match events only for matches, counters, rejections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hashmatch.access.model import Principal, Role
from hashmatch.clock import FixedClock
from hashmatch.errors import DependencyUnavailable
from hashmatch.indicators.builder import IndexBuilder
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.service import MatchItem, MatchService
from hashmatch.statistics.counting import Statistics
from tests.factories import CURATOR, flip_bits, pdq_hex, submission
from tests.fakes import (
    InMemoryCounterStore,
    InMemoryIndicatorStore,
    InMemoryMatchEventStore,
    InMemorySnapshotStore,
    curation_service,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
RETENTION = timedelta(days=90)
PROVIDER = Principal(
    client_id="cl_" + "p" * 24,
    role=Role.PROVIDER,
    owner="Example Hosting SA",
    databases=("known",),
    hash_types=("pdq", "md5"),
)
KNOWN = pdq_hex(1)


class World:
    known_id: str

    def __init__(self) -> None:
        self.clock = FixedClock(NOW)
        self.indicators = InMemoryIndicatorStore()
        self.snapshots = InMemorySnapshotStore()
        self.events = InMemoryMatchEventStore()
        self.counters = InMemoryCounterStore()
        self.curation = curation_service(self.indicators, self.clock)
        self.builder = IndexBuilder(self.indicators, self.snapshots, self.clock)
        matcher = Matcher(self.snapshots, self.indicators, self.clock)
        self.service = MatchService(
            matcher, self.events, Statistics(self.counters), self.clock, event_retention=RETENTION
        )

    def add(self, value: str, **overrides: str) -> str:
        result = self.curation.add_batch([submission(value, **overrides)], submitted_by=CURATOR)
        indicator = result.items[0].indicator
        assert indicator is not None
        return indicator.id


@pytest.fixture
def world() -> World:
    world = World()
    world.known_id = world.add(KNOWN)
    world.add(pdq_hex(2), database="new")
    world.builder.build()
    return world


def test_a_near_copy_matches_with_a_stored_match_event(world):
    result = world.service.match(PROVIDER, [MatchItem("pdq", flip_bits(KNOWN, 5), ref="a")])

    (item,) = result.items
    (match,) = item.matches
    assert (match.database, match.distance, match.threshold) == ("known", 5, 31)
    assert item.ref == "a"
    event = world.events.events[match.match_id]
    assert event.provider == "Example Hosting SA"
    assert event.expires_at == NOW + RETENTION
    assert event.index_version == result.index_version


def test_a_query_without_a_match_leaves_no_event_only_a_counter(world):
    result = world.service.match(PROVIDER, [MatchItem("pdq", pdq_hex(99), ref="x")])

    assert result.items[0].matches == []
    assert world.events.events == {}
    assert world.counters.of("queries") == {("Example Hosting SA", "pdq", "no_match", "-"): 1}
    assert world.counters.of("matches") == {}


def test_an_indicator_in_a_database_the_client_may_not_use_does_not_match(world):
    result = world.service.match(PROVIDER, [MatchItem("pdq", pdq_hex(2))])

    assert result.items[0].matches == []


@pytest.mark.parametrize(
    ("item", "code"),
    [
        (MatchItem("phash", "0" * 16), "hash-type-not-allowed"),
        (MatchItem("pdq", KNOWN, quality=49), "quality-too-low"),
        (MatchItem("pdq", KNOWN[:-1]), "invalid-hash"),
        (MatchItem("nope", "abc"), "unknown-hash-type"),
    ],
)
def test_bad_items_are_rejected_one_by_one_and_the_others_still_match(world, item, code):
    result = world.service.match(PROVIDER, [item, MatchItem("pdq", KNOWN, quality=50)])

    rejected, good = result.items
    assert rejected.rejection is not None
    assert rejected.rejection.code == code
    assert rejected.matches == []
    assert len(good.matches) == 1


def test_made_up_type_names_are_counted_as_unknown(world):
    world.service.match(PROVIDER, [MatchItem("<script>", "x")])

    assert world.counters.of("queries") == {
        ("Example Hosting SA", "unknown", "rejected", "unknown-hash-type"): 1
    }


def test_a_revoked_indicator_stops_matching_before_the_next_build(world):
    world.curation.revoke(world.known_id, reason="assessment withdrawn", by=CURATOR)

    result = world.service.match(PROVIDER, [MatchItem("pdq", KNOWN)])

    assert result.items[0].matches == []


def test_when_events_cannot_be_stored_no_match_is_answered(world, monkeypatch):
    def refuse(events):
        raise DependencyUnavailable("table down")

    monkeypatch.setattr(world.events, "put_many", refuse)

    with pytest.raises(DependencyUnavailable):
        world.service.match(PROVIDER, [MatchItem("pdq", KNOWN)])


def test_each_match_gets_its_own_id(world):
    result = world.service.match(PROVIDER, [MatchItem("pdq", KNOWN), MatchItem("pdq", KNOWN)])

    ids = [item.matches[0].match_id for item in result.items]
    assert len(set(ids)) == 2
    assert set(ids) == set(world.events.events)


# --- alternates (rotations/flips, trimmed borders hashed by the client) ---------------------


def test_an_item_matches_by_an_alternate_when_its_value_is_far(world):
    # Given an item whose value is unrelated but whose second alternate is a near copy
    item = MatchItem("pdq", pdq_hex(99), alternates=(pdq_hex(98), flip_bits(KNOWN, 4)))

    # When matched
    result = world.service.match(PROVIDER, [item])

    # Then it matches the known indicator through the alternate
    (match,) = result.items[0].matches
    assert (match.database, match.distance, match.via) == ("known", 4, "alternate")
    event = world.events.events[match.match_id]
    assert (event.distance, event.via) == (4, "alternate")


def test_an_indicator_reached_several_ways_is_answered_once_at_the_smallest_distance(world):
    # Given a value and two alternates all within the threshold of the same indicator
    item = MatchItem(
        "pdq", flip_bits(KNOWN, 10), alternates=(flip_bits(KNOWN, 6), flip_bits(KNOWN, 3))
    )

    # When matched
    result = world.service.match(PROVIDER, [item])

    # Then one match, at the minimum distance, via an alternate, and one event
    (match,) = result.items[0].matches
    assert (match.distance, match.via) == (3, "alternate")
    assert list(world.events.events) == [match.match_id]


def test_a_tie_between_value_and_alternate_is_reported_via_the_value(world):
    result = world.service.match(
        PROVIDER, [MatchItem("pdq", flip_bits(KNOWN, 2), alternates=(flip_bits(KNOWN, 2),))]
    )

    (match,) = result.items[0].matches
    assert (match.distance, match.via) == (2, "value")


def test_a_malformed_alternate_rejects_the_item_like_a_malformed_value(world):
    # Given an item with a good value and a truncated alternate, beside a good item
    bad = MatchItem("pdq", KNOWN, alternates=(flip_bits(KNOWN, 1), KNOWN[:-1]))

    # When matched
    result = world.service.match(PROVIDER, [bad, MatchItem("pdq", KNOWN)])

    # Then only the bad item is rejected, naming the alternate; nothing of it is stored
    rejected, good = result.items
    assert rejected.rejection is not None
    assert rejected.rejection.code == "invalid-hash"
    assert "alternates[1]" in rejected.rejection.detail
    assert rejected.matches == []
    assert len(good.matches) == 1
    assert len(world.events.events) == 1


def test_an_item_with_alternates_is_counted_once(world):
    # Given a matching item with 7 alternates and a non-matching item with 8
    matched = MatchItem("pdq", KNOWN, alternates=tuple(pdq_hex(200 + n) for n in range(7)))
    unmatched = MatchItem("pdq", pdq_hex(99), alternates=tuple(pdq_hex(300 + n) for n in range(8)))

    # When matched
    world.service.match(PROVIDER, [matched, unmatched])

    # Then the counters hold one query of each outcome
    assert world.counters.of("queries") == {
        ("Example Hosting SA", "pdq", "matched", "-"): 1,
        ("Example Hosting SA", "pdq", "no_match", "-"): 1,
    }
    assert world.counters.of("matches") == {("Example Hosting SA", "known", "image", "pdq"): 1}

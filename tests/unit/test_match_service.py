"""Provider matching: per-item outcomes, match events only for matches, counters, rejections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hashmatch.access.model import Principal, Role
from hashmatch.clock import FixedClock
from hashmatch.errors import DependencyUnavailable, HashmatchError
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
    organisation_id="org_" + "p" * 24,
    owner="Example Hosting SA",
    databases=("known",),
    hash_types=("pdq", "md5"),
)
KNOWN = pdq_hex(1)


def pdq(value: str, *, quality: int | None = 90, **fields: Any) -> MatchItem:
    """A PDQ item as the client sends it: with its quality."""
    return MatchItem("pdq", value, quality=quality, **fields)


class World:
    known_id: str

    def __init__(
        self,
        thresholds: dict[str, dict[str, int]] | None = None,
        *,
        quality_required: bool = True,
    ) -> None:
        self.clock = FixedClock(NOW)
        self.indicators = InMemoryIndicatorStore()
        self.snapshots = InMemorySnapshotStore()
        self.events = InMemoryMatchEventStore()
        self.counters = InMemoryCounterStore()
        self.curation = curation_service(self.indicators, self.clock)
        self.builder = IndexBuilder(self.indicators, self.snapshots, self.clock)
        matcher = Matcher(self.snapshots, self.indicators, self.clock)
        self.service = MatchService(
            matcher,
            self.events,
            Statistics(self.counters),
            self.clock,
            event_retention=RETENTION,
            thresholds=thresholds,
            quality_required=quality_required,
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
    result = world.service.match(PROVIDER, [pdq(flip_bits(KNOWN, 5), ref="a")])

    (item,) = result.items
    (match,) = item.matches
    assert (match.database, match.distance, match.threshold) == ("known", 5, 31)
    assert item.ref == "a"
    event = world.events.events[match.match_id]
    assert event.provider == PROVIDER.organisation_id
    assert event.expires_at == NOW + RETENTION
    assert event.index_version == result.index_version


def test_a_query_without_a_match_leaves_no_event_only_a_counter(world):
    result = world.service.match(PROVIDER, [pdq(pdq_hex(99), ref="x")])

    assert result.items[0].matches == []
    assert world.events.events == {}
    assert world.counters.of("queries") == {(PROVIDER.organisation_id, "pdq", "no_match", "-"): 1}
    assert world.counters.of("matches") == {}


def test_the_provider_is_told_the_thresholds_of_its_databases_only(world):
    # The negative pseudo-database is searched beside them but is no database of the provider's
    no_match, near = world.service.match(PROVIDER, [pdq(pdq_hex(99)), pdq(KNOWN)]).items

    assert set(no_match.thresholds) == set(near.thresholds) == set(PROVIDER.databases)
    assert set(no_match.agreements) <= set(PROVIDER.databases)


def test_an_indicator_in_a_database_the_client_may_not_use_does_not_match(world):
    result = world.service.match(PROVIDER, [pdq(pdq_hex(2))])

    assert result.items[0].matches == []


@pytest.mark.parametrize(
    ("item", "code"),
    [
        (MatchItem("phash", "0" * 16), "hash-type-not-allowed"),
        (pdq(KNOWN, quality=49), "quality-too-low"),
        (pdq(KNOWN[:-1]), "invalid-hash"),
        (MatchItem("nope", "abc"), "unknown-hash-type"),
    ],
)
def test_bad_items_are_rejected_one_by_one_and_the_others_still_match(world, item, code):
    result = world.service.match(PROVIDER, [item, pdq(KNOWN, quality=50)])

    rejected, good = result.items
    assert rejected.rejection is not None
    assert rejected.rejection.code == code
    assert rejected.matches == []
    assert len(good.matches) == 1


def test_made_up_type_names_are_counted_as_unknown(world):
    world.service.match(PROVIDER, [MatchItem("<script>", "x")])

    assert world.counters.of("queries") == {
        (PROVIDER.organisation_id, "unknown", "rejected", "unknown-hash-type"): 1
    }


def test_a_revoked_indicator_stops_matching_before_the_next_build(world):
    world.curation.revoke(world.known_id, reason="assessment withdrawn", by=CURATOR)

    result = world.service.match(PROVIDER, [pdq(KNOWN)])

    assert result.items[0].matches == []


def test_when_events_cannot_be_stored_no_match_is_answered(world, monkeypatch):
    def refuse(events):
        raise DependencyUnavailable("table down")

    monkeypatch.setattr(world.events, "put_many", refuse)

    with pytest.raises(DependencyUnavailable):
        world.service.match(PROVIDER, [pdq(KNOWN)])


def test_a_request_whose_counting_fails_leaves_no_event_and_its_retry_counts_once(world):
    # Given the counters refuse once
    world.counters.failing = True
    items = [pdq(KNOWN), pdq(pdq_hex(9))]

    # When the request fails, and the provider retries it (the same Idempotency-Key)
    with pytest.raises(DependencyUnavailable):
        world.service.match(PROVIDER, items, request_key="batch-1")
    stored_by_the_failure = dict(world.events.events)
    world.counters.failing = False
    retried = world.service.match(PROVIDER, items, request_key="batch-1")

    # Then the failed attempt left no event, and the retry stored and counted each query once
    assert stored_by_the_failure == {}
    assert set(world.events.events) == {retried.items[0].matches[0].match_id}
    assert world.counters.of("queries") == {
        (PROVIDER.organisation_id, "pdq", "matched", "-"): 1,
        (PROVIDER.organisation_id, "pdq", "no_match", "-"): 1,
    }


def test_each_match_gets_its_own_id(world):
    result = world.service.match(PROVIDER, [pdq(KNOWN), pdq(KNOWN)])

    ids = [item.matches[0].match_id for item in result.items]
    assert len(set(ids)) == 2
    assert set(ids) == set(world.events.events)


# --- alternates (rotations/flips, trimmed borders hashed by the client) ---------------------


def test_an_item_matches_by_an_alternate_when_its_value_is_far(world):
    # Given an item whose value is unrelated but whose second alternate is a near copy
    item = pdq(pdq_hex(99), alternates=(pdq_hex(98), flip_bits(KNOWN, 4)))

    # When matched
    result = world.service.match(PROVIDER, [item])

    # Then it matches the known indicator through the alternate
    (match,) = result.items[0].matches
    assert (match.database, match.distance, match.via) == ("known", 4, "alternate")
    event = world.events.events[match.match_id]
    assert (event.distance, event.via) == (4, "alternate")


def test_an_indicator_reached_several_ways_is_answered_once_at_the_smallest_distance(world):
    # Given a value and two alternates all within the threshold of the same indicator
    item = pdq(flip_bits(KNOWN, 10), alternates=(flip_bits(KNOWN, 6), flip_bits(KNOWN, 3)))

    # When matched
    result = world.service.match(PROVIDER, [item])

    # Then one match, at the minimum distance, via an alternate, and one event
    (match,) = result.items[0].matches
    assert (match.distance, match.via) == (3, "alternate")
    assert list(world.events.events) == [match.match_id]


def test_a_tie_between_value_and_alternate_is_reported_via_the_value(world):
    result = world.service.match(
        PROVIDER, [pdq(flip_bits(KNOWN, 2), alternates=(flip_bits(KNOWN, 2),))]
    )

    (match,) = result.items[0].matches
    assert (match.distance, match.via) == (2, "value")


def test_a_malformed_alternate_rejects_the_item_like_a_malformed_value(world):
    # Given an item with a good value and a truncated alternate, beside a good item
    bad = pdq(KNOWN, alternates=(flip_bits(KNOWN, 1), KNOWN[:-1]))

    # When matched
    result = world.service.match(PROVIDER, [bad, pdq(KNOWN)])

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
    matched = pdq(KNOWN, alternates=tuple(pdq_hex(200 + n) for n in range(7)))
    unmatched = pdq(pdq_hex(99), alternates=tuple(pdq_hex(300 + n) for n in range(8)))

    # When matched
    world.service.match(PROVIDER, [matched, unmatched])

    # Then the counters hold one query of each outcome
    org = PROVIDER.organisation_id
    assert world.counters.of("queries") == {
        (org, "pdq", "matched", "-"): 1,
        (org, "pdq", "no_match", "-"): 1,
    }
    assert world.counters.of("matches") == {(org, "known", "image", "pdq"): 1}


# -- thresholds per database and hash type (issue 11, item 10) ---------------------------------

BOTH = PROVIDER.model_copy(update={"databases": ("known", "new")})


def test_each_database_applies_its_own_threshold_and_each_match_says_which():
    world = World(thresholds={"known": {"pdq": 4}, "new": {"pdq": 31}})
    world.add(KNOWN)
    world.add(KNOWN, database="new")
    world.builder.build()

    (item,) = world.service.match(BOTH, [pdq(flip_bits(KNOWN, 5))]).items

    assert [(m.database, m.distance, m.threshold) for m in item.matches] == [("new", 5, 31)]
    assert item.thresholds == {"known": 4, "new": 31}


def test_within_each_databases_threshold_both_match_with_their_own_threshold_echoed():
    world = World(thresholds={"known": {"pdq": 6}, "new": {"pdq": 31}})
    world.add(KNOWN)
    world.add(KNOWN, database="new")
    world.builder.build()

    (item,) = world.service.match(BOTH, [pdq(flip_bits(KNOWN, 5))]).items

    assert sorted((m.database, m.threshold) for m in item.matches) == [("known", 6), ("new", 31)]
    events = [world.events.events[m.match_id] for m in item.matches]
    assert sorted((e.database, e.threshold) for e in events) == [("known", 6), ("new", 31)]


@pytest.mark.parametrize(
    "thresholds",
    [
        {"known": {"pdq": 64}},
        {"known": {"phash": 17}},
        {"elsewhere": {"pdq": 31}},
        {"known": {"x": 1}},
    ],
)
def test_a_threshold_over_its_types_maximum_or_of_an_unknown_name_is_refused_at_start(thresholds):
    with pytest.raises(HashmatchError):
        World(thresholds=thresholds)


def test_out_of_scope_indicators_near_the_query_do_not_hide_one_in_scope():
    world = World()
    for bit in range(1, 201, 2):  # 100 distinct hashes at distance 1, out of scope
        world.add(f"{int(KNOWN, 16) ^ (1 << bit):064x}", database="new")
    in_scope = world.add(flip_bits(KNOWN, 10))
    world.builder.build()

    (item,) = world.service.match(PROVIDER, [pdq(KNOWN)]).items

    assert [m.distance for m in item.matches] == [10]
    assert world.events.events[item.matches[0].match_id].indicator_id == in_scope
    assert item.truncated is False


# -- the PDQ quality gate cannot be skipped (issue 11, item 11) ----------------------------------


def test_a_pdq_item_without_a_quality_is_rejected_and_the_others_still_match(world):
    result = world.service.match(PROVIDER, [pdq(KNOWN, quality=None), pdq(KNOWN)])

    missing, matched = result.items
    assert missing.rejection is not None
    assert missing.rejection.code == "quality-missing"
    assert missing.matches == []
    assert matched.matches


def test_a_relaxed_deployment_matches_a_pdq_item_without_a_quality():
    world = World(quality_required=False)
    world.add(KNOWN)
    world.builder.build()

    (item,) = world.service.match(PROVIDER, [pdq(KNOWN, quality=None)]).items

    assert item.rejection is None
    assert item.matches


def test_a_type_without_a_quality_score_needs_none(world):
    (item,) = world.service.match(PROVIDER, [MatchItem("md5", "0" * 32)]).items

    assert item.rejection is None

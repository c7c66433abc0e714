"""build_index folding the change feed into snapshots, and the matcher reading them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from hashmatch.clock import FixedClock
from hashmatch.errors import Conflict, DependencyUnavailable, IndexUnavailable
from hashmatch.index import Snapshot
from hashmatch.indicators.builder import IndexBuilder
from hashmatch.indicators.ports import SnapshotStream
from hashmatch.indicators.service import IndicatorService
from hashmatch.matching.matcher import INDEX_RETRY_AFTER_SECONDS, HashQuery, Matcher
from hashmatch.observability import MetricName, metrics
from tests.factories import CURATOR, flip_bits, pdq_hex, submission
from tests.fakes import InMemoryIndicatorStore, InMemorySnapshotStore, curation_service

START = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_metrics_left_over():
    """Powertools keeps metrics process-wide until a handler flushes them: start each test empty."""
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def store() -> InMemoryIndicatorStore:
    return InMemoryIndicatorStore()


@pytest.fixture
def snapshots() -> InMemorySnapshotStore:
    return InMemorySnapshotStore()


@pytest.fixture
def service(store, clock) -> IndicatorService:
    return curation_service(store, clock)


@pytest.fixture
def builder(store, snapshots, clock) -> IndexBuilder:
    return IndexBuilder(store, snapshots, clock, overlap=timedelta(minutes=5))


@pytest.fixture
def matcher(store, snapshots, clock) -> Matcher:
    return Matcher(snapshots, store, clock, refresh_interval=timedelta(seconds=30))


def add(service: IndicatorService, value: str, **overrides) -> str:
    result = service.add_batch([submission(value, **overrides)], submitted_by=CURATOR)
    indicator = result.items[0].indicator
    assert indicator is not None
    return indicator.id


def snapshot_ids(snapshots: InMemorySnapshotStore) -> set[str]:
    assert snapshots.stored is not None
    snapshot = Snapshot.from_bytes(snapshots.stored.data)
    return {i.decode() for table in snapshot.tables.values() for i in table.ids.tolist()}


def test_the_first_build_writes_every_active_indicator(service, builder, snapshots, clock):
    ids = {add(service, pdq_hex(i)) for i in range(3)}
    clock.advance(timedelta(seconds=1))

    outcome = builder.build()

    assert (outcome.written, outcome.version) == (True, 1)
    assert snapshot_ids(snapshots) == ids


def test_a_build_with_nothing_new_writes_nothing(service, builder, snapshots, clock):
    add(service, pdq_hex(1))
    builder.build()
    clock.advance(timedelta(minutes=1))

    outcome = builder.build()

    assert not outcome.written
    assert snapshots.writes == 1


def test_a_build_folds_additions_and_removals_since_the_last(service, builder, snapshots, clock):
    kept = add(service, pdq_hex(1))
    revoked = add(service, pdq_hex(2))
    builder.build()
    clock.advance(timedelta(minutes=1))
    service.revoke(revoked, reason="r", by=CURATOR)
    added = add(service, pdq_hex(3))
    clock.advance(timedelta(minutes=1))

    outcome = builder.build()

    assert (outcome.version, outcome.folded) == (2, 2)
    assert snapshot_ids(snapshots) == {kept, added}


def test_an_entry_visible_late_within_the_overlap_is_still_folded(
    service, store, builder, snapshots, clock
):
    add(service, pdq_hex(1))
    late_value = pdq_hex(2)
    late = add(service, late_value)
    hidden = store.items.pop(late)  # not yet visible in the feed when the first build reads
    clock.advance(timedelta(seconds=10))
    builder.build()
    store.items[late] = hidden  # visible now, with a change time before the watermark
    clock.advance(timedelta(minutes=1))

    builder.build()

    assert late in snapshot_ids(snapshots)


def test_of_two_overlapping_builds_one_wins_and_no_change_is_lost(service, store, snapshots, clock):
    first = add(service, pdq_hex(1))
    IndexBuilder(store, snapshots, clock).build()
    clock.advance(timedelta(minutes=1))
    second = add(service, pdq_hex(2))
    run_a = IndexBuilder(store, snapshots, clock)
    run_b = IndexBuilder(store, snapshots, clock)
    # Both runs read the same snapshot; B reads the feed later and sees a change A missed.
    stored = snapshots.read()
    snapshots.read = lambda: stored
    run_a.build()
    clock.advance(timedelta(seconds=5))
    third = add(service, pdq_hex(3))

    with pytest.raises(Conflict):
        run_b.build()
    del snapshots.read  # the next scheduled run reads the store normally
    clock.advance(timedelta(minutes=1))
    IndexBuilder(store, snapshots, clock).build()

    assert snapshot_ids(snapshots) == {first, second, third}


def test_a_full_rebuild_holds_exactly_the_active_indicators(service, builder, snapshots, clock):
    active = add(service, pdq_hex(1))
    suspended = add(service, pdq_hex(2))
    builder.build()
    service.suspend(suspended, reason="s", by=CURATOR)

    outcome = builder.build(full=True)

    assert outcome.version == 2
    assert snapshot_ids(snapshots) == {active}


def test_the_matcher_finds_near_duplicates_within_the_threshold(service, builder, matcher):
    value = pdq_hex(7)
    indicator = add(service, value)
    builder.build()

    answer = matcher.search(
        [HashQuery.parse("pdq", flip_bits(value, 5)), HashQuery.parse("pdq", pdq_hex(8))]
    )

    (match,) = answer.results[0].hits
    assert (match.indicator_id, match.distance) == (indicator, 5)
    assert answer.results[0].thresholds == {"known": 31, "new": 31, "solicitation": 31}
    assert (match.database, match.media_type) == ("known", "image")
    assert answer.results[1].hits == []
    assert answer.index_version == 1


def test_the_matcher_finds_exact_types_by_equality(service, builder, matcher):
    md5 = "d41d8cd98f00b204e9800998ecf8427e"
    indicator = add(service, md5, hash_type="md5")
    builder.build()

    answer = matcher.search([HashQuery.parse("md5", md5.upper())])

    assert [m.indicator_id for m in answer.results[0].hits] == [indicator]


def test_a_revoked_indicator_never_matches_even_before_the_next_build(service, builder, matcher):
    value = pdq_hex(9)
    indicator = add(service, value)
    builder.build()
    assert matcher.search([HashQuery.parse("pdq", value)]).results[0].hits

    service.revoke(indicator, reason="r", by=CURATOR)

    assert matcher.search([HashQuery.parse("pdq", value)]).results[0].hits == []


def test_a_suspended_indicator_does_not_match(service, builder, matcher):
    value = pdq_hex(10)
    indicator = add(service, value)
    builder.build()

    service.suspend(indicator, reason="s", by=CURATOR)

    assert matcher.search([HashQuery.parse("pdq", value)]).results[0].hits == []


def test_the_database_filter_keeps_only_allowed_databases(service, builder, matcher):
    value = pdq_hex(11)
    add(service, value, database="known")
    add(service, value, database="new")
    builder.build()

    answer = matcher.search([HashQuery.parse("pdq", value, databases=frozenset({"new"}))])

    assert [m.database for m in answer.results[0].hits] == ["new"]


def test_the_matcher_checks_for_a_newer_snapshot_only_after_the_interval(
    service, builder, matcher, clock
):
    old = pdq_hex(12)
    add(service, old)
    builder.build()
    assert matcher.index_version == 1
    new_value = pdq_hex(13)
    add(service, new_value)
    clock.advance(timedelta(seconds=1))
    builder.build()

    clock.advance(timedelta(seconds=28))
    stale = matcher.search([HashQuery.parse("pdq", new_value)])
    clock.advance(timedelta(seconds=2))
    fresh = matcher.search([HashQuery.parse("pdq", new_value)])

    assert (stale.index_version, stale.results[0].hits) == (1, [])
    assert fresh.index_version == 2
    assert len(fresh.results[0].hits) == 1


def test_the_matcher_reads_the_snapshot_once_while_it_is_unchanged(
    service, builder, matcher, snapshots, clock
):
    add(service, pdq_hex(14))
    builder.build()
    matcher.search([HashQuery.parse("pdq", pdq_hex(14))])
    reads = snapshots.reads

    for _ in range(3):
        clock.advance(timedelta(seconds=31))
        matcher.search([HashQuery.parse("pdq", pdq_hex(14))])

    assert snapshots.reads == reads


def test_before_any_build_matching_fails_closed_instead_of_answering_no_match(matcher):
    with pytest.raises(IndexUnavailable) as refused:
        matcher.search([HashQuery.parse("pdq", pdq_hex(15))])

    assert refused.value.retry_after_seconds == INDEX_RETRY_AFTER_SECONDS
    assert metrics.metric_set[MetricName.INDEX_UNAVAILABLE]["Value"] == [1.0]


def corrupted(snapshots: InMemorySnapshotStore) -> None:
    """Replace the stored snapshot by a copy with one flipped byte in its arrays."""
    assert snapshots.stored is not None
    data = bytearray(snapshots.stored.data)
    data[-100] ^= 0xFF
    snapshots.write(bytes(data), replaces=snapshots.stored.etag)


def test_a_corrupt_snapshot_is_refused_not_served(service, builder, snapshots, matcher):
    add(service, pdq_hex(20))
    builder.build()
    corrupted(snapshots)

    with pytest.raises(IndexUnavailable, match="checksum"):
        matcher.search([HashQuery.parse("pdq", pdq_hex(20))])


def test_a_warm_matcher_stops_answering_once_the_current_snapshot_is_corrupt(
    service, builder, snapshots, matcher, clock
):
    # Given a matcher serving a good snapshot
    value = pdq_hex(21)
    add(service, value)
    builder.build()
    assert len(matcher.search([HashQuery.parse("pdq", value)]).results[0].hits) == 1

    # When the snapshot is replaced by a corrupt one and the refresh interval passes
    corrupted(snapshots)
    clock.advance(timedelta(seconds=31))

    # Then it refuses rather than answer from the older one it still holds, until a good one
    with pytest.raises(IndexUnavailable):
        matcher.search([HashQuery.parse("pdq", value)])
    with pytest.raises(IndexUnavailable):  # and it looks again at every call meanwhile
        matcher.search([HashQuery.parse("pdq", value)])
    clock.advance(timedelta(seconds=1))
    builder.build()
    assert len(matcher.search([HashQuery.parse("pdq", value)]).results[0].hits) == 1


def streamed_with(snapshots: InMemorySnapshotStore, read) -> None:
    """Make the store's stream of the current snapshot read through ``read(body, n)``."""
    assert snapshots.stored is not None
    stored = snapshots.stored

    def stream() -> SnapshotStream:
        body = io.BytesIO(stored.data)
        return SnapshotStream(lambda n: read(body, n), len(stored.data), stored.etag)

    snapshots.stream = stream  # type: ignore[method-assign]


def test_a_snapshot_whose_read_fails_midway_is_refused_with_a_retry(
    service, builder, snapshots, matcher
):
    # Given a snapshot whose download fails after its first piece (S3 drops the connection)
    add(service, pdq_hex(27))
    builder.build()
    pieces = 0

    def flaky(body: io.BytesIO, wanted: int) -> bytes:
        nonlocal pieces
        pieces += 1
        if pieces > 1:
            raise DependencyUnavailable("reading the index snapshot failed", retry_after_seconds=1)
        return body.read(min(wanted, 100))

    streamed_with(snapshots, flaky)

    # Then matching is refused as retryable, with the store's hint, not answered from nothing
    with pytest.raises(IndexUnavailable, match="cannot be read") as refused:
        matcher.search([HashQuery.parse("pdq", pdq_hex(27))])
    assert refused.value.retry_after_seconds == 1


def test_a_snapshot_stream_that_ends_early_is_refused_as_unusable(
    service, builder, snapshots, matcher
):
    add(service, pdq_hex(28))
    builder.build()
    size = len(snapshots.stored.data)
    streamed_with(
        snapshots, lambda body, n: body.read(min(n, 100)) if body.tell() < size // 2 else b""
    )

    with pytest.raises(IndexUnavailable, match="unusable"):
        matcher.search([HashQuery.parse("pdq", pdq_hex(28))])


def test_the_matcher_answers_from_a_snapshot_streamed_in_small_pieces(
    service, builder, snapshots, matcher
):
    indicator = add(service, pdq_hex(29))
    builder.build()
    streamed_with(snapshots, lambda body, n: body.read(min(n, 777)))

    answer = matcher.search([HashQuery.parse("pdq", pdq_hex(29))])

    assert [hit.indicator_id for hit in answer.results[0].hits] == [indicator]


def test_a_corrupt_snapshot_is_rebuilt_from_the_table_by_the_next_build(
    service, builder, snapshots, clock
):
    ids = {add(service, pdq_hex(i)) for i in (22, 23)}
    builder.build()
    corrupted(snapshots)
    clock.advance(timedelta(minutes=1))

    outcome = builder.build()

    assert (outcome.written, outcome.replaced_corrupt) == (True, True)
    assert outcome.version == 2  # the corrupt one's header still said 1: versions keep rising
    assert snapshot_ids(snapshots) == ids
    assert metrics.metric_set[MetricName.INDEX_UNAVAILABLE]["Value"] == [1.0]


def test_a_build_reports_how_long_the_oldest_unfolded_change_waited(service, builder, clock):
    add(service, pdq_hex(24))
    builder.build()
    clock.advance(timedelta(minutes=3))
    add(service, pdq_hex(25))
    clock.advance(timedelta(minutes=4))
    add(service, pdq_hex(26))
    clock.advance(timedelta(minutes=1))
    metrics.clear_metrics()

    waited = builder.build()
    caught_up = builder.build()

    assert (waited.staleness_seconds, caught_up.staleness_seconds) == (300.0, 0.0)
    assert metrics.metric_set[MetricName.INDEX_STALENESS_SECONDS]["Value"] == [300.0, 0.0]
    assert metrics.metric_set[MetricName.INDEX_AGE_SECONDS]["Value"] == [0.0, 0.0]


def test_matches_beyond_the_cap_are_flagged_truncated(service, store, snapshots, clock):
    value = pdq_hex(16)
    for count in range(1, 6):
        add(service, flip_bits(value, count))
    IndexBuilder(store, snapshots, clock).build()
    capped = Matcher(snapshots, store, clock, max_matches=3)

    result = capped.search([HashQuery.parse("pdq", value)]).results[0]

    assert [m.distance for m in result.hits] == [1, 2, 3]
    assert result.truncated

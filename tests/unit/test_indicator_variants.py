"""Indicators with variants and companions, and the agreement rule that decides their matches.

An indicator may carry up to 16 hashes of one assessed image (its own and variants), each with
its dHash companion. A query that carries its companion matches a row with a companion when the
PDQ distance plus the dHash distance is within the agreement threshold (36 by default); a query
without one matches the indicators' own hashes only, within the PDQ threshold (31), as before.
However many variants match, the indicator is one match, at its best row.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from hashmatch.access.model import Principal, Role
from hashmatch.clock import FixedClock
from hashmatch.errors import InvalidInput
from hashmatch.hashtypes import HASH_TYPES, MAX_INDICATOR_HASHES
from hashmatch.index import AddIndicator, RemoveIndicator, Snapshot
from hashmatch.indicators.api import IndicatorBatchRequest
from hashmatch.indicators.builder import IndexBuilder
from hashmatch.indicators.service import ItemOutcome
from hashmatch.matching.api import MatchQuery, MatchRequest
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
PROVIDER = Principal(
    client_id="cl_" + "p" * 24,
    role=Role.PROVIDER,
    organisation_id="org_" + "p" * 24,
    owner="Example Hosting SA",
    databases=("known",),
    hash_types=("pdq",),
)
ID_A, ID_B = "a" * 26, "b" * 26
AGREEMENT = 40  # the snapshot tests' own threshold (the service's default is the registry's)
DEFAULT = HASH_TYPES["pdq"].default_agreement_threshold


def dhash_hex(seed: int) -> str:
    return random.Random(f"d{seed}").getrandbits(64).to_bytes(8, "big").hex()


def variant(seed: int, quality: int = 90) -> dict[str, Any]:
    return {"hash": pdq_hex(seed), "companion": dhash_hex(seed), "quality": quality}


# -- the snapshot: rows per variant, one hit per indicator ------------------------------------


def snapshot_of(*adds: AddIndicator) -> Snapshot:
    return Snapshot.build(adds, version=1, watermark="", created_at="")


def add(indicator_id: str, seed: int, variants: range = range(0), *, companion: bool = True):
    return AddIndicator(
        "pdq",
        bytes.fromhex(pdq_hex(seed)),
        indicator_id,
        "known",
        "image",
        companion=bytes.fromhex(dhash_hex(seed)) if companion else None,
        variants=tuple((bytes.fromhex(pdq_hex(s)), bytes.fromhex(dhash_hex(s))) for s in variants),
    )


def search(snapshot: Snapshot, pdq: str, companion: str | None, **options: Any):
    (hits,) = snapshot.search(
        "pdq",
        [bytes.fromhex(pdq)],
        options.pop("threshold", 31),
        companions=[None if companion is None else bytes.fromhex(companion)],
        agreement=options.pop("agreement", AGREEMENT),
        **options,
    )
    return hits


def test_a_query_near_several_variants_is_one_hit_of_the_indicator_at_its_best_row():
    # Given an indicator whose variant 11 is the nearest to the query, and variant 12 also near
    snapshot = snapshot_of(add(ID_A, 1, range(10, 20)))
    query = flip_bits(pdq_hex(11), 6)

    # When the query comes with the companion of variant 11's image, slightly changed
    hits = search(snapshot, query, flip_bits(dhash_hex(11), 2))

    # Then the indicator is one hit, at variant 11's distances
    (hit,) = hits.hits
    assert (hit.indicator_id, hit.distance, hit.companion_distance) == (ID_A, 6, 2)


def test_the_agreement_rule_admits_pdq_plus_dhash_within_the_agreement_threshold():
    snapshot = snapshot_of(add(ID_A, 1))
    far_pdq = flip_bits(pdq_hex(1), 36)  # beyond PDQ's own threshold of 31

    assert search(snapshot, far_pdq, flip_bits(dhash_hex(1), 4)).indicator_ids == [ID_A]
    assert search(snapshot, far_pdq, flip_bits(dhash_hex(1), 5)).indicator_ids == []


def test_a_variant_is_matched_by_the_agreement_rule_only():
    # PDQ alone would admit the variant (20 <= 31), but the images' dHashes are 25 apart: 45 > 40
    snapshot = snapshot_of(add(ID_A, 1, range(10, 11)))

    hits = search(snapshot, flip_bits(pdq_hex(10), 20), flip_bits(dhash_hex(10), 25))

    assert hits.indicator_ids == []


def test_a_query_with_its_companion_finds_whatever_pdq_alone_finds_on_the_own_hash():
    # The own hash is 20 PDQ bits away (within 31) though the dHashes disagree (25 apart)
    snapshot = snapshot_of(add(ID_A, 1))

    hits = search(snapshot, flip_bits(pdq_hex(1), 20), flip_bits(dhash_hex(1), 25))

    assert [(h.indicator_id, h.distance, h.companion_distance) for h in hits.hits] == [
        (ID_A, 20, None)
    ]


def test_a_query_without_its_companion_matches_the_indicators_own_hashes_only():
    # Given an indicator whose variant 11 is identical to the query
    snapshot = snapshot_of(add(ID_A, 1, range(10, 13)))

    # Then a PDQ-only query (an old client) finds it only near the indicator's own hash
    assert search(snapshot, pdq_hex(11), None).indicator_ids == []
    own = search(snapshot, flip_bits(pdq_hex(1), 31), None)
    assert [(h.indicator_id, h.distance, h.companion_distance) for h in own.hits] == [
        (ID_A, 31, None)
    ]
    assert search(snapshot, flip_bits(pdq_hex(1), 32), None).indicator_ids == []


def test_an_indicator_without_a_companion_is_matched_by_the_pdq_threshold_alone():
    snapshot = snapshot_of(add(ID_A, 1, companion=False))

    hits = search(snapshot, flip_bits(pdq_hex(1), 31), dhash_hex(99))

    assert [(h.distance, h.companion_distance) for h in hits.hits] == [(31, None)]
    assert search(snapshot, flip_bits(pdq_hex(1), 32), dhash_hex(1)).indicator_ids == []


def test_the_cap_counts_indicators_not_their_variants():
    # Given two indicators, each with 15 variants identical to their own hash's neighbourhood
    near = range(100, 115)
    snapshot = snapshot_of(add(ID_A, 1, near), add(ID_B, 2, near))

    hits = search(snapshot, pdq_hex(100), dhash_hex(100), max_matches=2)

    assert sorted(hits.indicator_ids) == [ID_A, ID_B]
    assert not hits.truncated


def test_removing_an_indicator_removes_every_variant_row():
    snapshot = snapshot_of(add(ID_A, 1, range(10, 25)), add(ID_B, 2))

    after = snapshot.apply([RemoveIndicator(ID_A)], version=2, watermark="", created_at="")

    assert after.tables["pdq"].size == 1
    assert search(after, pdq_hex(12), dhash_hex(12)).indicator_ids == []


def test_variants_and_companions_survive_the_snapshot_file():
    snapshot = snapshot_of(add(ID_A, 1, range(10, 13)), add(ID_B, 2, companion=False))

    loaded = Snapshot.from_bytes(snapshot.to_bytes())

    assert search(loaded, pdq_hex(12), dhash_hex(12)).indicator_ids == [ID_A]
    assert search(loaded, pdq_hex(12), None).indicator_ids == []
    assert search(loaded, pdq_hex(2), dhash_hex(50)).indicator_ids == [ID_B]


@pytest.mark.parametrize(
    "change",
    [
        AddIndicator("pdq", bytes(32), ID_A, "known", "image", variants=((bytes(32), bytes(8)),)),
        AddIndicator(
            "pdq",
            bytes(32),
            ID_A,
            "known",
            "image",
            companion=bytes(8),
            variants=((bytes(32), bytes(8)),) * MAX_INDICATOR_HASHES,
        ),
        AddIndicator("pdq", bytes(32), ID_A, "known", "image", companion=bytes(7)),
        AddIndicator("phash", bytes(8), ID_A, "known", "image", companion=bytes(8)),
    ],
    ids=["variants-without-companion", "too-many-hashes", "short-companion", "no-companion-type"],
)
def test_the_snapshot_refuses_rows_the_model_does_not_allow(change):
    with pytest.raises(InvalidInput):
        snapshot_of(change)


# -- curation: what a curator may submit ------------------------------------------------------


def curate(**fields: Any):
    store = InMemoryIndicatorStore()
    service = curation_service(store, FixedClock(NOW))
    item = submission(pdq_hex(1), quality=90, **fields)
    return service.add_batch([item], submitted_by=CURATOR).items[0], store


def test_an_indicator_keeps_its_companion_and_distinct_variants():
    variants = [variant(10), variant(11), variant(10), {**variant(1), "companion": dhash_hex(1)}]

    result, store = curate(companion=dhash_hex(1), variants=variants)

    assert result.outcome is ItemOutcome.CREATED
    indicator = result.indicator
    assert indicator is not None
    assert indicator.companion == dhash_hex(1)
    # the repeat of variant 10 and the copy of the indicator's own hash are dropped
    assert [v.hash_value for v in indicator.variants] == [pdq_hex(10), pdq_hex(11)]
    (change,) = store.changes_since("")
    assert change.variants == ((pdq_hex(10), dhash_hex(10)), (pdq_hex(11), dhash_hex(11)))


@pytest.mark.parametrize(
    ("fields", "fault"),
    [
        ({"variants": [variant(10)]}, "own companion"),
        ({"companion": dhash_hex(1), "variants": [variant(10, quality=49)]}, "quality 49"),
        ({"companion": dhash_hex(1), "variants": [{**variant(10), "hash": "0" * 64}]}, "all-zero"),
        ({"companion": "zz" * 8}, "companion type"),
    ],
    ids=["variants-without-companion", "variant-below-gate", "blank-variant", "bad-companion"],
)
def test_a_submission_with_unusable_variants_is_refused_and_stores_nothing(fields, fault):
    result, store = curate(**fields)

    assert result.outcome is ItemOutcome.INVALID
    assert fault in " ".join(error["msg"] for error in result.errors)
    assert list(store.changes_since("")) == []


def test_a_type_without_a_companion_takes_no_companion():
    store = InMemoryIndicatorStore()
    service = curation_service(store, FixedClock(NOW))
    item = submission("0f" * 8, hash_type="phash", companion=dhash_hex(1))

    (result,) = service.add_batch([item], submitted_by=CURATOR).items

    assert result.outcome is ItemOutcome.INVALID
    assert "no companion" in result.errors[0]["msg"]


def test_the_api_refuses_more_variants_than_an_indicator_may_hold():
    item = submission(
        pdq_hex(1),
        companion=dhash_hex(1),
        variants=[variant(s) for s in range(10, 10 + MAX_INDICATOR_HASHES)],
    )

    with pytest.raises(ValidationError, match="at most 15 items"):
        IndicatorBatchRequest.model_validate({"items": [item]})


# -- matching: through the match service -------------------------------------------------------


class World:
    def __init__(self, agreement: int | None = None) -> None:
        clock = FixedClock(NOW)
        self.indicators = InMemoryIndicatorStore()
        snapshots = InMemorySnapshotStore()
        self.events = InMemoryMatchEventStore()
        self.curation = curation_service(self.indicators, clock)
        self.builder = IndexBuilder(self.indicators, snapshots, clock)
        self.service = MatchService(
            Matcher(snapshots, self.indicators, clock),
            self.events,
            Statistics(InMemoryCounterStore()),
            clock,
            event_retention=timedelta(days=90),
            agreement_thresholds=None if agreement is None else {"known": {"pdq": agreement}},
        )

    def add_with_variants(self, seed: int, variants: range) -> str:
        item = submission(
            pdq_hex(seed),
            reference=f"REF-{seed}",
            companion=dhash_hex(seed),
            variants=[variant(s) for s in variants],
        )
        (result,) = self.curation.add_batch([item], submitted_by=CURATOR).items
        assert result.indicator is not None
        self.builder.build()
        return result.indicator.id


def test_a_match_through_variants_and_alternates_is_one_match_with_its_rule_recorded():
    world = World()
    indicator = world.add_with_variants(1, range(10, 20))
    # The query's value is near variant 12, its alternate near variant 15 (nearer still)
    item = MatchItem(
        "pdq",
        flip_bits(pdq_hex(12), 20),
        quality=90,
        alternates=(flip_bits(pdq_hex(15), 3),),
        companion=flip_bits(dhash_hex(12), 5),
        alternate_companions=(flip_bits(dhash_hex(15), 1),),
    )

    (answer,) = world.service.match(PROVIDER, [item]).items

    (match,) = answer.matches
    assert (match.distance, match.companion_distance, match.agreement_threshold) == (3, 1, DEFAULT)
    assert match.via == "alternate"
    assert answer.agreements == {"known": DEFAULT}
    event = world.events.events[match.match_id]
    assert (event.indicator_id, event.companion_distance, event.agreement_threshold) == (
        indicator,
        1,
        DEFAULT,
    )


def test_the_agreement_threshold_is_the_databases_setting():
    # A copy near variant 10: PDQ 28 + dHash 3 = 31
    item = MatchItem(
        "pdq", flip_bits(pdq_hex(10), 28), quality=90, companion=flip_bits(dhash_hex(10), 3)
    )
    strict, default = World(agreement=30), World()
    for world in (strict, default):
        world.add_with_variants(1, range(10, 11))

    (refused,) = strict.service.match(PROVIDER, [item]).items
    (found,) = default.service.match(PROVIDER, [item]).items

    assert (refused.matches, refused.agreements) == ([], {"known": 30})
    assert [m.agreement_threshold for m in found.matches] == [DEFAULT]


def test_an_agreement_threshold_beyond_the_types_maximum_fails_at_start():
    with pytest.raises(InvalidInput, match="between 0 and 63"):
        World(agreement=HASH_TYPES["pdq"].max_threshold + 1)


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"alternates": (pdq_hex(3),), "alternate_companions": (dhash_hex(3),)}, "need the value"),
        (
            {
                "companion": dhash_hex(1),
                "alternates": (pdq_hex(3), pdq_hex(4)),
                "alternate_companions": (dhash_hex(3),),
            },
            "one per alternate",
        ),
        ({"companion": "x" * 16}, "companion:"),
    ],
    ids=["without-companion", "count-mismatch", "malformed"],
)
def test_an_item_with_companions_that_do_not_pair_up_is_rejected(fields, detail):
    world = World()
    world.add_with_variants(1, range(0))

    (answer,) = world.service.match(
        PROVIDER, [MatchItem("pdq", pdq_hex(1), quality=90, **fields)]
    ).items

    assert answer.rejection is not None
    assert detail in answer.rejection.detail


def test_the_match_api_passes_unpaired_companions_on_for_the_item_to_be_rejected():
    # The schema cannot say "one per alternate": such a request is valid, its item rejected
    query = MatchQuery.model_validate(
        {
            "type": "pdq",
            "value": pdq_hex(1),
            "quality": 90,
            "companion": dhash_hex(1),
            "alternates": [pdq_hex(2)],
            "alternate_companions": [dhash_hex(2), dhash_hex(3)],
        }
    )
    world = World()
    world.add_with_variants(1, range(0))

    (item,) = MatchRequest(items=[query]).to_domain()
    (answer,) = world.service.match(PROVIDER, [item]).items

    assert answer.rejection is not None
    assert answer.rejection.code == "invalid-input"

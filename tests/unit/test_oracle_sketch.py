"""The probing sketch and the flood rule, in memory."""

from __future__ import annotations

import random

from hashmatch.indicators.ports import MatchTally
from hashmatch.indicators.quarantine import FloodRule, rolled_baseline
from hashmatch.probing.sketch import Sketch


def pdq_bytes(seed: int) -> bytes:
    return random.Random(seed).randbytes(32)


def flipped(digest: bytes, *positions: int) -> bytes:
    number = int.from_bytes(digest)
    for position in positions:
        number ^= 1 << position
    return number.to_bytes(32)


def test_the_same_matching_hash_sent_again_counts_once():
    sketch = Sketch()
    digest = pdq_bytes(1)

    counts = [sketch.observe("pdq", digest, matched=True) for _ in range(50)]

    assert counts == [1] * 50


def test_distinct_near_duplicates_of_a_match_add_up():
    sketch = Sketch()
    base = pdq_bytes(2)
    sketch.observe("pdq", base, matched=True)

    most = max(sketch.observe("pdq", flipped(base, bit), matched=True) for bit in range(30))

    # 31 distinct hashes, 64 fingerprint values: a few collide, most are told apart
    assert 18 <= most <= 31


def test_a_query_near_no_match_leaves_no_trace():
    sketch = Sketch()
    sketch.observe("pdq", pdq_bytes(3), matched=True)
    before = sketch.to_bytes()

    results = [sketch.observe("pdq", pdq_bytes(100 + n), matched=False) for n in range(200)]

    assert results.count(0) >= 195  # a Bloom filter false positive now and then
    assert sketch.busiest() <= 2
    assert len(sketch.to_bytes()) == len(before)


def test_a_miss_next_to_a_match_is_counted_as_its_near_duplicate():
    sketch = Sketch()
    base = pdq_bytes(4)
    sketch.observe("pdq", base, matched=True)

    assert sketch.observe("pdq", flipped(base, 17), matched=False) >= 1


def test_many_unrelated_matches_do_not_add_up():
    # A busy provider: 1,000 distinct matched images in one window (4,000 cell marks in 4,096
    # cells); the salt is fixed so the test is deterministic
    sketch = Sketch(salt=bytes(16))

    most = sketch.observe_many("pdq", [(pdq_bytes(1000 + n), True) for n in range(1000)])

    assert most <= 8  # the limit is 12


def test_a_sketch_survives_its_bytes():
    sketch = Sketch()
    base = pdq_bytes(5)
    for bit in range(10):
        sketch.observe("pdq", flipped(base, bit), matched=True)

    again = Sketch.from_bytes(sketch.to_bytes())

    assert again.salt == sketch.salt
    assert again.busiest() == sketch.busiest() >= 5
    probe = flipped(base, 3)
    assert again.observe("pdq", probe, matched=False) == sketch.observe("pdq", probe, matched=False)


def test_each_sketch_samples_other_bits():
    digest = pdq_bytes(6)

    assert Sketch().keys("pdq", digest) != Sketch().keys("pdq", digest)


def test_a_flood_is_a_multiple_of_the_baseline_above_the_minimum_or_the_absolute_rate():
    rule = FloodRule(factor=10, minimum=500, absolute=20_000)

    assert not rule.floods(MatchTally(499, 0.0))
    assert rule.floods(MatchTally(500, 0.0))
    assert not rule.floods(MatchTally(5_000, 600.0))
    assert rule.floods(MatchTally(6_001, 600.0))
    assert rule.floods(MatchTally(20_000, 10_000.0))


def test_the_baseline_folds_in_the_last_window_and_decays_over_idle_ones():
    assert rolled_baseline(100.0, 200, 1, 0.8) == 120.0
    assert rolled_baseline(100.0, 200, 3, 0.8) == 120.0 * 0.8 * 0.8

"""A sharded index (fan-out to N shards, merge) answers exactly like one index: the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from hashmatch.errors import InvalidInput
from hashmatch.index import HammingIndex, ShardedIndex, brute_force
from tests.unit.test_index_hamming import KERNELS, PDQ_BITS, clustered, flip_bits, planted

pytestmark = pytest.mark.parametrize("kernel", KERNELS)


@pytest.mark.parametrize("shards", [1, 2, 5])
def test_a_sharded_search_equals_the_oracle(shards: int, kernel: str) -> None:
    # Given clustered hashes split over several shards
    rng = np.random.default_rng(61 + shards)
    codes, queries = clustered(rng, 1_500, PDQ_BITS, 31)
    index = ShardedIndex.split(codes, PDQ_BITS, shards, kernel=kernel)
    # When searched, Then every answer is the brute-force oracle's over all rows
    for query, result in zip(
        queries, index.search_batch(queries, 31, max_matches=10**9), strict=True
    ):
        rows, distances = brute_force(codes, query, 31)
        np.testing.assert_array_equal(result.rows, rows)
        np.testing.assert_array_equal(result.distances, distances)
        assert not result.truncated


@pytest.mark.parametrize("max_matches", [1, 4, 40, 10**9])
def test_the_cap_and_the_label_filter_apply_across_shards(max_matches: int, kernel: str) -> None:
    # Given hashes with labels split over 3 shards, searched in parallel threads
    rng = np.random.default_rng(67)
    codes, queries = clustered(rng, 1_500, PDQ_BITS, 31)
    labels = rng.integers(0, 3, size=codes.shape[0], dtype=np.uint8)
    index = ShardedIndex.split(codes, PDQ_BITS, 3, workers=3, kernel=kernel)
    # When capped and filtered, Then the answer is the oracle's first max_matches allowed rows
    results = index.search_batch(queries, 31, max_matches=max_matches, labels=labels, allowed=0b011)
    for query, result in zip(queries, results, strict=True):
        rows, distances = brute_force(codes, query, 31, labels=labels, allowed=0b011)
        np.testing.assert_array_equal(result.rows, rows[:max_matches])
        np.testing.assert_array_equal(result.distances, distances[:max_matches])
        assert result.truncated == (rows.shape[0] > max_matches)


def test_one_query_through_shards_equals_one_index(kernel: str) -> None:
    rng = np.random.default_rng(71)
    codes, queries = planted(rng, 3_000, PDQ_BITS, 31)
    whole = HammingIndex(codes, PDQ_BITS, kernel=kernel)
    sharded = ShardedIndex.split(codes, PDQ_BITS, 4, kernel=kernel)
    query = flip_bits(queries[0], 3, rng)
    np.testing.assert_array_equal(sharded.search(query, 31).rows, whole.search(query, 31).rows)
    assert sharded.size == whole.size


def test_bad_shardings_are_rejected(kernel: str) -> None:
    codes = np.zeros((3, 4), dtype=np.uint64)
    with pytest.raises(InvalidInput):
        ShardedIndex.split(codes, PDQ_BITS, 4, kernel=kernel)
    with pytest.raises(InvalidInput):
        ShardedIndex([])

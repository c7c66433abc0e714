"""The MIH Hamming index against a brute-force oracle: exact recall, nothing beyond the radius.

Every test runs against both kernels (the compiled one and the numpy reference).
"""

from __future__ import annotations

import os
import platform

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashmatch.errors import InvalidInput
from hashmatch.index import HammingIndex, brute_force
from hashmatch.index.hamming import build_chunk_tables
from hashmatch.index.kernel import native_unavailable_reason

PDQ_BITS = 256
PHASH_BITS = 64
# `make test` builds the native kernel and sets this: there, a missing library fails the tests
# instead of skipping them.
REQUIRE_NATIVE = os.environ.get("HASHMATCH_REQUIRE_NATIVE") == "1"
_NATIVE_MISSING = native_unavailable_reason()
KERNELS = [
    pytest.param(
        "native",
        marks=pytest.mark.skipif(
            _NATIVE_MISSING is not None and not REQUIRE_NATIVE,
            reason=f"native kernel not available: {_NATIVE_MISSING}",
        ),
    ),
    "numpy",
]
pytestmark = pytest.mark.parametrize("kernel", KERNELS)
# Examples per property test (fewer under qemu: test_index_arm64.py).
PROPERTY_EXAMPLES = int(os.environ.get("HASHMATCH_PROPERTY_EXAMPLES", "60"))


def random_codes(rng: np.random.Generator, size: int, bits: int) -> np.ndarray:
    return rng.integers(0, 2**64 - 1, size=(size, bits // 64), dtype=np.uint64, endpoint=True)


def flip_bits(code: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``code`` at exactly Hamming distance ``count``."""
    out = code.copy()
    for bit in rng.choice(code.shape[0] * 64, size=count, replace=False):
        out[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def planted(rng: np.random.Generator, size: int, bits: int, radius: int) -> tuple:
    """Uniform codes plus, for each query, one neighbour at every distance 0..radius+2."""
    codes = random_codes(rng, size, bits)
    queries = random_codes(rng, 8, bits)
    extra = [flip_bits(q, d, rng) for q in queries for d in range(radius + 3)]
    return np.concatenate([codes, np.array(extra)]), queries


def clustered(rng: np.random.Generator, size: int, bits: int, radius: int) -> tuple:
    """A few huge near-duplicate clusters (viral images) plus uniform background."""
    centres = random_codes(rng, 4, bits)
    members = [
        flip_bits(centres[i % 4], int(rng.integers(0, radius + 3)), rng) for i in range(size)
    ]
    background = random_codes(rng, size, bits)
    queries = np.concatenate([centres, [flip_bits(centres[0], 3, rng)], random_codes(rng, 3, bits)])
    return np.concatenate([np.array(members), background]), queries


def assert_matches_oracle(index: HammingIndex, queries: np.ndarray, radius: int) -> None:
    results = index.search_batch(queries, radius, max_matches=10**9)
    for query, result in zip(queries, results, strict=True):
        rows, distances = brute_force(index.codes, query, radius)
        np.testing.assert_array_equal(result.rows, rows)
        np.testing.assert_array_equal(result.distances, distances)
        assert not result.truncated


@pytest.mark.parametrize(("bits", "radius"), [(PDQ_BITS, 31), (PHASH_BITS, 8), (PHASH_BITS, 10)])
def test_planted_neighbours_at_every_distance_are_found_exactly(
    bits: int, radius: int, kernel: str
) -> None:
    # Given uniform hashes with a neighbour of each query at every distance 0..radius+2
    codes, queries = planted(np.random.default_rng(bits + radius), 20_000, bits, radius)
    index = HammingIndex(codes, bits, kernel=kernel)
    # When searching within the radius, Then the result equals the brute-force oracle
    assert_matches_oracle(index, queries, radius)


def test_found_distances_cover_zero_to_radius_and_stop_there(kernel: str) -> None:
    # Given a query with one planted neighbour at each distance 0..33
    codes, queries = planted(np.random.default_rng(7), 5_000, PDQ_BITS, 31)
    index = HammingIndex(codes, PDQ_BITS, kernel=kernel)
    # When searching at radius 31
    result = index.search(queries[0], 31)
    # Then every distance 0..31 is present and nothing beyond
    assert set(range(32)) <= set(result.distances.tolist())
    assert result.distances.max() == 31


@pytest.mark.parametrize("bits", [PDQ_BITS, PHASH_BITS])
def test_clustered_data_is_matched_exactly(bits: int, kernel: str) -> None:
    # Given hashes concentrated in a few near-duplicate clusters
    radius = 31 if bits == PDQ_BITS else 8
    codes, queries = clustered(np.random.default_rng(3), 6_000, bits, radius)
    index = HammingIndex(codes, bits, kernel=kernel)
    # When queries land in the clusters, Then results still equal the oracle
    assert_matches_oracle(index, queries, radius)


def test_single_and_batch_searches_agree(kernel: str) -> None:
    # Given an index and several queries
    codes, queries = planted(np.random.default_rng(11), 10_000, PDQ_BITS, 31)
    index = HammingIndex(codes, PDQ_BITS, kernel=kernel)
    # When searched one by one and as a batch
    batch = index.search_batch(queries, 31)
    single = [index.search(q, 31) for q in queries]
    # Then the answers are identical
    for one, many in zip(single, batch, strict=True):
        np.testing.assert_array_equal(one.rows, many.rows)


def test_per_query_radii_are_each_honoured(kernel: str) -> None:
    # Given queries with planted neighbours
    codes, queries = planted(np.random.default_rng(5), 5_000, PDQ_BITS, 31)
    index = HammingIndex(codes, PDQ_BITS, kernel=kernel)
    radii = [0, 5, 31, 40, 12, 31, 2, 20]
    # When each query has its own radius
    results = index.search_batch(queries, radii)
    # Then each result equals the oracle at that query's radius
    for query, radius, result in zip(queries, radii, results, strict=True):
        np.testing.assert_array_equal(result.rows, brute_force(index.codes, query, radius)[0])


@pytest.mark.parametrize("radius", [40, 64, 128])
def test_radius_beyond_the_chunking_falls_back_to_an_exact_scan(radius: int, kernel: str) -> None:
    # Given an index whose chunking cannot cover these radii by probing
    codes, queries = planted(np.random.default_rng(radius), 3_000, PDQ_BITS, 31)
    index = HammingIndex(codes, PDQ_BITS, kernel=kernel)
    # When searching at the large radius, Then the answer is still the oracle's
    assert_matches_oracle(index, queries[:3], radius)


def test_explicit_chunking_is_exact(kernel: str) -> None:
    # Given an index with 20-bit chunks (13 of them)
    codes, queries = planted(np.random.default_rng(13), 5_000, PDQ_BITS, 31)
    index = HammingIndex(codes, PDQ_BITS, chunks=13, kernel=kernel)
    # Then results equal the oracle
    assert index.widths == (20,) * 9 + (19,) * 4
    assert_matches_oracle(index, queries, 31)


def test_truncation_keeps_the_nearest_by_distance_then_row(kernel: str) -> None:
    # Given a query with 34 neighbours within the radius, including duplicates of one hash
    rng = np.random.default_rng(17)
    codes, queries = planted(rng, 2_000, PDQ_BITS, 31)
    codes = np.concatenate([codes, np.repeat(queries[:1], 3, axis=0)])
    index = HammingIndex(codes, PDQ_BITS, kernel=kernel)
    rows, distances = brute_force(index.codes, queries[0], 31)
    # When at most 5 matches are allowed
    result = index.search(queries[0], 31, max_matches=5)
    # Then the 5 nearest are returned in (distance, row) order and flagged truncated
    assert result.truncated
    np.testing.assert_array_equal(result.rows, rows[:5])
    np.testing.assert_array_equal(result.distances, distances[:5])


def test_truncation_in_a_huge_cluster_uses_the_same_order(kernel: str) -> None:
    # Given a cluster holding most rows, so the query is answered by a scan
    codes, queries = clustered(np.random.default_rng(19), 4_000, PDQ_BITS, 31)
    index = HammingIndex(codes, PDQ_BITS, kernel=kernel)
    rows, _ = brute_force(index.codes, queries[0], 31)
    # When the match count is capped
    result = index.search(queries[0], 31, max_matches=10)
    # Then the nearest 10 by (distance, row) are returned, flagged truncated
    assert rows.shape[0] > 10
    assert result.truncated
    np.testing.assert_array_equal(result.rows, rows[:10])


def test_exactly_max_matches_is_not_truncated(kernel: str) -> None:
    codes, queries = planted(np.random.default_rng(23), 1_000, PHASH_BITS, 8)
    index = HammingIndex(codes, PHASH_BITS, kernel=kernel)
    count = len(brute_force(index.codes, queries[0], 8)[0])
    result = index.search(queries[0], 8, max_matches=count)
    assert len(result) == count
    assert not result.truncated


def test_empty_index_matches_nothing(kernel: str) -> None:
    index = HammingIndex(np.empty((0, 4), dtype=np.uint64), PDQ_BITS, kernel=kernel)
    result = index.search(np.zeros(4, dtype=np.uint64), 31)
    assert len(result) == 0
    assert not result.truncated


def test_bytes_and_words_queries_are_equivalent(kernel: str) -> None:
    codes, queries = planted(np.random.default_rng(29), 1_000, PDQ_BITS, 31)
    index = HammingIndex(codes.view(np.uint8).reshape(-1, 32), PDQ_BITS, kernel=kernel)
    as_bytes = index.search(queries[0].tobytes(), 31)
    as_words = index.search(queries[0], 31)
    np.testing.assert_array_equal(as_bytes.rows, as_words.rows)


@pytest.mark.parametrize("radius", [-1, 257, 3.0, True, "31"])
def test_bad_radius_is_rejected(radius: object, kernel: str) -> None:
    index = HammingIndex(
        random_codes(np.random.default_rng(0), 100, PDQ_BITS), PDQ_BITS, kernel=kernel
    )
    with pytest.raises(InvalidInput):
        index.search(np.zeros(4, dtype=np.uint64), radius)  # type: ignore[arg-type]


def test_wrong_width_query_is_rejected(kernel: str) -> None:
    index = HammingIndex(
        random_codes(np.random.default_rng(0), 100, PDQ_BITS), PDQ_BITS, kernel=kernel
    )
    with pytest.raises(InvalidInput):
        index.search(b"\x00" * 8, 31)


def test_bad_max_matches_is_rejected(kernel: str) -> None:
    index = HammingIndex(
        random_codes(np.random.default_rng(0), 100, PHASH_BITS), PHASH_BITS, kernel=kernel
    )
    with pytest.raises(InvalidInput):
        index.search(np.zeros(1, dtype=np.uint64), 8, max_matches=0)


_SHARED: dict[tuple[int, str], HammingIndex] = {}


def _shared_index(bits: int, kernel: str) -> tuple[HammingIndex, np.ndarray]:
    """One clustered index per width and kernel, reused by the property tests."""
    if (bits, kernel) not in _SHARED:
        rng = np.random.default_rng(bits)
        codes, _ = clustered(rng, 3_000, bits, 31 if bits == PDQ_BITS else 10)
        _SHARED[bits, kernel] = HammingIndex(codes, bits, kernel=kernel)
    index = _SHARED[bits, kernel]
    return index, index.codes


@settings(max_examples=PROPERTY_EXAMPLES, deadline=None)
@given(
    bits=st.sampled_from([PDQ_BITS, PHASH_BITS]),
    row=st.integers(min_value=0, max_value=5_999),
    flips=st.integers(min_value=0, max_value=40),
    radius_share=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_property_any_query_and_radius_equals_the_oracle(
    bits: int, row: int, flips: int, radius_share: float, seed: int, kernel: str
) -> None:
    # Given a stored hash perturbed by some bits, and a radius within the type's range
    index, codes = _shared_index(bits, kernel)
    rng = np.random.default_rng(seed)
    query = flip_bits(codes[row], min(flips, bits), rng)
    radius = round(radius_share * (33 if bits == PDQ_BITS else 12))
    # When searched, Then the answer is exactly the oracle's
    result = index.search(query, radius, max_matches=10**9)
    rows, distances = brute_force(codes, query, radius)
    np.testing.assert_array_equal(result.rows, rows)
    np.testing.assert_array_equal(result.distances, distances)


def test_updated_index_equals_a_fresh_build_over_the_same_rows(kernel: str) -> None:
    # Given an index, a set of rows to drop and new rows to add (some near old ones)
    rng = np.random.default_rng(31)
    codes, queries = planted(rng, 5_000, PDQ_BITS, 31)
    index = HammingIndex(codes, PDQ_BITS, kernel=kernel)
    keep = rng.random(codes.shape[0]) > 0.1
    added = np.array([flip_bits(codes[i], i % 33, rng) for i in range(0, 400, 4)])
    # When the index is patched rather than rebuilt
    patched = index.updated(keep, added)
    fresh = HammingIndex(
        np.concatenate([codes[keep], added]), PDQ_BITS, chunks=len(index.widths), kernel=kernel
    )
    # Then its tables (row order within buckets included) and its answers equal a fresh build's
    np.testing.assert_array_equal(patched.codes, fresh.codes)
    np.testing.assert_array_equal(patched.tables.offsets, fresh.tables.offsets)
    np.testing.assert_array_equal(patched.tables.rows, fresh.tables.rows)
    assert_matches_oracle(patched, np.concatenate([queries, added[:5]]), 31)


def test_both_kernels_build_the_same_tables(kernel: str) -> None:
    # Given clustered hashes (many equal chunk values, so the order within a bucket matters)
    codes, _ = clustered(np.random.default_rng(37), 3_000, PDQ_BITS, 31)
    # When this kernel builds the index, Then its tables equal the numpy reference build
    index = HammingIndex(codes, PDQ_BITS, kernel=kernel)
    reference = build_chunk_tables(index.codes, index.widths)
    np.testing.assert_array_equal(index.tables.offsets, reference.offsets)
    np.testing.assert_array_equal(index.tables.rows, reference.rows)


def labelled(rng: np.random.Generator, size: int) -> np.ndarray:
    """Per-row uint8 labels (0..3, as database codes would be)."""
    return rng.integers(0, 4, size=size, dtype=np.uint8)


@pytest.mark.parametrize("scan_share", [0.0, 1.0], ids=["scan", "mih"])
@pytest.mark.parametrize("bits", [PDQ_BITS, PHASH_BITS])
def test_rows_whose_label_is_not_allowed_are_skipped(
    bits: int, scan_share: float, kernel: str
) -> None:
    # Given clustered hashes with a label per row, searched by the scan or by probing
    rng = np.random.default_rng(41 + bits)
    radius = 31 if bits == PDQ_BITS else 8
    codes, queries = clustered(rng, 3_000, bits, radius)
    labels = labelled(rng, codes.shape[0])
    index = HammingIndex(codes, bits, scan_share=scan_share, kernel=kernel)
    # When only labels 0 and 2 are allowed
    results = index.search_batch(queries, radius, max_matches=10**9, labels=labels, allowed=0b101)
    # Then each answer is the oracle's over the allowed rows only
    for query, result in zip(queries, results, strict=True):
        rows, distances = brute_force(index.codes, query, radius, labels=labels, allowed=0b101)
        np.testing.assert_array_equal(result.rows, rows)
        np.testing.assert_array_equal(result.distances, distances)
        assert set(labels[result.rows].tolist()) <= {0, 2}


@pytest.mark.parametrize("scan_share", [0.0, 1.0], ids=["scan", "mih"])
def test_the_cap_and_truncated_count_only_allowed_rows(scan_share: float, kernel: str) -> None:
    # Given a query with 12 neighbours of label 1 and 4 of label 0, the label-1 ones nearer
    rng = np.random.default_rng(43)
    query = random_codes(rng, 1, PDQ_BITS)[0]
    near = [flip_bits(query, d, rng) for d in range(12)]
    far = [flip_bits(query, 20 + d, rng) for d in range(4)]
    codes = np.concatenate([random_codes(rng, 2_000, PDQ_BITS), near, far])
    labels = np.zeros(codes.shape[0], dtype=np.uint8)
    labels[2_000:2_012] = 1
    index = HammingIndex(codes, PDQ_BITS, scan_share=scan_share, kernel=kernel)
    # When label 1 is not allowed and at most 4 matches are wanted
    exactly = index.search(query, 31, max_matches=4, labels=labels, allowed=0b1)
    fewer = index.search(query, 31, max_matches=3, labels=labels, allowed=0b1)
    # Then the 4 label-0 rows fill the cap, without truncation; with a cap of 3 it truncates
    assert exactly.rows.tolist() == list(range(2_012, 2_016))
    assert not exactly.truncated
    assert fewer.rows.tolist() == list(range(2_012, 2_015))
    assert fewer.truncated


def test_a_single_search_filters_like_a_batch(kernel: str) -> None:
    rng = np.random.default_rng(47)
    codes, queries = clustered(rng, 2_000, PDQ_BITS, 31)
    labels = labelled(rng, codes.shape[0])
    index = HammingIndex(codes, PDQ_BITS, kernel=kernel)
    batch = index.search_batch(queries, 31, max_matches=7, labels=labels, allowed=0b10)
    for query, many in zip(queries, batch, strict=True):
        one = index.search(query, 31, max_matches=7, labels=labels, allowed=0b10)
        np.testing.assert_array_equal(one.rows, many.rows)
        assert one.truncated == many.truncated


@pytest.mark.parametrize(
    ("labels", "allowed"),
    [
        (None, 1),
        (np.zeros(10, dtype=np.uint8), 1),
        (np.zeros(100, dtype=np.int64), 1),
        (np.zeros(100, dtype=np.uint8), -1),
        (np.zeros(100, dtype=np.uint8), 2**256),
        (np.zeros(100, dtype=np.uint8), True),
    ],
)
def test_bad_label_filters_are_rejected(labels: object, allowed: object, kernel: str) -> None:
    index = HammingIndex(
        random_codes(np.random.default_rng(0), 100, PHASH_BITS), PHASH_BITS, kernel=kernel
    )
    with pytest.raises(InvalidInput):
        index.search(np.zeros(1, dtype=np.uint64), 8, labels=labels, allowed=allowed)  # type: ignore[arg-type]


@settings(max_examples=PROPERTY_EXAMPLES, deadline=None)
@given(
    bits=st.sampled_from([PDQ_BITS, PHASH_BITS]),
    row=st.integers(min_value=0, max_value=5_999),
    flips=st.integers(min_value=0, max_value=40),
    allowed=st.integers(min_value=0, max_value=15),
    max_matches=st.integers(min_value=1, max_value=3_000),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_property_filtered_and_capped_answers_equal_the_oracle(
    bits: int, row: int, flips: int, allowed: int, max_matches: int, seed: int, kernel: str
) -> None:
    # Given a stored hash perturbed by some bits, random per-row labels and allowed labels
    index, codes = _shared_index(bits, kernel)
    rng = np.random.default_rng(seed)
    labels = _shared_labels(codes.shape[0])
    query = flip_bits(codes[row], min(flips, bits), rng)
    radius = 31 if bits == PDQ_BITS else 10
    # When searched with a cap, Then the answer is the oracle's first max_matches allowed rows
    result = index.search(query, radius, max_matches=max_matches, labels=labels, allowed=allowed)
    rows, distances = brute_force(codes, query, radius, labels=labels, allowed=allowed)
    np.testing.assert_array_equal(result.rows, rows[:max_matches])
    np.testing.assert_array_equal(result.distances, distances[:max_matches])
    assert result.truncated == (rows.shape[0] > max_matches)


def _shared_labels(size: int) -> np.ndarray:
    return labelled(np.random.default_rng(size), size)


def test_the_native_library_is_built_for_this_machine(kernel: str) -> None:
    # The emulated arm64 run (test_index_arm64.py) must load the aarch64 build, not another.
    index = HammingIndex(
        random_codes(np.random.default_rng(0), 10, PDQ_BITS), PDQ_BITS, kernel=kernel
    )
    if index.kernel == "native":
        assert index._native is not None
        assert index._native.path.name == f"libhmkernel.{platform.machine()}.so"


def test_a_filtered_search_leaves_no_trace_on_the_next(kernel: str) -> None:
    # Given a query whose neighbours are partly of a label that will be filtered out
    rng = np.random.default_rng(53)
    codes, queries = clustered(rng, 2_000, PDQ_BITS, 31)
    labels = labelled(rng, codes.shape[0])
    index = HammingIndex(codes, PDQ_BITS, kernel=kernel)
    # When it is searched filtered, then unfiltered
    index.search(queries[0], 31, max_matches=10**9, labels=labels, allowed=0b1)
    after = index.search(queries[0], 31, max_matches=10**9)
    # Then the unfiltered answer is the whole oracle's
    np.testing.assert_array_equal(after.rows, brute_force(index.codes, queries[0], 31)[0])

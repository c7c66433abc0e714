"""Exact-value index for cryptographic hashes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from hashmatch.errors import InvalidInput
from hashmatch.index import ExactIndex, encode_exact
from hashmatch.index.exact import sort_order


def build(values: list[bytes], bits: int) -> tuple[ExactIndex, np.ndarray]:
    codes = encode_exact(values, bits)
    order = sort_order(codes)
    return ExactIndex(np.ascontiguousarray(codes[order]), bits), order


@pytest.mark.parametrize(("algorithm", "bits"), [("md5", 128), ("sha1", 160), ("sha256", 256)])
def test_every_stored_value_is_found_and_an_absent_one_is_not(algorithm: str, bits: int) -> None:
    # Given 2,000 digests
    values = [
        hashlib.new(algorithm, str(i).encode(), usedforsecurity=False).digest()
        for i in range(2_000)
    ]
    index, order = build(values, bits)
    absent = hashlib.new(algorithm, b"absent", usedforsecurity=False).digest()
    # When looking all of them up plus an absent one
    results = index.lookup(encode_exact([*values, absent], bits))
    # Then each maps back to its own original position, and the absent one to nothing
    for original, result in enumerate(results[:-1]):
        assert order[result.rows].tolist() == [original]
    assert len(results[-1]) == 0


def test_a_value_stored_twice_returns_both_rows() -> None:
    # Given the same digest in two rows (e.g. two databases)
    digest = hashlib.md5(b"x", usedforsecurity=False).digest()
    index, order = build([digest, hashlib.md5(b"y", usedforsecurity=False).digest(), digest], 128)
    # When looked up, Then both original rows are returned
    (result,) = index.lookup(encode_exact([digest], 128))
    assert sorted(order[result.rows].tolist()) == [0, 2]


def test_values_sharing_the_first_word_are_told_apart() -> None:
    # Given two sha1 values that differ only in their last byte
    first = bytes(19) + b"\x01"
    second = bytes(19) + b"\x02"
    index, order = build([first, second], 160)
    # When each is looked up, Then only its own row matches
    results = index.lookup(encode_exact([first, second], 160))
    assert [order[r.rows].tolist() for r in results] == [[0], [1]]


def test_wrong_length_value_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        encode_exact([b"short"], 128)

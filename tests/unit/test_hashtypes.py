"""Hash types: parsing, normalisation, distances and thresholds (no PIL involved)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hashmatch.errors import InvalidHash, InvalidInput, UnknownHashType
from hashmatch.hashtypes import (
    HASH_TYPES,
    MIN_PDQ_QUALITY,
    MatchKind,
    get_hash_type,
)
from tests.factories import ToyHash

PDQ_HEX = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"


def test_registry_holds_the_six_types_with_their_widths() -> None:
    # Given / When
    widths = {name: hash_type.bits for name, hash_type in HASH_TYPES.items()}

    # Then
    assert widths == {
        "pdq": 256,
        "phash": 64,
        "dhash": 64,
        "md5": 128,
        "sha1": 160,
        "sha256": 256,
    }


def test_thresholds_follow_the_design() -> None:
    pdq, phash, dhash = HASH_TYPES["pdq"], HASH_TYPES["phash"], HASH_TYPES["dhash"]
    assert (pdq.default_threshold, phash.default_threshold, dhash.default_threshold) == (31, 8, 8)
    # The matcher must accept at least PDQ 31 and 10 on the 64-bit types.
    assert pdq.max_threshold >= 31
    assert phash.max_threshold >= 10
    assert dhash.max_threshold >= 10
    for name in ("md5", "sha1", "sha256"):
        assert HASH_TYPES[name].exact
        assert HASH_TYPES[name].default_threshold == HASH_TYPES[name].max_threshold == 0
    assert MIN_PDQ_QUALITY == 50


def test_parse_normalises_to_lower_case_hex() -> None:
    # Given an upper-case hash
    value = PDQ_HEX.upper()

    # When
    parsed = get_hash_type("pdq").parse(value)

    # Then
    assert parsed == PDQ_HEX


@pytest.mark.parametrize("name", ["pdq", "md5"])
def test_a_hash_with_surrounding_blanks_is_refused_not_trimmed(name: str) -> None:
    hash_type = get_hash_type(name)
    value = "  " + "a" * hash_type.hex_length + "\n"

    with pytest.raises(InvalidHash):
        hash_type.parse(value)


@pytest.mark.parametrize("name", ["pdq", "phash", "dhash", "md5", "sha1", "sha256"])
def test_the_documented_pattern_accepts_what_parse_accepts(name: str) -> None:
    hash_type = get_hash_type(name)
    samples = [
        "a" * hash_type.hex_length,
        "A" * hash_type.hex_length,
        "a" * (hash_type.hex_length + 1),
    ]
    if name == "pdq":
        samples += ["A" * 43, "A" * 42 + "Q=", "_" * 43, "A" * 44]

    for sample in samples:
        try:
            hash_type.parse(sample)
            parsed = True
        except InvalidHash:
            parsed = False
        assert parsed == bool(re.fullmatch(hash_type.value_pattern, sample)), sample


@pytest.mark.parametrize("encoder", [base64.b64encode, base64.urlsafe_b64encode])
def test_pdq_accepts_base64(encoder) -> None:
    # Given the 32 bytes of a PDQ hash in base64 (standard or URL-safe)
    encoded = encoder(bytes.fromhex(PDQ_HEX)).decode()

    # When / Then
    assert get_hash_type("pdq").parse(encoded) == PDQ_HEX
    assert get_hash_type("pdq").parse(encoded.rstrip("=")) == PDQ_HEX


def test_pdq_wrong_length_says_what_is_expected() -> None:
    with pytest.raises(InvalidHash) as caught:
        get_hash_type("pdq").parse(PDQ_HEX[:-1])
    assert str(caught.value) == (
        "pdq hash must be 64 hex digits (or 44-char base64), got 63 characters"
    )


def test_non_hex_characters_are_named() -> None:
    with pytest.raises(InvalidHash, match=r"non-hex characters 'g'"):
        get_hash_type("phash").parse("g" * 16)


def test_invalid_base64_is_rejected() -> None:
    with pytest.raises(InvalidHash, match="neither 64 hex digits nor valid base64"):
        get_hash_type("pdq").parse("!" * 44)


@pytest.mark.parametrize(
    ("name", "good_length"), [("phash", 16), ("dhash", 16), ("md5", 32), ("sha1", 40)]
)
def test_other_types_check_their_hex_length(name: str, good_length: int) -> None:
    hash_type = get_hash_type(name)
    assert hash_type.parse("a" * good_length) == "a" * good_length
    with pytest.raises(InvalidHash, match=f"must be {good_length} hex digits, got"):
        hash_type.parse("a" * (good_length + 1))


def test_sha256_does_not_accept_base64() -> None:
    encoded = base64.b64encode(bytes(32)).decode()
    with pytest.raises(InvalidHash):
        get_hash_type("sha256").parse(encoded)


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidHash, match="must be a string"):
        get_hash_type("pdq").parse(123)  # type: ignore[arg-type]


def test_distance_counts_differing_bits() -> None:
    # Given two 64-bit hashes differing in the top bit and the lowest two bits
    a = "0000000000000000"
    b = "8000000000000003"

    # When / Then
    assert get_hash_type("phash").distance(a, b) == 3
    assert get_hash_type("phash").distance(b, b) == 0


def test_distance_accepts_any_spelling() -> None:
    encoded = base64.b64encode(bytes.fromhex(PDQ_HEX)).decode()
    assert get_hash_type("pdq").distance(encoded, PDQ_HEX.upper()) == 0


def test_to_bytes_round_trips() -> None:
    assert get_hash_type("pdq").to_bytes(PDQ_HEX).hex() == PDQ_HEX


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(UnknownHashType) as caught:
        get_hash_type("ahash")
    assert "pdq, phash, dhash, md5, sha1, sha256" in str(caught.value)


def test_type_names_are_case_insensitive() -> None:
    assert get_hash_type("PDQ") is HASH_TYPES["pdq"]


def test_threshold_outside_the_range_is_refused() -> None:
    pdq = get_hash_type("pdq")
    assert pdq.check_threshold(31) == 31
    with pytest.raises(InvalidInput, match="between 0 and 63"):
        pdq.check_threshold(64)
    with pytest.raises(InvalidInput):
        get_hash_type("md5").check_threshold(1)


def test_module_imports_no_image_library() -> None:
    # Given a fresh interpreter (the Lambda layer must not need PIL)
    code = "import sys, hashmatch.hashtypes; print('PIL' in sys.modules)"

    package_root = Path(__file__).resolve().parents[2] / "layers" / "common" / "python"
    environment = {**os.environ, "PYTHONPATH": str(package_root)}

    # When
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    )

    # Then
    assert result.stdout.strip() == "False"


def test_a_type_registered_for_a_block_is_known_inside_it_only() -> None:
    with HASH_TYPES.registered(ToyHash()) as toy:
        assert get_hash_type("TOY64") is toy
        assert toy in HASH_TYPES.of_kind(MatchKind.HAMMING)
        assert toy.parse("ABCDEF0123456789") == "abcdef0123456789"

    assert "toy64" not in HASH_TYPES
    with pytest.raises(UnknownHashType):
        get_hash_type("toy64")


def test_registering_a_name_twice_is_refused() -> None:
    class SecondPdq(ToyHash):
        name = "pdq"

    with pytest.raises(ValueError, match="registered already"), HASH_TYPES.registered(SecondPdq()):
        pass


@pytest.mark.parametrize(
    "facts",
    [
        {"default_threshold": 9},  # above its own maximum
        {"bits": 63},  # not whole bytes
        {"kind": MatchKind.EXACT},  # an exact type with a threshold
        {"name": "Toy-2"},  # not a lower-case identifier
    ],
)
def test_a_type_with_inconsistent_facts_is_refused(facts: dict[str, object]) -> None:
    broken = type("Broken", (ToyHash,), facts)

    with pytest.raises(ValueError, match="hash type"), HASH_TYPES.registered(broken()):
        pass


def test_the_quality_gate_is_the_types_own() -> None:
    pdq, phash = HASH_TYPES["pdq"], HASH_TYPES["phash"]

    assert pdq.quality_problem(MIN_PDQ_QUALITY - 1) is not None
    assert pdq.quality_problem(MIN_PDQ_QUALITY) is None
    assert phash.quality_problem(0) is None  # no quality score, no gate

"""Hash types (signal types): the only place hash strings are interpreted.

Each type knows its name, width in bits, whether it matches exactly or by Hamming distance, its
default and maximum match threshold, how to parse and normalise a string (always to lower-case
hex), and how to compute the distance between two normalised values.

This module ships in the Lambda layer: it imports nothing beyond the standard library (no PIL,
no numpy), so the cloud side can validate and compare hashes without any image code.
"""

from __future__ import annotations

import base64
import binascii
import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from hashmatch.errors import InvalidHash, InvalidInput, UnknownHashType

# Upstream (ThreatExchange, HMA) distrusts PDQ hashes below this quality: flat, tiny or nearly
# blank images get a low quality and a hash that collides with many unrelated images.
MIN_PDQ_QUALITY = 50

_HEX_DIGITS = frozenset(string.hexdigits)


class HashType:
    """One hash type. Subclasses set the class attributes; instances are stateless."""

    name: ClassVar[str]
    bits: ClassVar[int]
    exact: ClassVar[bool]
    default_threshold: ClassVar[int]
    max_threshold: ClassVar[int]
    description: ClassVar[str]

    @property
    def hex_length(self) -> int:
        return self.bits // 4

    def parse(self, value: str) -> str:
        """Validate ``value`` and return it as lower-case hex; raise InvalidHash if malformed."""
        if not isinstance(value, str):
            raise InvalidHash(f"{self.name} hash must be a string, got {type(value).__name__}")
        text = value.strip()
        return self._parse_hex(text, self._length_hint())

    def to_bytes(self, hex_value: str) -> bytes:
        """The raw bytes of a hash (parsed first, so any accepted spelling works)."""
        return bytes.fromhex(self.parse(hex_value))

    def distance(self, a_hex: str, b_hex: str) -> int:
        """Hamming distance in bits between two hashes of this type."""
        a = int(self.parse(a_hex), 16)
        b = int(self.parse(b_hex), 16)
        return (a ^ b).bit_count()

    def check_threshold(self, threshold: int) -> int:
        """Return ``threshold`` if it is allowed for this type, else raise InvalidInput."""
        if isinstance(threshold, bool) or not isinstance(threshold, int):
            raise InvalidInput(f"{self.name} threshold must be an integer, got {threshold!r}")
        if not 0 <= threshold <= self.max_threshold:
            raise InvalidInput(
                f"{self.name} threshold must be between 0 and {self.max_threshold}, got {threshold}"
            )
        return threshold

    def _length_hint(self) -> str:
        return f"{self.hex_length} hex digits"

    def _parse_hex(self, text: str, expected: str) -> str:
        if len(text) != self.hex_length:
            raise InvalidHash(
                f"{self.name} hash must be {expected}, got {len(text)} characters",
                errors=[{"type": self.name, "reason": "length", "length": len(text)}],
            )
        bad = sorted(set(text) - _HEX_DIGITS)
        if bad:
            shown = "".join(bad[:5])
            raise InvalidHash(
                f"{self.name} hash must be {expected}; found non-hex characters {shown!r}",
                errors=[{"type": self.name, "reason": "characters"}],
            )
        return text.lower()

    def __repr__(self) -> str:
        return f"<HashType {self.name}>"


class PdqHash(HashType):
    name = "pdq"
    bits = 256
    exact = False
    # Upstream's recommended match threshold for PDQ is 31 of 256 bits.
    default_threshold = 31
    # Beyond ~63 bits unrelated images start to match (random pairs sit near 128): allow
    # experiments up to a quarter of the bits, no further.
    max_threshold = 63
    description = "PDQ perceptual hash (256 bits) with a quality score 0-100"
    min_quality = MIN_PDQ_QUALITY

    # 32 bytes are 44 base64 characters with one '=' of padding, 43 without.
    _BASE64_LENGTHS: ClassVar[frozenset[int]] = frozenset({43, 44})

    def parse(self, value: str) -> str:
        if not isinstance(value, str):
            raise InvalidHash(f"pdq hash must be a string, got {type(value).__name__}")
        text = value.strip()
        if len(text) in self._BASE64_LENGTHS:
            return self._parse_base64(text)
        return self._parse_hex(text, self._length_hint())

    def _length_hint(self) -> str:
        return "64 hex digits (or 44-char base64)"

    def _parse_base64(self, text: str) -> str:
        padded = text + "=" * (-len(text) % 4)
        # Accept both the standard and the URL-safe alphabet; reject anything else.
        alphabet = "-_" if ("-" in text or "_" in text) else "+/"
        try:
            raw = base64.b64decode(padded, altchars=alphabet.encode(), validate=True)
        except (binascii.Error, ValueError) as error:
            raise InvalidHash(
                f"pdq hash of {len(text)} characters is neither 64 hex digits nor valid base64",
                errors=[{"type": self.name, "reason": "base64"}],
            ) from error
        if len(raw) != self.bits // 8:
            raise InvalidHash(
                f"pdq hash in base64 must decode to 32 bytes, got {len(raw)}",
                errors=[{"type": self.name, "reason": "length"}],
            )
        return raw.hex()


class PHash(HashType):
    name = "phash"
    bits = 64
    exact = False
    default_threshold = 8
    max_threshold = 16
    description = "DCT perceptual hash (imagehash.phash, 64 bits)"


class DHash(HashType):
    name = "dhash"
    bits = 64
    exact = False
    default_threshold = 8
    max_threshold = 16
    description = "difference hash (imagehash.dhash, 64 bits)"


class _CryptographicHash(HashType):
    exact = True
    default_threshold = 0
    max_threshold = 0


class Md5Hash(_CryptographicHash):
    name = "md5"
    bits = 128
    description = "MD5 of the file bytes"


class Sha1Hash(_CryptographicHash):
    name = "sha1"
    bits = 160
    description = "SHA-1 of the file bytes"


class Sha256Hash(_CryptographicHash):
    name = "sha256"
    bits = 256
    description = "SHA-256 of the file bytes"


HASH_TYPES: Mapping[str, HashType] = MappingProxyType(
    {
        hash_type.name: hash_type
        for hash_type in (PdqHash(), PHash(), DHash(), Md5Hash(), Sha1Hash(), Sha256Hash())
    }
)
PERCEPTUAL_TYPES: tuple[str, ...] = tuple(name for name, t in HASH_TYPES.items() if not t.exact)
CRYPTOGRAPHIC_TYPES: tuple[str, ...] = tuple(name for name, t in HASH_TYPES.items() if t.exact)


def get_hash_type(name: str) -> HashType:
    """The hash type called ``name`` (case-insensitive); UnknownHashType lists the known ones."""
    hash_type = HASH_TYPES.get(name.strip().lower()) if isinstance(name, str) else None
    if hash_type is None:
        known = ", ".join(HASH_TYPES)
        raise UnknownHashType(
            f"unknown hash type {name!r}; known types: {known}",
            errors=[{"type": str(name), "known": list(HASH_TYPES)}],
        )
    return hash_type

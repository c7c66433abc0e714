"""Hash types (signal types): the one place for every fact about a hash type.

Each type knows its name, width in bits, its kind (matched exactly, or within a Hamming
distance), where a client computes it from (the decoded image, or the file's bytes), its
default and maximum match threshold, its quality gate if it has one (PDQ), how to parse and
normalise a string (always to lower-case hex) and how to compute the distance between two values.
Everything else derives from the registry ``HASH_TYPES``: the index's type table
(``hashmatch.index``), the match service's quality gate and thresholds, the client's hashing
dispatch (``hashmatch_client.imaging``) and, checked by a test, the template's threshold
Parameters. Adding a type is adding one class below and one entry in ``HASH_TYPES``; nothing
else branches on type names. Tests add a toy type with ``HASH_TYPES.registered(...)``.

This module ships in the Lambda layer and in the provider client: it imports nothing beyond the
standard library (no PIL, no numpy, no pydantic).
"""

from __future__ import annotations

import base64
import binascii
import string
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import ClassVar

from hashmatch.errors import InvalidHash, InvalidInput, UnknownHashType

# Upstream (ThreatExchange, HMA) distrusts PDQ hashes below this quality: flat, tiny or nearly
# blank images get a low quality and a hash that collides with many unrelated images.
MIN_PDQ_QUALITY = 50

_HEX_DIGITS = frozenset(string.hexdigits)


class MatchKind(StrEnum):
    """How stored values of a type are compared with a query."""

    HAMMING = "hamming"  # within a Hamming distance (perceptual hashes)
    EXACT = "exact"  # equal values only (cryptographic digests)


class HashSource(StrEnum):
    """What a client computes a type from."""

    IMAGE = "image"  # the decoded, upright RGB image (hashmatch_client.imaging)
    FILE_BYTES = "file_bytes"  # the file's bytes, with hashlib's algorithm of the same name


class HashType:
    """One hash type. Subclasses set the class attributes; instances are stateless."""

    name: ClassVar[str]
    bits: ClassVar[int]
    kind: ClassVar[MatchKind]
    source: ClassVar[HashSource]
    default_threshold: ClassVar[int]
    max_threshold: ClassVar[int]
    description: ClassVar[str]
    # The lowest quality a hash of this type may have to be trusted; None: no quality score.
    min_quality: ClassVar[int | None] = None

    @property
    def exact(self) -> bool:
        return self.kind is MatchKind.EXACT

    @property
    def hex_length(self) -> int:
        return self.bits // 4

    @property
    def byte_length(self) -> int:
        return self.bits // 8

    @property
    def value_pattern(self) -> str:
        """Every spelling ``parse`` accepts, as a regular expression (no anchors): hex digits
        of either case (and, for PDQ, base64). The API documents it; ``parse`` enforces it."""
        return f"[0-9a-fA-F]{{{self.hex_length}}}"

    def parse(self, value: str) -> str:
        """Validate ``value`` and return it as lower-case hex; raise InvalidHash if malformed.

        Taken as sent: surrounding blanks make it malformed, not trimmed."""
        if not isinstance(value, str):
            raise InvalidHash(f"{self.name} hash must be a string, got {type(value).__name__}")
        return self._parse_hex(value, self._length_hint())

    def to_bytes(self, hex_value: str) -> bytes:
        """The raw bytes of a hash (parsed first, so any accepted spelling works)."""
        if isinstance(hex_value, str) and len(hex_value) == self.hex_length:
            # The common case in one C call: ``bytes.fromhex`` also skips blanks between digit
            # pairs, but then the text cannot fill the whole width, so a full-width result
            # means every character was a hex digit. Anything else takes the checks below.
            try:
                raw = bytes.fromhex(hex_value)
            except ValueError:
                pass
            else:
                if len(raw) == self.byte_length:
                    return raw
        return bytes.fromhex(self.parse(hex_value))

    def quality_problem(self, quality: int | None) -> str | None:
        """Why a hash of this quality is not trusted, or None if it passes the gate.

        A hash without a stated quality passes here; whether a missing quality is accepted is
        the caller's policy (the match service's, per request route).
        """
        if self.min_quality is None or quality is None or quality >= self.min_quality:
            return None
        return f"{self.name} quality {quality} is below {self.min_quality}: unreliable hash"

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
    kind = MatchKind.HAMMING
    source = HashSource.IMAGE
    # Upstream's recommended match threshold for PDQ is 31 of 256 bits.
    default_threshold = 31
    # Beyond ~63 bits unrelated images start to match (random pairs sit near 128): allow
    # experiments up to a quarter of the bits, no further.
    max_threshold = 63
    description = "PDQ perceptual hash (256 bits) with a quality score 0-100"
    min_quality = MIN_PDQ_QUALITY

    # 32 bytes are 44 base64 characters with one '=' of padding, 43 without.
    _BASE64_LENGTHS: ClassVar[frozenset[int]] = frozenset({43, 44})

    @property
    def value_pattern(self) -> str:
        return "[0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=?|[A-Za-z0-9_-]{43}=?"

    def parse(self, value: str) -> str:
        if not isinstance(value, str):
            raise InvalidHash(f"pdq hash must be a string, got {type(value).__name__}")
        if len(value) in self._BASE64_LENGTHS:
            return self._parse_base64(value)
        return self._parse_hex(value, self._length_hint())

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
    kind = MatchKind.HAMMING
    source = HashSource.IMAGE
    default_threshold = 8
    max_threshold = 16
    description = "DCT perceptual hash (imagehash.phash, 64 bits)"


class DHash(HashType):
    name = "dhash"
    bits = 64
    kind = MatchKind.HAMMING
    source = HashSource.IMAGE
    default_threshold = 8
    max_threshold = 16
    description = "difference hash (imagehash.dhash, 64 bits)"


class _CryptographicHash(HashType):
    kind = MatchKind.EXACT
    source = HashSource.FILE_BYTES
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


class HashTypeRegistry(Mapping[str, HashType]):
    """The known hash types by name, in declaration order."""

    def __init__(self, types: Iterable[HashType]) -> None:
        self._types: dict[str, HashType] = {}
        for hash_type in types:
            self._add(hash_type)

    def __getitem__(self, name: str) -> HashType:
        return self._types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def lookup(self, name: object) -> HashType:
        """The type called ``name`` (case-insensitive); UnknownHashType lists the known ones."""
        hash_type = None
        if isinstance(name, str):  # the name as registered first: one dict lookup
            hash_type = self._types.get(name) or self._types.get(name.strip().lower())
        if hash_type is None:
            known = ", ".join(self._types)
            raise UnknownHashType(
                f"unknown hash type {name!r}; known types: {known}",
                errors=[{"type": str(name), "known": list(self._types)}],
            )
        return hash_type

    def of_kind(self, kind: MatchKind) -> tuple[HashType, ...]:
        return tuple(t for t in self._types.values() if t.kind is kind)

    def of_source(self, source: HashSource) -> tuple[HashType, ...]:
        return tuple(t for t in self._types.values() if t.source is source)

    @contextmanager
    def registered(self, hash_type: HashType) -> Iterator[HashType]:
        """Add ``hash_type`` for the duration of a ``with`` block (tests, experiments)."""
        self._add(hash_type)
        try:
            yield hash_type
        finally:
            del self._types[hash_type.name]

    def _add(self, hash_type: HashType) -> None:
        if hash_type.name in self._types:
            raise ValueError(f"hash type {hash_type.name!r} is registered already")
        if hash_type.name != hash_type.name.lower() or not hash_type.name.isidentifier():
            raise ValueError(f"hash type name {hash_type.name!r} must be a lower-case identifier")
        if hash_type.bits % 8 or not 0 <= hash_type.default_threshold <= hash_type.max_threshold:
            raise ValueError(f"hash type {hash_type.name!r} has inconsistent bits or thresholds")
        if hash_type.exact and hash_type.max_threshold:
            raise ValueError(f"exact hash type {hash_type.name!r} cannot have a threshold")
        self._types[hash_type.name] = hash_type


HASH_TYPES = HashTypeRegistry((PdqHash(), PHash(), DHash(), Md5Hash(), Sha1Hash(), Sha256Hash()))


def get_hash_type(name: str) -> HashType:
    """The hash type called ``name`` (case-insensitive); UnknownHashType lists the known ones."""
    return HASH_TYPES.lookup(name)

"""A small per-client, per-window sketch of near-duplicate queries of matched content.

A provider that holds one matching image and flips bits to learn the indicator sends many
*distinct* queries that are all within a few bits of each other and of a match. Viral re-uploads
of the same image send the *same* hash again and again. The sketch tells the two apart without
keeping any query hash:

- Locality-sensitive keys: ``TABLES`` keys per query, each a keyed hash of a few of its bits at
  positions drawn from the sketch's random salt (new per client and window, kept only in the
  sketch, so a client cannot aim its bit flips past the sampled positions). Two hashes a few
  bits apart share most keys.
- ``cells``: ``CELLS`` 64-bit sets; each key of a query names one cell, and the query sets one bit
  in it (a keyed 6-bit fingerprint of the whole hash). A cell's bit count estimates how many
  distinct near-duplicates it has seen; the same hash sent again sets the same bit.
- ``bloom``: a Bloom filter of the keys of matched queries, so a query that did not match but is
  near one that did (an attacker walking along the threshold) is counted too. A query that is
  near no match leaves no trace at all.

Nothing in it can be turned back into a hash: a cell holds one of 64 fingerprint values per
query, reached through a salted hash of 8 to 24 of its bits.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import numpy.typing as npt

TABLES = 4
CELLS = 1024
BLOOM_BITS = 1 << 17
BLOOM_PROBES = 3
SALT_BYTES = 16
_HEADER = struct.Struct("<4sB16s")
_MAGIC = b"HMPS"
_FORMAT = 1


def key_bits(hash_bits: int) -> int:
    """Bits sampled per key: 24 of a 256-bit PDQ hash, 8 of a 64-bit one."""
    return max(8, hash_bits * 3 // 32)


@cache
def _positions(salt: bytes, hash_bits: int, table: int) -> npt.NDArray[np.intp]:
    seed = int.from_bytes(hashlib.sha256(salt + struct.pack("<HB", hash_bits, table)).digest()[:8])
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(hash_bits, size=key_bits(hash_bits), replace=False))


@dataclass
class Sketch:
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(SALT_BYTES))
    cells: npt.NDArray[np.uint64] = field(default_factory=lambda: np.zeros(CELLS, np.uint64))
    bloom: npt.NDArray[np.uint8] = field(
        default_factory=lambda: np.zeros(BLOOM_BITS // 8, np.uint8)
    )

    # -- keys ----------------------------------------------------------------------------------

    def keys(self, type_name: str, digest: bytes) -> list[int]:
        bits = np.unpackbits(np.frombuffer(digest, np.uint8))
        keys = []
        for table in range(TABLES):
            sampled = np.packbits(bits[_positions(self.salt, len(bits), table)]).tobytes()
            data = type_name.encode() + bytes([table]) + sampled
            keys.append(
                int.from_bytes(hashlib.blake2b(data, key=self.salt, digest_size=8).digest())
            )
        return keys

    def fingerprint(self, digest: bytes) -> int:
        return hashlib.blake2b(digest, key=self.salt, digest_size=8, person=b"fp").digest()[0] % 64

    def _bloom_bits(self, key: int) -> list[int]:
        return [(key >> (10 + 17 * probe)) % BLOOM_BITS for probe in range(BLOOM_PROBES)]

    def _in_bloom(self, key: int) -> bool:
        return all(self.bloom[bit >> 3] & (1 << (bit & 7)) for bit in self._bloom_bits(key))

    # -- folding queries in --------------------------------------------------------------------

    def observe(self, type_name: str, digest: bytes, *, matched: bool) -> int:
        """Fold one query in; the most distinct near-duplicates any of its cells now holds
        (0: it left no trace)."""
        keys = self.keys(type_name, digest)
        if matched:
            for key in keys:
                for bit in self._bloom_bits(key):
                    self.bloom[bit >> 3] |= np.uint8(1 << (bit & 7))
            touched = keys
        else:
            touched = [key for key in keys if self._in_bloom(key)]
        if not touched:
            return 0
        mark = np.uint64(1 << self.fingerprint(digest))
        most = 0
        for key in touched:
            cell = key % CELLS
            self.cells[cell] |= mark
            most = max(most, int(self.cells[cell]).bit_count())
        return most

    @property
    def has_matches(self) -> bool:
        """Whether any matched query was folded in (else a miss cannot be near one)."""
        return bool(self.bloom.any())

    def busiest(self) -> int:
        """The most distinct near-duplicates in any one cell."""
        return max(int(value).bit_count() for value in self.cells.tolist())

    # -- bytes ---------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        return (
            _HEADER.pack(_MAGIC, _FORMAT, self.salt)
            + self.cells.astype("<u8").tobytes()
            + self.bloom.tobytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Sketch:
        magic, version, salt = _HEADER.unpack_from(data)
        expected = _HEADER.size + CELLS * 8 + BLOOM_BITS // 8
        if magic != _MAGIC or version != _FORMAT or len(data) != expected:
            return cls()  # an unreadable sketch starts afresh (it is a heuristic, not a record)
        cells = np.frombuffer(data, "<u8", CELLS, _HEADER.size).astype(np.uint64)
        bloom = np.frombuffer(data, np.uint8, BLOOM_BITS // 8, _HEADER.size + CELLS * 8).copy()
        return cls(salt=salt, cells=cells, bloom=bloom)

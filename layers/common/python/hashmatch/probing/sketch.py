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
  distinct near-duplicates it has seen; the same hash sent again sets the same bit. (Counting
  a query as its second fullest cell instead, against unrelated hashes sharing a cell, let
  the threshold-edge attack of bench/oracle.py get 51 bits in one run: not done.)
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import numpy.typing as npt

TABLES = 4
CELLS = 4096
BLOOM_BITS = 1 << 17
BLOOM_PROBES = 3
SALT_BYTES = 16
_HEADER = struct.Struct("<4sB16s")
_MAGIC = b"HMPS"
_FORMAT = 1


def key_bits(hash_bits: int) -> int:
    """Bits sampled per key: 24 of a 256-bit PDQ hash, 8 of a 64-bit one."""
    return max(8, hash_bits * 3 // 32)


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """A 64-bit finaliser (splitmix64's): every input bit moves about half the output bits."""
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * _M1
        values = (values ^ (values >> np.uint64(27))) * _M2
        return values ^ (values >> np.uint64(31))


@cache
def _constant(salt: bytes, purpose: str) -> np.uint64:
    """A secret 64-bit constant per salt and purpose (the keys' and fingerprints' key)."""
    digest = hashlib.blake2b(purpose.encode(), key=salt, digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


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

    # -- keys (vectorised: a batch of 1,000 hashes folds in a few ms) ----------------------------

    def keys(self, type_name: str, digest: bytes) -> list[int]:
        return [int(key) for key in self.keys_of(type_name, [digest])[0]]

    def keys_of(self, type_name: str, digests: Sequence[bytes]) -> npt.NDArray[np.uint64]:
        """Each digest's ``TABLES`` keys, shape (n, TABLES) (digests of one type and width)."""
        rows = np.frombuffer(b"".join(digests), np.uint8).reshape(len(digests), -1)
        bits = np.unpackbits(rows, axis=1).astype(np.uint64)
        width = bits.shape[1]
        weights = np.left_shift(np.uint64(1), np.arange(key_bits(width), dtype=np.uint64))
        keys = np.empty((len(digests), TABLES), np.uint64)
        for table in range(TABLES):
            sampled = bits[:, _positions(self.salt, width, table)] @ weights
            keys[:, table] = _mix(sampled ^ _constant(self.salt, f"{type_name}/{table}"))
        return keys

    def fingerprints(self, digests: Sequence[bytes]) -> npt.NDArray[np.uint64]:
        """A keyed 6-bit fingerprint of each whole digest."""
        rows = np.frombuffer(b"".join(digests), np.uint8).reshape(len(digests), -1)
        padded = np.zeros((len(digests), -(-rows.shape[1] // 8) * 8), np.uint8)
        padded[:, : rows.shape[1]] = rows
        words = padded.view("<u8").astype(np.uint64)
        mixed = np.full(len(digests), _constant(self.salt, "fingerprint"), np.uint64)
        for column in range(words.shape[1]):
            mixed = _mix(mixed ^ words[:, column])
        return mixed % np.uint64(64)

    def fingerprint(self, digest: bytes) -> int:
        return int(self.fingerprints([digest])[0])

    def _bloom_bits(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        shifts = np.array([10 + 17 * probe for probe in range(BLOOM_PROBES)], np.uint64)
        return (keys[..., None] >> shifts) % np.uint64(BLOOM_BITS)

    # -- folding queries in --------------------------------------------------------------------

    def observe(self, type_name: str, digest: bytes, *, matched: bool) -> int:
        """Fold one query in; the most distinct near-duplicates any of its cells now holds
        (0: it left no trace)."""
        return self.observe_many(type_name, [(digest, matched)])

    def observe_many(self, type_name: str, queries: Sequence[tuple[bytes, bool]]) -> int:
        """Fold queries of one type in, matched ones first (so a miss next to a match of the
        same request counts); the most distinct near-duplicates any touched cell holds (0: none
        left a trace)."""
        if not queries:
            return 0
        digests = [digest for digest, _ in queries]
        matched = np.array([is_match for _, is_match in queries], bool)
        keys = self.keys_of(type_name, digests)
        bloom_bits = self._bloom_bits(keys)  # (n, TABLES, BLOOM_PROBES)
        marked = bloom_bits[matched].ravel()
        np.bitwise_or.at(
            self.bloom,
            (marked >> np.uint64(3)).astype(np.intp),
            np.left_shift(np.uint8(1), (marked & np.uint64(7)).astype(np.uint8)),
        )
        present = (
            self.bloom[(bloom_bits >> np.uint64(3)).astype(np.intp)]
            >> (bloom_bits & np.uint64(7)).astype(np.uint8)
        ) & 1
        touched = matched[:, None] | present.all(axis=2)  # (n, TABLES)
        if not touched.any():
            return 0
        cells = (keys % np.uint64(CELLS)).astype(np.intp)
        marks = np.left_shift(np.uint64(1), self.fingerprints(digests))
        rows, tables = np.nonzero(touched)
        np.bitwise_or.at(self.cells, cells[rows, tables], marks[rows])
        return int(np.bitwise_count(self.cells[np.unique(cells[rows, tables])]).max())

    @property
    def has_matches(self) -> bool:
        """Whether any matched query was folded in (else a miss cannot be near one)."""
        return bool(self.bloom.any())

    def busiest(self) -> int:
        """The most distinct near-duplicates in any one cell."""
        return int(np.bitwise_count(self.cells).max())

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

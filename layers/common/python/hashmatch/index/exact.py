"""Exact-value lookup for cryptographic hashes (md5, sha1, sha256) and any equality match.

Values are held sorted as big-endian uint64 words (zero-padded to a whole word), so numeric
order of the first word is byte order; a binary search on that first word finds the few rows
sharing it and a comparison of the remaining words confirms equality. Cryptographic digests are
uniform, so the first word is almost always unique and the confirmation is one row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hashmatch.errors import InvalidInput
from hashmatch.index.bits import U64
from hashmatch.index.hamming import SearchResult


def words_for(bits: int) -> int:
    return -(-bits // 64)


def encode_exact(values: Sequence[bytes] | npt.NDArray[np.uint8], bits: int) -> U64:
    """Raw digests -> (n, words) native uint64 whose numeric order is the bytes' order."""
    width = bits // 8
    padded = words_for(bits) * 8
    if isinstance(values, np.ndarray):
        raw = np.ascontiguousarray(values, dtype=np.uint8).reshape(-1, width)
    else:
        if not all(isinstance(v, bytes | bytearray) and len(v) == width for v in values):
            raise InvalidInput(f"every value must be {width} bytes")
        raw = np.frombuffer(b"".join(bytes(v) for v in values), dtype=np.uint8).reshape(-1, width)
    out = np.zeros((raw.shape[0], padded), dtype=np.uint8)
    out[:, :width] = raw
    return out.view(">u8").astype(np.uint64)


def sort_order(codes: U64) -> npt.NDArray[np.intp]:
    """Row order that sorts codes lexicographically by word (first word most significant)."""
    return np.lexsort(codes.T[::-1]) if codes.shape[0] else np.empty(0, dtype=np.intp)


class ExactIndex:
    """Sorted fixed-width values with binary search: value -> every row holding it.

    ``codes`` must already be sorted (see ``sort_order``): payload rows follow that order, so
    the snapshot stores them sorted and loading needs no work.
    """

    def __init__(self, codes: U64, bits: int) -> None:
        self.bits = bits
        self.codes = codes
        self.size = int(codes.shape[0])
        # A contiguous copy of the first word (8 bytes per value) makes searchsorted fast.
        self._prefix = np.ascontiguousarray(codes[:, 0]) if self.size else np.empty(0, np.uint64)

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self._prefix.nbytes)

    def lookup(
        self,
        values: U64,
        *,
        labels: npt.NDArray[np.uint8] | None = None,
        allowed: int | None = None,
    ) -> list[SearchResult]:
        """Rows equal to each encoded value (see ``encode_exact``), ascending.

        With ``labels`` (one uint8 per row) and ``allowed`` (bit k: label k may be seen), rows
        of other labels are left out, as in ``HammingIndex.search``.
        """
        if values.ndim != 2 or values.shape[1] != words_for(self.bits):
            raise InvalidInput("values do not have this index's width")
        flags: npt.NDArray[np.bool_] | None = None
        if labels is not None and allowed is not None:
            if labels.dtype != np.uint8 or labels.shape != (self.size,):
                raise InvalidInput(f"labels must be one uint8 per row ({self.size} rows)")
            flags = np.array([(allowed >> k) & 1 for k in range(256)], dtype=bool)
        lo = np.searchsorted(self._prefix, values[:, 0], side="left")
        hi = np.searchsorted(self._prefix, values[:, 0], side="right")
        results = []
        for i in range(values.shape[0]):
            rows = np.arange(lo[i], hi[i], dtype=np.int64)
            if rows.size and values.shape[1] > 1:
                same = (self.codes[rows] == values[i]).all(axis=1)
                rows = rows[same]
            if flags is not None and labels is not None and rows.size:
                rows = rows[flags[labels[rows]]]
            results.append(SearchResult(rows, np.zeros(rows.shape[0], dtype=np.int32), False))
        return results

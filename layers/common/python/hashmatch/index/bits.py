"""Bit-level helpers: packing hashes into uint64 words, chunk extraction, neighbour masks.

A hash of ``bits`` bits is held as ``bits // 64`` native uint64 words, a zero-copy view of its
bytes. Hamming distance does not depend on how bytes map to words, so any fixed mapping is
correct as long as queries and stored hashes use the same one: we use the native view.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np
import numpy.typing as npt

from hashmatch.errors import InvalidInput

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]


def as_words(hashes: npt.ArrayLike, bits: int) -> U64:
    """Return hashes as a C-contiguous (n, bits/64) uint64 array.

    Accepts raw bytes (one hash), a list of bytes, a (n, bits/8) uint8 array or an (n, bits/64)
    uint64 array. Bytes are viewed, not converted, so this is cheap.
    """
    if bits % 64:
        raise InvalidInput(f"hash width {bits} is not a multiple of 64 bits")
    words = bits // 64
    if isinstance(hashes, bytes | bytearray):
        hashes = [bytes(hashes)]
    if isinstance(hashes, list | tuple):
        if not all(isinstance(h, bytes | bytearray) and len(h) == bits // 8 for h in hashes):
            raise InvalidInput(f"every hash must be {bits // 8} bytes")
        buf = np.frombuffer(b"".join(bytes(h) for h in hashes), dtype=np.uint8)
        return buf.view(np.uint64).reshape(-1, words).copy()
    array = np.asarray(hashes)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.dtype == np.uint64 and array.shape[1] == words:
        return np.ascontiguousarray(array)
    if array.dtype == np.uint8 and array.shape[1] == bits // 8:
        return np.ascontiguousarray(array).view(np.uint64).reshape(-1, words)
    raise InvalidInput(
        f"expected hashes of {bits} bits as (n, {bits // 8}) uint8 or (n, {words}) uint64, "
        f"got {array.dtype} {array.shape}"
    )


def popcount_rows(xored: U64) -> npt.NDArray[np.uint16]:
    """Sum of set bits per row of an (n, W) uint64 array.

    ``sum(axis=1)`` over a short inner axis is slow in numpy; for W = 4 the four per-word counts
    (each <= 64) are added as byte lanes of one uint32, which is exact up to 256.
    """
    counts = np.bitwise_count(xored)
    words = counts.shape[1]
    if words == 1:
        return counts[:, 0].astype(np.uint16)
    if words == 4:
        lanes = np.ascontiguousarray(counts).view(np.uint32)[:, 0]
        pairs = (lanes & np.uint32(0x00FF00FF)) + ((lanes >> np.uint32(8)) & np.uint32(0x00FF00FF))
        return ((pairs & np.uint32(0xFFFF)) + (pairs >> np.uint32(16))).astype(np.uint16)
    return counts.sum(axis=1, dtype=np.uint16)


def distances_to(codes: U64, query: U64) -> npt.NDArray[np.uint16]:
    """Hamming distance from one query (W,) to each row of ``codes`` (n, W).

    Broadcasting a (W,) query over (n, W) runs numpy's inner loop W elements at a time, about
    3x slower than XOR-ing the transposed view into a (W, n) buffer, whose per-word counts then
    add along the fast outer axis.
    """
    words = codes.shape[1]
    xored = np.empty((words, codes.shape[0]), dtype=np.uint64)
    np.bitwise_xor(codes.T, query.reshape(-1, 1), out=xored)
    counts = np.bitwise_count(xored)
    if words == 1:
        return counts[0].astype(np.uint16)
    return counts.sum(axis=0, dtype=np.uint16)


def rowwise_distances(left: U64, right: U64) -> npt.NDArray[np.uint16]:
    """Hamming distance between matching rows of two (n, W) arrays of the same shape."""
    return popcount_rows(left ^ right)


def split_widths(bits: int, chunks: int) -> tuple[int, ...]:
    """Split ``bits`` into ``chunks`` near-equal widths (wider chunks first)."""
    base, extra = divmod(bits, chunks)
    return tuple(base + 1 if i < extra else base for i in range(chunks))


def chunk_values(codes: U64, widths: tuple[int, ...]) -> U32:
    """Extract each chunk of each row as an integer: (n, W) uint64 -> (n, chunks) uint32.

    Chunk c covers global bits [start, start + width) where bit p is bit p % 64 (LSB first) of
    word p // 64; a chunk may straddle two words. Vectorised over chunks (one numpy expression
    for all of them) because queries are few rows and per-call overhead dominates.
    """
    layout = _chunk_layout(widths, codes.shape[1])
    low_word, low_shift, high_word, high_shift, high_keep, mask = layout
    low = codes[:, low_word] >> low_shift
    high = (codes[:, high_word] << high_shift) & high_keep
    return ((low | high) & mask).astype(np.uint32)


@lru_cache(maxsize=32)
def _chunk_layout(widths: tuple[int, ...], words: int) -> tuple[np.ndarray, ...]:
    starts = np.cumsum((0, *widths[:-1]))
    low_word = starts // 64
    low_shift = (starts % 64).astype(np.uint64)
    straddles = (starts % 64) + np.array(widths) > 64
    high_word = np.minimum(low_word + 1, words - 1)
    high_shift = ((64 - starts % 64) % 64).astype(np.uint64)
    high_keep = np.where(straddles, np.uint64(2**64 - 1), np.uint64(0)).astype(np.uint64)
    mask = np.array([(1 << w) - 1 for w in widths], dtype=np.uint64)
    return low_word, low_shift, high_word, high_shift, high_keep, mask


@lru_cache(maxsize=64)
def neighbour_masks(width: int, radius: int) -> U32:
    """Every ``width``-bit XOR mask with at most ``radius`` bits set (0 first, then by weight)."""
    masks = [0]
    for weight in range(1, radius + 1):
        masks.extend(sum(1 << b for b in combo) for combo in combinations(range(width), weight))
    array = np.array(masks, dtype=np.uint32)
    array.setflags(write=False)
    return array


def ball_size(width: int, radius: int) -> int:
    """Number of ``width``-bit values within ``radius`` of a point."""
    from math import comb

    return sum(comb(width, k) for k in range(radius + 1))

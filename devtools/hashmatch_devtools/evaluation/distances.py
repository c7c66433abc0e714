"""Hamming distances between many hashes at once, on hashes packed into uint64 words."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def hex_to_words(hexes: Sequence[str]) -> np.ndarray:
    """Hashes (equal-length hex, a multiple of 16 digits) as an (n, words) uint64 array."""
    if not hexes:
        return np.zeros((0, 1), dtype=np.uint64)
    raw = b"".join(bytes.fromhex(value) for value in hexes)
    words = len(hexes[0]) // 16
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(hexes), words)


def hamming_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All Hamming distances between rows of ``a`` (n, w) and ``b`` (m, w): (n, m) uint16."""
    distances = np.zeros((a.shape[0], b.shape[0]), dtype=np.uint16)
    for word in range(a.shape[1]):
        distances += np.bitwise_count(a[:, word, None] ^ b[None, :, word]).astype(np.uint16)
    return distances


def query_distance_tensor(queries: np.ndarray, originals: np.ndarray) -> np.ndarray:
    """(n, k, w) query words against (n, w) originals: (n, k, n) distances."""
    n, k, words = queries.shape
    flat = hamming_matrix(queries.reshape(n * k, words), originals)
    return flat.reshape(n, k, originals.shape[0])


def dihedral_query_tensor(queries: np.ndarray, originals: np.ndarray) -> np.ndarray:
    """(n, k, 8, w) dihedral query words: the distance of the closest of the 8, (n, k, n)."""
    n, k, variants, words = queries.shape
    result = np.empty((n, k, originals.shape[0]), dtype=np.uint16)
    for photo in range(n):
        distances = hamming_matrix(queries[photo].reshape(k * variants, words), originals)
        result[photo] = distances.reshape(k, variants, -1).min(axis=1)
    return result


def symmetric_min(*matrices: np.ndarray) -> np.ndarray:
    """Element-wise minimum of square matrices and their transposes (either direction matches)."""
    result = matrices[0]
    for matrix in matrices:
        result = np.minimum(result, np.minimum(matrix, matrix.T))
    return result

"""Hashing one photo and its modified copies, every hash the evaluation needs (worker processes).

PDQ, pHash and dHash come from :mod:`hashmatch_client.imaging`; nothing here hashes on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashmatch.errors import ImageError
from hashmatch_client.imaging import (
    dihedral_variants,
    load_image,
    pdq_dihedral_hashes,
    perceptual_hashes,
    trim_uniform_border,
)
from hashmatch_devtools.evaluation.transforms import apply_transformation, fit_within

EVALUATED_TYPES: tuple[str, ...] = ("pdq", "phash", "dhash")
# Originals are shrunk to this longer side before anything else: PDQ and the reference C++ tool
# work from a 512 px (or smaller) version anyway, and it keeps "2x resize" and 20 MP photos cheap.
DEFAULT_MAX_SIDE = 512


@dataclass
class PhotoHashes:
    """Every hash the evaluation needs for one photo (hex strings)."""

    key: str
    error: str | None = None
    width: int = 0
    height: int = 0
    pdq_quality: int = 0
    original: dict[str, str] = field(default_factory=dict)
    original_dihedral: list[str] = field(default_factory=list)
    original_trimmed: dict[str, str] = field(default_factory=dict)
    # PDQ of the 8 rotated/flipped pixel images (hashed one by one), original first
    original_rotations: list[str] = field(default_factory=list)
    # transformation name -> hash type -> hex
    queries: dict[str, dict[str, str]] = field(default_factory=dict)
    queries_dihedral: dict[str, list[str]] = field(default_factory=dict)
    queries_trimmed: dict[str, dict[str, str]] = field(default_factory=dict)
    queries_rotations: dict[str, list[str]] = field(default_factory=dict)
    hash_computations: int = 0


@dataclass(frozen=True)
class HashTask:
    key: str
    path: Path
    seed: int
    max_side: int
    transformations: tuple[str, ...]


def _hash_all(image: Any) -> tuple[dict[str, str], list[str], int]:
    """PDQ (with its 8 rotations/flips: the first is the plain hash), pHash and dHash."""
    dihedral, quality = pdq_dihedral_hashes(image)
    others = perceptual_hashes(image, ("phash", "dhash"))
    hashes = {"pdq": dihedral[0], "phash": others["phash"].hex, "dhash": others["dhash"].hex}
    return hashes, dihedral, quality


def _hash_trimmed(image: Any, untrimmed: dict[str, str]) -> tuple[dict[str, str], int]:
    trimmed = trim_uniform_border(image)
    if trimmed is image:
        return dict(untrimmed), 0
    values = perceptual_hashes(trimmed, EVALUATED_TYPES)
    return {name: value.hex for name, value in values.items()}, 3


def _pdq_of_rotations(image: Any, plain_pdq: str) -> list[str]:
    variants = dihedral_variants(image)[1:]
    return [plain_pdq, *(perceptual_hashes(variant, ("pdq",))["pdq"].hex for variant in variants)]


def hash_photo(task: HashTask) -> PhotoHashes:
    """Decode one photo, make its modified copies, hash everything (deterministic)."""
    result = PhotoHashes(key=task.key)
    try:
        original = fit_within(load_image(task.path.read_bytes()), task.max_side)
    except (ImageError, OSError) as error:
        result.error = str(error)
        return result
    result.width, result.height = original.size
    result.original, result.original_dihedral, result.pdq_quality = _hash_all(original)
    result.original_trimmed, extra = _hash_trimmed(original, result.original)
    result.original_rotations = _pdq_of_rotations(original, result.original["pdq"])
    computations = 3 + extra + 7
    for name in task.transformations:
        query = apply_transformation(original, name, seed=task.seed, photo_key=task.key)
        hashes, dihedral, _quality = _hash_all(query)
        result.queries[name] = hashes
        result.queries_dihedral[name] = dihedral
        result.queries_trimmed[name], extra = _hash_trimmed(query, hashes)
        result.queries_rotations[name] = _pdq_of_rotations(query, hashes["pdq"])
        computations += 3 + extra + 7
    result.hash_computations = computations
    return result


def hash_photos(
    tasks: Sequence[HashTask],
    *,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[PhotoHashes]:
    """hash_photo over every task, in a pool of ``workers`` processes (1: in this process)."""
    results: list[PhotoHashes] = []
    outputs: Iterable[PhotoHashes]
    if workers <= 1:
        outputs = map(hash_photo, tasks)
        for output in outputs:
            results.append(output)
            if progress:
                progress(len(results), len(tasks))
        return results
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for output in pool.map(hash_photo, tasks, chunksize=2):
            results.append(output)
            if progress:
                progress(len(results), len(tasks))
    return results

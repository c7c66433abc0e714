"""The hash bank: every photo's indicator variants and every copy's query alternates, cached.

One record per derived image, 8 uint64: 4 PDQ words (the hex string's first 16 digits first),
the PDQ quality, pHash, dHash, and a presence flag (0 when the derived image does not exist,
e.g. no border to trim). Records are keyed ``I|variant`` (indicator side, from the original)
and ``Q|transformation|alternate`` (query side, from a modified copy), one ``.npz`` file per
photo; a run computes only the records its cache lacks, so a rerun costs the analysis alone.

Every hash comes from the provider client (:mod:`hashmatch_client.imaging`): the variants are
its ``INDICATOR_VARIANTS``, the alternates its ``AUGMENTED_ALTERNATES``, today's ``trim`` its
``trim_uniform_border`` and the rotations its ``dihedral_variants``; the copies are those of
``hashmatch evaluate`` (same seed, same pixels) and the unseen transformations.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hashmatch_client import imaging
from hashmatch_devtools.evaluation.dataset import Dataset, negative_mask
from hashmatch_devtools.evaluation.transforms import (
    TRANSFORMATIONS,
    UNSEEN_TRANSFORMATIONS,
    apply_transformation,
    fit_within,
)

RECORD_WIDTH = 8
PDQ_WORDS = slice(0, 4)
QUALITY, PHASH, DHASH, PRESENT = 4, 5, 6, 7
NICENESS = 10
# The unmodified original as a query: never a positive (it would match itself), but its matches
# against *other* indicators are false matches between distinct originals.
ORIGINAL = "original"

Derive = Callable[[Image.Image], "Image.Image | None"]


def _today_trim(image: Image.Image) -> Image.Image | None:
    trimmed = imaging.trim_uniform_border(image)
    return None if trimmed is image else trimmed


# The query side: the value ("plain"), today's options (rotations, trim) and the augmented ones.
QUERY_DERIVATIONS: Mapping[str, Derive] = {
    "plain": lambda image: image,
    **imaging.AUGMENTED_ALTERNATES,
    "trim": _today_trim,
}
DIHEDRAL: tuple[str, ...] = (
    "plain",
    "rot90",
    "rot180",
    "rot270",
    "flip_tb",
    "flip_lr",
    "transpose",
    "transverse",
)
TODAY_ALTERNATES: tuple[str, ...] = (*DIHEDRAL, "trim")
AUGMENTED: tuple[str, ...] = ("plain", *imaging.AUGMENTED_ALTERNATES)
VARIANTS: tuple[str, ...] = tuple(imaging.INDICATOR_VARIANTS)
STANDARD: tuple[str, ...] = tuple(t.name for t in TRANSFORMATIONS)
UNSEEN: tuple[str, ...] = tuple(t.name for t in UNSEEN_TRANSFORMATIONS)
ALL_TRANSFORMATIONS: tuple[str, ...] = (*STANDARD, *UNSEEN, ORIGINAL)


def indicator_key(variant: str) -> str:
    return f"I|{variant}"


def query_key(transformation: str, alternate: str) -> str:
    return f"Q|{transformation}|{alternate}"


def hash_record(image: Image.Image | None) -> np.ndarray:
    """PDQ (+quality), pHash and dHash of one image as a record; all zeros when absent."""
    record = np.zeros(RECORD_WIDTH, dtype=np.uint64)
    if image is None:
        return record
    pdq = imaging.pdq_hash(image)
    record[PDQ_WORDS] = [int(pdq.hex[i : i + 16], 16) for i in range(0, 64, 16)]
    record[QUALITY] = pdq.quality or 0
    others = imaging.perceptual_hashes(image, ("phash", "dhash"))
    record[PHASH] = int(others["phash"].hex, 16)
    record[DHASH] = int(others["dhash"].hex, 16)
    record[PRESENT] = 1
    return record


def make_copy(original: Image.Image, transformation: str, *, seed: int, key: str) -> Image.Image:
    if transformation == ORIGINAL:
        return original
    return apply_transformation(original, transformation, seed=seed, photo_key=key)


def cache_file(cache: Path, key: str) -> Path:
    return cache / f"{key.replace('/', '__')}.npz"


def read_cache(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    with np.load(path) as data:
        return dict(zip(data["keys"].tolist(), data["records"], strict=True))


def write_cache(path: Path, records: Mapping[str, np.ndarray]) -> None:
    keys = sorted(records)
    temporary = path.with_suffix(".tmp.npz")
    np.savez(temporary, keys=np.array(keys), records=np.stack([records[k] for k in keys]))
    temporary.replace(path)


@dataclass(frozen=True)
class HashJob:
    key: str
    path: Path
    cache_file: Path
    seed: int
    max_side: int
    variants: tuple[str, ...]
    transformations: tuple[str, ...]
    alternates: tuple[str, ...]


@dataclass(frozen=True)
class HashOutcome:
    key: str
    computed: int
    seconds: float


def hash_job(job: HashJob) -> HashOutcome:
    """Compute the job's missing records and add them to the photo's cache file."""
    started = time.perf_counter()
    records = read_cache(job.cache_file)
    variants = [v for v in job.variants if indicator_key(v) not in records]
    copies = {
        t: [a for a in job.alternates if query_key(t, a) not in records]
        for t in job.transformations
    }
    copies = {t: alternates for t, alternates in copies.items() if alternates}
    if not variants and not copies:
        return HashOutcome(job.key, 0, 0.0)
    original = fit_within(imaging.load_image(job.path.read_bytes()), job.max_side)
    computed = 0
    for variant in variants:
        records[indicator_key(variant)] = hash_record(imaging.INDICATOR_VARIANTS[variant](original))
        computed += 1
    for transformation, alternates in copies.items():
        copy = make_copy(original, transformation, seed=job.seed, key=job.key)
        for alternate in alternates:
            records[query_key(transformation, alternate)] = hash_record(
                QUERY_DERIVATIONS[alternate](copy)
            )
            computed += 1
    job.cache_file.parent.mkdir(parents=True, exist_ok=True)
    write_cache(job.cache_file, records)
    return HashOutcome(job.key, computed, time.perf_counter() - started)


def _lower_priority() -> None:
    os.nice(NICENESS)  # the machine's cores are shared


def fill_cache(
    dataset: Dataset,
    cache: Path,
    *,
    seed: int,
    max_side: int,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Hash whatever the cache lacks (nice'd worker processes); the number of new records."""
    jobs = [
        HashJob(
            photo.key,
            photo.path,
            cache_file(cache, photo.key),
            seed,
            max_side,
            VARIANTS,
            ALL_TRANSFORMATIONS,
            tuple(QUERY_DERIVATIONS),
        )
        for photo in dataset.photos
    ]
    computed = 0
    with ProcessPoolExecutor(max_workers=workers, initializer=_lower_priority) as pool:
        for done, outcome in enumerate(pool.map(hash_job, jobs, chunksize=1), start=1):
            computed += outcome.computed
            if progress is not None:
                progress(done, len(jobs))
    return computed


@dataclass(frozen=True)
class HashSide:
    """One side's derived hashes: ``pdq`` (..., 4) words, the others (...): (photos,
    variants) for indicators, (photos, transformations, alternates) for queries."""

    pdq: np.ndarray
    quality: np.ndarray
    dhash: np.ndarray
    present: np.ndarray

    @classmethod
    def of(cls, records: np.ndarray) -> HashSide:
        return cls(
            pdq=np.ascontiguousarray(records[..., PDQ_WORDS]),
            quality=records[..., QUALITY].astype(np.int16),
            dhash=np.ascontiguousarray(records[..., DHASH]),
            present=records[..., PRESENT].astype(bool),
        )


@dataclass(frozen=True)
class Bank:
    keys: tuple[str, ...]
    categories: tuple[str, ...]
    variants: tuple[str, ...]
    transformations: tuple[str, ...]
    alternates: tuple[str, ...]
    indicators: HashSide  # (photos, variants)
    queries: HashSide  # (photos, transformations, alternates)
    negatives: np.ndarray  # (photos, photos): distinct and not related by the manifest

    def rows(self, keys: frozenset[str] | None) -> np.ndarray:
        if keys is None:
            return np.ones(len(self.keys), dtype=bool)
        return np.array([key in keys for key in self.keys])

    def transformation_index(self, names: Sequence[str]) -> list[int]:
        return [self.transformations.index(name) for name in names]


def load_bank(dataset: Dataset, cache: Path) -> Bank:
    """Every photo's records; KeyError names the first one the cache lacks."""
    alternates = tuple(QUERY_DERIVATIONS)
    n = len(dataset.photos)
    indicator_records = np.zeros((n, len(VARIANTS), RECORD_WIDTH), dtype=np.uint64)
    query_records = np.zeros(
        (n, len(ALL_TRANSFORMATIONS), len(alternates), RECORD_WIDTH), dtype=np.uint64
    )
    for row, photo in enumerate(dataset.photos):
        records = read_cache(cache_file(cache, photo.key))
        for column, variant in enumerate(VARIANTS):
            indicator_records[row, column] = _record(records, indicator_key(variant), photo.key)
        for t, transformation in enumerate(ALL_TRANSFORMATIONS):
            for a, alternate in enumerate(alternates):
                query_records[row, t, a] = _record(
                    records, query_key(transformation, alternate), photo.key
                )
    keys = tuple(photo.key for photo in dataset.photos)
    return Bank(
        keys=keys,
        categories=tuple(photo.category for photo in dataset.photos),
        variants=VARIANTS,
        transformations=ALL_TRANSFORMATIONS,
        alternates=alternates,
        indicators=HashSide.of(indicator_records),
        queries=HashSide.of(query_records),
        negatives=negative_mask(list(keys), dataset.related_pairs),
    )


def _record(records: Mapping[str, np.ndarray], key: str, photo: str) -> np.ndarray:
    if key not in records:
        raise KeyError(f"{photo}: the hash cache has no record {key!r}")
    return records[key]

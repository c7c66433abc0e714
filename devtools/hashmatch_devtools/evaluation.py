"""Detection effectiveness: how often modified copies are found, how often strangers match.

The method (docs/effectiveness.md explains it at length):

1. Every photo in a folder is decoded with :func:`hashmatch_client.imaging.load_image` and
   shrunk to at most ``max_side`` pixels (the "original", as a curator would have hashed it into
   an indicator database). Each transformation of :mod:`hashmatch_devtools.transforms` makes a
   modified copy (the "query", as a provider would hash it). PDQ, pHash and dHash of originals
   and queries come from :func:`hashmatch_client.imaging.perceptual_hashes` and
   :func:`hashmatch_client.imaging.pdq_dihedral_hashes`; nothing here hashes on its own.
2. Positive pairs: each query against its own original. Negative pairs: each query against every
   original of another photo, except pairs the manifest says are related (stereo pairs, the
   same scene, a deliberate edit). A pair matches at threshold ``t`` when the Hamming distance is
   at most ``t``.
3. Recall = matched positive pairs / positive pairs (per transformation and overall).
   Precision = matched positive pairs / all matched pairs (positive and negative), i.e. the share
   of the matches a provider would see that are true; ``recall_at_precision`` is the highest
   recall over the thresholds whose precision is at least the target (99.99%).
   False-match rate = matched pairs of distinct, unrelated *originals* / such pairs, per category
   of the manifest (both photos in it) and over all pairs.
4. Improvements, measured the same way: the 8 PDQ rotations/flips of each query (a query matches
   when any of them is within the threshold), uniform borders trimmed before hashing (queries
   and originals alike), and two hash types combined (both within their thresholds, or either).

Distances are computed with numpy on hashes packed into uint64 words (``np.bitwise_count``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hashmatch.errors import ImageError, InvalidInput
from hashmatch.hashtypes import MIN_PDQ_QUALITY, get_hash_type
from hashmatch_client.imaging import load_image, pdq_dihedral_hashes, perceptual_hashes
from hashmatch_devtools.transforms import (
    TRANSFORMATIONS,
    apply_transformation,
    dihedral_variants,
    fit_within,
    trim_uniform_border,
)

EVALUATED_TYPES: tuple[str, ...] = ("pdq", "phash", "dhash")
# Originals are shrunk to this longer side before anything else: PDQ and the reference C++ tool
# work from a 512 px (or smaller) version anyway, and it keeps "2x resize" and 20 MP photos cheap.
DEFAULT_MAX_SIDE = 512
PRECISION_TARGET = 0.9999
# Also reported: on a few hundred photos a single unrelated pair can put 99.99% out of reach.
LOOSER_PRECISION_TARGET = 0.999
HEADLINE_METHODS: tuple[str, ...] = (
    "pdq",
    "phash",
    "dhash",
    "pdq+dihedral",
    "pdq+rotations",
    "pdq+trim",
    "pdq+rotations+trim",
    "phash+trim",
    "dhash+trim",
)
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"})
MANIFEST_NAME = "manifest.csv"
UNCATEGORISED = "uncategorised"
# Combining two hash types: the thresholds searched for each (both inclusive).
COMBINATIONS: tuple[tuple[str, str], ...] = (("pdq", "phash"), ("pdq", "dhash"), ("phash", "dhash"))


# --- the photos and what the manifest says about them ---------------------------------------


@dataclass(frozen=True)
class Photo:
    key: str  # path relative to the folder, with '/' separators
    path: Path
    category: str


@dataclass(frozen=True)
class Dataset:
    folder: Path
    photos: list[Photo]
    total_photos: int  # before --limit
    related_pairs: frozenset[frozenset[str]]
    has_manifest: bool


def discover_photos(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive), in a stable order."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder")
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS
    )


def _prefix(filename: str) -> str:
    """The ``package__`` part of a file name ('' without one)."""
    stem = Path(filename).stem.lower()
    return stem.rsplit("__", 1)[0] if "__" in stem else ""


_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*[A-Za-z0-9]")
# Shorter words ("to", "as") are never taken for file names.
_MIN_NAME_LENGTH = 3


def related_pairs_from_notes(notes: Mapping[str, str]) -> set[frozenset[str]]:
    """Pairs of files a free-text ``notes`` column says are related.

    Generic, not tied to one manifest: a note relates its file to every other file it names,
    by file name or stem (extension optional), or by the stem without its ``package__`` prefix
    when both files share that prefix (so "same base texture" does not name another package's
    ``texture.jpg``). Files whose identical notes mention a "pair" without naming the partner
    are related to each other (e.g. two files both noted "stereo pair").
    """
    full_names: dict[str, set[str]] = {}
    short_names: dict[tuple[str, str], set[str]] = {}
    for filename in notes:
        stem = Path(filename).stem.lower()
        full_names.setdefault(stem, set()).add(filename)
        if "__" in stem:
            short_names.setdefault((_prefix(filename), stem.rsplit("__", 1)[1]), set()).add(
                filename
            )
    pairs: set[frozenset[str]] = set()
    unnamed_pair_notes: dict[str, list[str]] = {}
    for filename, note in notes.items():
        named = False
        for token in _TOKEN.findall(note or ""):
            word = token.lower()
            if Path(word).suffix in IMAGE_EXTENSIONS:
                word = Path(word).stem
            if len(word) < _MIN_NAME_LENGTH:
                continue
            partners = full_names.get(word, set()) | short_names.get(
                (_prefix(filename), word), set()
            )
            for other in partners - {filename}:
                pairs.add(frozenset((filename, other)))
                named = True
        if not named and re.search(r"\bpair\b", note or "", re.IGNORECASE):
            unnamed_pair_notes.setdefault(note.strip().lower(), []).append(filename)
    for group in unnamed_pair_notes.values():
        for index, first in enumerate(group):
            pairs.update(frozenset((first, second)) for second in group[index + 1 :])
    return pairs


def load_dataset(folder: Path, *, limit: int | None = None, seed: int = 0) -> Dataset:
    """The photos of ``folder`` with their manifest categories and related pairs, if any.

    ``limit`` keeps a seeded random sample of that many photos (same seed, same sample).
    A folder without ``manifest.csv`` is fine: one category, no known related pairs.
    """
    paths = discover_photos(folder)
    if not paths:
        raise InvalidInput(f"no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {folder}")
    categories: dict[str, str] = {}
    notes: dict[str, str] = {}
    manifest = folder / MANIFEST_NAME
    if manifest.is_file():
        with manifest.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                name = (row.get("filename") or "").strip()
                if name:
                    categories[name] = (row.get("category") or "").strip() or UNCATEGORISED
                    notes[name] = row.get("notes") or ""
    photos = [
        Photo(
            key=path.relative_to(folder).as_posix(),
            path=path,
            category=categories.get(
                path.relative_to(folder).as_posix(), categories.get(path.name, UNCATEGORISED)
            ),
        )
        for path in paths
    ]
    total = len(photos)
    if limit is not None and limit < total:
        if limit < 2:
            raise InvalidInput("--limit must keep at least 2 photos (false matches need pairs)")
        chosen = sorted(random.Random(seed).sample(range(total), limit))
        photos = [photos[index] for index in chosen]
    return Dataset(
        folder=folder,
        photos=photos,
        total_photos=total,
        related_pairs=frozenset(related_pairs_from_notes(notes)),
        has_manifest=manifest.is_file(),
    )


# --- hashing (runs in worker processes) -----------------------------------------------------


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


# --- distances ------------------------------------------------------------------------------


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


# --- metrics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """Counts per threshold 0..max for one matching method (one hash type, maybe improved).

    ``positives`` (n_photos, n_transformations): distance of each query to its own original.
    ``negative_counts[t]``: negative (query, other original) pairs at distance exactly t
    (the last bin holds everything beyond the range).
    """

    name: str
    thresholds: np.ndarray
    positives: np.ndarray
    negative_counts: np.ndarray
    negative_pairs: int

    def true_matches(self, threshold: int) -> int:
        return int((self.positives <= threshold).sum())

    def false_matches(self, threshold: int) -> int:
        return int(self.negative_counts[: threshold + 1].sum())

    def recall(self, threshold: int) -> float:
        return float((self.positives <= threshold).mean())

    def recall_per_transformation(self, threshold: int) -> np.ndarray:
        result: np.ndarray = (self.positives <= threshold).mean(axis=0)
        return result

    def precision(self, threshold: int) -> float:
        return precision_of(self.true_matches(threshold), self.false_matches(threshold))

    def query_false_match_rate(self, threshold: int) -> float:
        return self.false_matches(threshold) / max(1, self.negative_pairs)


def precision_of(true_matches: int, false_matches: int) -> float:
    """Share of matches that are true; 1.0 when nothing matches (no wrong match was made)."""
    matched = true_matches + false_matches
    return true_matches / matched if matched else 1.0


def strict_threshold(curve: Curve) -> tuple[int | None, str]:
    """The 99.99%-precision threshold, or the 99.9% one when 99.99% is out of reach."""
    for target, label in ((PRECISION_TARGET, "99.99%"), (LOOSER_PRECISION_TARGET, "99.9%")):
        threshold = best_threshold(curve, target)
        if threshold is not None:
            return threshold, label
    return None, "no threshold reaches 99.9%"


def best_threshold(curve: Curve, target: float = PRECISION_TARGET) -> int | None:
    """The threshold with the highest recall among those with precision >= target.

    Ties go to the lowest threshold; None when no threshold reaches the target.
    """
    best: int | None = None
    best_recall = -1.0
    for threshold in curve.thresholds.tolist():
        if curve.precision(threshold) >= target:
            recall = curve.recall(threshold)
            if recall > best_recall:
                best, best_recall = threshold, recall
    return best


def negative_mask(keys: Sequence[str], related: frozenset[frozenset[str]]) -> np.ndarray:
    """(n, n) booleans: True where photos i and j form a negative pair (distinct, unrelated)."""
    n = len(keys)
    mask = ~np.eye(n, dtype=bool)
    index = {key: position for position, key in enumerate(keys)}
    names = {Path(key).name: position for position, key in enumerate(keys)}
    for pair in related:
        positions = [index.get(name, names.get(Path(name).name)) for name in pair]
        if len(positions) == 2 and None not in positions:
            first, second = positions
            if first is not None and second is not None:
                mask[first, second] = mask[second, first] = False
    return mask


def build_curve(
    name: str, query_distances: np.ndarray, mask: np.ndarray, max_threshold: int
) -> Curve:
    """A Curve from an (n_photos, n_transformations, n_photos) query-to-original matrix."""
    n = query_distances.shape[0]
    positives = query_distances[np.arange(n), :, np.arange(n)]
    clipped = np.minimum(query_distances, max_threshold + 1)
    negatives = clipped[np.broadcast_to(mask[:, None, :], clipped.shape)]
    counts = np.bincount(negatives.ravel(), minlength=max_threshold + 2)
    return Curve(
        name=name,
        thresholds=np.arange(max_threshold + 1),
        positives=positives,
        negative_counts=counts,
        negative_pairs=int(negatives.size),
    )


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


# --- the evaluation -------------------------------------------------------------------------


@dataclass
class CategoryRates:
    category: str
    photos: int
    pairs: int
    false_matches: dict[str, int]  # method -> count at its threshold


@dataclass
class Combination:
    types: tuple[str, str]
    rule: str  # "and" | "or"
    thresholds: tuple[int, int]
    recall: float
    precision: float
    false_matches: int
    target: float = PRECISION_TARGET


@dataclass
class Evaluation:
    dataset: Dataset
    photos: list[PhotoHashes]  # hashed successfully, in dataset order
    failed: list[PhotoHashes]
    transformations: tuple[str, ...]
    seed: int
    max_side: int
    workers: int
    limit: int | None
    hashing_seconds: float
    analysis_seconds: float = 0.0
    curves: dict[str, Curve] = field(default_factory=dict)
    # method -> distances between originals (n, n), for the false-match rates
    original_distances: dict[str, np.ndarray] = field(default_factory=dict)
    mask: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    combinations: list[Combination] = field(default_factory=list)
    # PDQ with the database gated on quality >= MIN_PDQ_QUALITY (None: under 2 such photos)
    quality_gated: Curve | None = None

    @property
    def hash_computations(self) -> int:
        return sum(photo.hash_computations for photo in self.photos)

    @property
    def categories(self) -> list[str]:
        return [photo.category for photo in self.photos_meta]

    @property
    def photos_meta(self) -> list[Photo]:
        by_key = {photo.key: photo for photo in self.dataset.photos}
        return [by_key[photo.key] for photo in self.photos]

    def original_false_matches(self, method: str, threshold: int) -> tuple[int, int]:
        """(false matches, pairs) over unordered pairs of distinct, unrelated originals."""
        distances = self.original_distances[method]
        upper = np.triu(self.mask, k=1)
        return int((distances[upper] <= threshold).sum()), int(upper.sum())

    def category_rates(self, thresholds: Mapping[str, int]) -> list[CategoryRates]:
        """False matches among originals per category (both photos in it), then all pairs."""
        categories = np.array(self.categories)
        upper = np.triu(self.mask, k=1)
        rows: list[CategoryRates] = []
        names = sorted(set(categories.tolist()))
        for category in [*names, "all"]:
            everyone = np.ones(len(categories), dtype=bool)
            members = everyone if category == "all" else categories == category
            pairs_mask = upper & members[:, None] & members[None, :]
            rows.append(
                CategoryRates(
                    category=category,
                    photos=int(members.sum()),
                    pairs=int(pairs_mask.sum()),
                    false_matches={
                        method: int((self.original_distances[method][pairs_mask] <= t).sum())
                        for method, t in thresholds.items()
                    },
                )
            )
        return rows


def _method_base_type(method: str) -> str:
    return method.split("+", 1)[0]


def _default_threshold(method: str) -> int:
    return get_hash_type(_method_base_type(method)).default_threshold


def _max_threshold(method: str) -> int:
    return get_hash_type(_method_base_type(method)).max_threshold


def _symmetric_min(*matrices: np.ndarray) -> np.ndarray:
    """Element-wise minimum of square matrices and their transposes (either direction matches)."""
    result = matrices[0]
    for matrix in matrices:
        result = np.minimum(result, np.minimum(matrix, matrix.T))
    return result


def analyse(evaluation: Evaluation) -> None:
    """Fill in the curves, the originals' distances and the combinations."""
    started = time.perf_counter()
    photos = evaluation.photos
    names = evaluation.transformations
    keys = [photo.key for photo in photos]
    evaluation.mask = negative_mask(keys, evaluation.dataset.related_pairs)
    mask = evaluation.mask
    tensors: dict[str, np.ndarray] = {}
    trim_tensors: dict[str, np.ndarray] = {}
    for hash_type in EVALUATED_TYPES:
        originals = hex_to_words([photo.original[hash_type] for photo in photos])
        queries = hex_to_words(
            [photo.queries[name][hash_type] for photo in photos for name in names]
        ).reshape(len(photos), len(names), -1)
        tensors[hash_type] = query_distance_tensor(queries, originals)
        evaluation.original_distances[hash_type] = hamming_matrix(originals, originals)
        evaluation.curves[hash_type] = build_curve(
            hash_type, tensors[hash_type], mask, _max_threshold(hash_type)
        )
        if hash_type == "pdq":
            trusted = np.array([photo.pdq_quality >= MIN_PDQ_QUALITY for photo in photos])
            if trusted.sum() >= 2:
                evaluation.quality_gated = build_curve(
                    "pdq",
                    tensors["pdq"][trusted][:, :, trusted],
                    mask[trusted][:, trusted],
                    _max_threshold("pdq"),
                )
        plain_originals = evaluation.original_distances[hash_type]
        # Improvement (b): the query is also hashed with its uniform borders trimmed, and
        # matches when either hash is close to the database hash (hashed as always). Trimming
        # the database side too was measured worse: images with a natural dark background
        # (telescope images) trim differently after blur or a gamma change.
        trimmed_originals = hex_to_words([photo.original_trimmed[hash_type] for photo in photos])
        trimmed_queries = hex_to_words(
            [photo.queries_trimmed[name][hash_type] for photo in photos for name in names]
        ).reshape(len(photos), len(names), -1)
        trim_tensors[hash_type] = np.minimum(
            tensors[hash_type], query_distance_tensor(trimmed_queries, originals)
        )
        method = f"{hash_type}+trim"
        evaluation.curves[method] = build_curve(
            method, trim_tensors[hash_type], mask, _max_threshold(hash_type)
        )
        evaluation.original_distances[method] = _symmetric_min(
            plain_originals, hamming_matrix(trimmed_originals, originals)
        )
    # Improvement (a): the query's 8 PDQ rotations/flips against the plain database hash,
    # from pdqhash's one-pass dihedral mode ("dihedral") and from hashing the 8 rotated/flipped
    # pixel images one by one ("rotations").
    pdq_originals = hex_to_words([photo.original["pdq"] for photo in photos])
    rotation_tensors: dict[str, np.ndarray] = {}
    for method, query_hexes, original_hexes in (
        (
            "pdq+dihedral",
            lambda photo, name: photo.queries_dihedral[name],
            lambda photo: photo.original_dihedral,
        ),
        (
            "pdq+rotations",
            lambda photo, name: photo.queries_rotations[name],
            lambda photo: photo.original_rotations,
        ),
    ):
        variant_queries = hex_to_words(
            [hexes for photo in photos for name in names for hexes in query_hexes(photo, name)]
        ).reshape(len(photos), len(names), 8, -1)
        rotation_tensors[method] = dihedral_query_tensor(variant_queries, pdq_originals)
        evaluation.curves[method] = build_curve(
            method, rotation_tensors[method], mask, _max_threshold("pdq")
        )
        variant_originals = hex_to_words(
            [hexes for photo in photos for hexes in original_hexes(photo)]
        ).reshape(len(photos), 1, 8, -1)
        evaluation.original_distances[method] = _symmetric_min(
            dihedral_query_tensor(variant_originals, pdq_originals)[:, 0, :]
        )
    # Both: the 8 rotations/flips and the trimmed copy of the query.
    evaluation.curves["pdq+rotations+trim"] = build_curve(
        "pdq+rotations+trim",
        np.minimum(rotation_tensors["pdq+rotations"], trim_tensors["pdq"]),
        mask,
        _max_threshold("pdq"),
    )
    evaluation.original_distances["pdq+rotations+trim"] = np.minimum(
        evaluation.original_distances["pdq+rotations"], evaluation.original_distances["pdq+trim"]
    )
    # Improvement (c): two hash types together.
    evaluation.combinations = [
        combination
        for target in (PRECISION_TARGET, LOOSER_PRECISION_TARGET)
        for first, second in COMBINATIONS
        for combination in best_combinations(
            tensors[first], tensors[second], mask, (first, second), target
        )
    ]
    evaluation.analysis_seconds = time.perf_counter() - started


def best_combinations(
    first: np.ndarray,
    second: np.ndarray,
    mask: np.ndarray,
    types: tuple[str, str],
    target: float,
) -> list[Combination]:
    """Best "and" and "or" rules of two hash types at precision >= target (recall maximised).

    Both distance tensors are (n, k, n). Every pair of thresholds up to each type's maximum is
    tried, through 2-D cumulative counts (cheap whatever the number of pairs).
    """
    max_a, max_b = _max_threshold(types[0]), _max_threshold(types[1])
    n = first.shape[0]

    def joint_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a = np.minimum(a, max_a + 1).astype(np.int64)
        b = np.minimum(b, max_b + 1).astype(np.int64)
        counts = np.bincount((a * (max_b + 2) + b).ravel(), minlength=(max_a + 2) * (max_b + 2))
        # within[i, j] = pairs with distance_a <= i and distance_b <= j
        within: np.ndarray = counts.reshape(max_a + 2, max_b + 2).cumsum(0).cumsum(1)
        return within

    diagonal = (np.arange(n), slice(None), np.arange(n))
    positives = joint_counts(first[diagonal], second[diagonal])
    total_positives = first[diagonal].size
    selector = np.broadcast_to(mask[:, None, :], first.shape)
    negatives = joint_counts(first[selector], second[selector])
    results: list[Combination] = []
    for rule in ("and", "or"):
        best: Combination | None = None
        for a in range(max_a + 1):
            for b in range(max_b + 1):
                if rule == "and":
                    true, false = int(positives[a, b]), int(negatives[a, b])
                else:
                    true = int(positives[a, -1] + positives[-1, b] - positives[a, b])
                    false = int(negatives[a, -1] + negatives[-1, b] - negatives[a, b])
                precision = precision_of(true, false)
                recall = true / total_positives
                if precision >= target and (best is None or recall > best.recall):
                    best = Combination(types, rule, (a, b), recall, precision, false, target)
        if best is not None:
            results.append(best)
    return results


def evaluate(
    folder: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    workers: int = 2,
    max_side: int = DEFAULT_MAX_SIDE,
    transformations: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    precomputed: Sequence[PhotoHashes] | None = None,
    precomputed_seconds: float = 0.0,
) -> Evaluation:
    """Hash every photo of ``folder`` and its modified copies, then compute every figure.

    ``precomputed`` (from :func:`load_hashes`, written by an earlier run with the same seed,
    limit and max_side) skips the hashing; ``precomputed_seconds`` is that run's hashing time.
    """
    dataset = load_dataset(folder, limit=limit, seed=seed)
    names = tuple(transformations or (t.name for t in TRANSFORMATIONS))
    if precomputed is not None:
        hashed = _check_precomputed(precomputed, dataset, names)
        hashing_seconds = precomputed_seconds
    else:
        tasks = [HashTask(photo.key, photo.path, seed, max_side, names) for photo in dataset.photos]
        started = time.perf_counter()
        hashed = hash_photos(tasks, workers=workers, progress=progress)
        hashing_seconds = time.perf_counter() - started
    evaluation = Evaluation(
        dataset=dataset,
        photos=[photo for photo in hashed if photo.error is None],
        failed=[photo for photo in hashed if photo.error is not None],
        transformations=names,
        seed=seed,
        max_side=max_side,
        workers=workers,
        limit=limit,
        hashing_seconds=hashing_seconds,
    )
    if len(evaluation.photos) < 2:
        raise InvalidInput("fewer than 2 photos could be decoded: nothing to evaluate")
    analyse(evaluation)
    return evaluation


def _check_precomputed(
    precomputed: Sequence[PhotoHashes], dataset: Dataset, names: tuple[str, ...]
) -> list[PhotoHashes]:
    by_key = {photo.key: photo for photo in precomputed}
    missing = [photo.key for photo in dataset.photos if photo.key not in by_key]
    if missing:
        raise InvalidInput(f"saved hashes lack {len(missing)} photos, e.g. {missing[0]}")
    hashed = [by_key[photo.key] for photo in dataset.photos]
    for photo in hashed:
        if photo.error is None and set(photo.queries) != set(names):
            raise InvalidInput(f"saved hashes of {photo.key} have other transformations")
    return hashed


def fingerprint(evaluation: Evaluation) -> str:
    """A digest of every hash computed: equal fingerprints, identical inputs to the figures."""
    digest = hashlib.sha256()
    for photo in evaluation.photos:
        digest.update(photo.key.encode())
        for hexes in (photo.original, *photo.queries.values()):
            for name in EVALUATED_TYPES:
                digest.update(hexes[name].encode())
    return digest.hexdigest()


# --- the report -----------------------------------------------------------------------------

# Thorn's perception benchmark (recall at >= 99.99% precision), as quoted in issue 7.
THORN_PUBLISHED: dict[str, str] = {
    "PDQ overall": "77.2%",
    "pHash overall": "82.0%",
    "PDQ crop 5%": "9.0%",
    "PDQ pad 20%": "1.3%",
    "PDQ rotate 4 degrees": "54.5%",
    "PDQ blur, JPEG, resize, gamma, watermark": ">= 99%",
}
# Our transformation matching each of Thorn's quoted figures (for the side-by-side table).
THORN_COUNTERPARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("PDQ overall", "pdq", ()),
    ("pHash overall", "phash", ()),
    ("PDQ crop 5%", "pdq", ("crop_5%",)),
    ("PDQ pad 20%", "pdq", ("pad_20%",)),
    ("PDQ rotate 4 degrees", "pdq", ("rotate_4",)),
    (
        "PDQ blur, JPEG, resize, gamma, watermark",
        "pdq",
        (
            "blur",
            "jpeg_q90",
            "jpeg_q70",
            "jpeg_q50",
            "jpeg_q30",
            "resize_0.5x",
            "resize_0.25x",
            "resize_2x",
            "gamma_0.6",
            "gamma_1.6",
            "watermark_text",
            "watermark_logo",
        ),
    ),
)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _rate(count: int, total: int) -> str:
    if not total:
        return "-"
    return f"{count} / {total:,} ({count / total:.2e})"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return [*lines, ""]


@dataclass(frozen=True)
class OperatingPoint:
    method: str
    threshold: int | None
    recall: float
    precision: float
    false_matches: int
    target: float = PRECISION_TARGET


def operating_point(curve: Curve, threshold: int | None) -> OperatingPoint:
    if threshold is None:
        return OperatingPoint(curve.name, None, 0.0, 1.0, 0)
    return OperatingPoint(
        curve.name,
        threshold,
        curve.recall(threshold),
        curve.precision(threshold),
        curve.false_matches(threshold),
    )


def summary(evaluation: Evaluation) -> dict[str, Any]:
    """The headline figures as plain data (also written to results.json)."""
    methods: dict[str, Any] = {}
    for method, curve in evaluation.curves.items():
        default = _default_threshold(method)
        best = best_threshold(curve)
        original_fm, original_pairs = evaluation.original_false_matches(method, default)
        methods[method] = {
            "default_threshold": default,
            "recall_at_default": curve.recall(default),
            "precision_at_default": curve.precision(default),
            "query_false_matches_at_default": curve.false_matches(default),
            "original_false_matches_at_default": original_fm,
            "original_pairs": original_pairs,
            "threshold_at_precision_target": best,
            "recall_at_precision_target": curve.recall(best) if best is not None else 0.0,
            "recall_per_transformation_at_default": dict(
                zip(
                    evaluation.transformations,
                    curve.recall_per_transformation(default).tolist(),
                    strict=True,
                )
            ),
            "recall_per_transformation_at_precision_target": dict(
                zip(
                    evaluation.transformations,
                    (
                        curve.recall_per_transformation(best).tolist()
                        if best is not None
                        else [0.0] * len(evaluation.transformations)
                    ),
                    strict=True,
                )
            ),
        }
    return {
        "photos": len(evaluation.photos),
        "photos_in_folder": evaluation.dataset.total_photos,
        "failed": {photo.key: photo.error for photo in evaluation.failed},
        "limit": evaluation.limit,
        "seed": evaluation.seed,
        "max_side": evaluation.max_side,
        "workers": evaluation.workers,
        "transformations": list(evaluation.transformations),
        "positive_pairs": len(evaluation.photos) * len(evaluation.transformations),
        "negative_pairs": next(iter(evaluation.curves.values())).negative_pairs,
        "related_pairs_excluded": int((~evaluation.mask).sum() - len(evaluation.photos)) // 2,
        "hash_computations": evaluation.hash_computations,
        "hashing_seconds": evaluation.hashing_seconds,
        "analysis_seconds": evaluation.analysis_seconds,
        "precision_target": PRECISION_TARGET,
        "methods": methods,
        "combinations": [
            {
                "types": list(c.types),
                "rule": c.rule,
                "thresholds": list(c.thresholds),
                "recall": c.recall,
                "precision": c.precision,
                "false_matches": c.false_matches,
            }
            for c in evaluation.combinations
        ],
        "fingerprint": fingerprint(evaluation),
    }


def render_markdown(evaluation: Evaluation, figures: Mapping[str, str]) -> str:
    """The report: setup, headline, per-transformation recall, false matches, improvements."""
    data = summary(evaluation)
    methods = data["methods"]
    curves = evaluation.curves
    names = evaluation.transformations
    n_photos = len(evaluation.photos)
    lines: list[str] = ["# Detection effectiveness report", ""]
    sample = (
        f"a seeded random sample of {n_photos} of the {data['photos_in_folder']} photos "
        f"(`--limit {evaluation.limit} --seed {evaluation.seed}`)"
        if evaluation.limit is not None and evaluation.limit < data["photos_in_folder"]
        else f"all {n_photos} decodable photos"
    )
    lines += [
        f"Folder `{evaluation.dataset.folder}`: {sample}; {len(names)} transformations; "
        f"originals shrunk to at most {evaluation.max_side} px on the longer side first; "
        f"seed {evaluation.seed}.",
        "",
        f"- Positive pairs (each modified copy against its own original): "
        f"{data['positive_pairs']:,}.",
        f"- Negative pairs (each modified copy against every other photo's original, related "
        f"pairs left out): {data['negative_pairs']:,}. Related pairs excluded (from the "
        f"manifest notes): {data['related_pairs_excluded']}"
        + ("" if evaluation.dataset.has_manifest else " (no manifest.csv: none known)")
        + ".",
        "- Recall = matched positive pairs / positive pairs. Precision = matched positive pairs "
        "/ (matched positive + matched negative pairs), over these pair counts. False-match "
        "rate = matched pairs of distinct, unrelated originals / such pairs.",
        f"- Runtime: hashing {evaluation.hashing_seconds:.0f} s with {evaluation.workers} "
        f"worker process(es) ({data['hash_computations']:,} PDQ/pHash/dHash computations plus "
        f"8 PDQ rotations/flips per image), analysis {evaluation.analysis_seconds:.1f} s.",
        f"- Hash fingerprint `{data['fingerprint'][:16]}` (same seed and photos, same "
        "fingerprint).",
        "",
    ]
    if evaluation.failed:
        lines += ["Files that could not be decoded (left out):", ""]
        lines += [f"- `{photo.key}`: {photo.error}" for photo in evaluation.failed]
        lines.append("")

    lines += ["## Headline", ""]
    lines += [
        "Each method at its default threshold, and at the threshold with the highest recall "
        "whose precision reaches 99.99% (and 99.9%); '-' when no threshold reaches it (some "
        "unrelated pair is closer than every threshold allows). `+rotations`: the query's 8 "
        "rotated/flipped images; `+dihedral`: pdqhash's one-pass dihedral mode; `+trim`: the "
        "query also hashed with its uniform border trimmed. The last row gates the PDQ "
        f"database on quality >= {MIN_PDQ_QUALITY} (see 'PDQ quality').",
        "",
    ]
    header = [
        "method",
        "default threshold",
        "recall at default",
        "precision at default",
        "false matches at default (copies vs others)",
        "false matches among originals at default",
        "threshold, recall at >= 99.99%",
        "threshold, recall at >= 99.9%",
    ]
    rows = []
    headline_curves = [(method, curves[method], True) for method in HEADLINE_METHODS]
    if evaluation.quality_gated is not None:
        headline_curves.append(("pdq, quality >= 50", evaluation.quality_gated, False))
    for label, curve, has_originals in headline_curves:
        default = _default_threshold(curve.name)
        originals = (
            _rate(*evaluation.original_false_matches(label, default)) if has_originals else "-"
        )
        strict_cells = []
        for target in (PRECISION_TARGET, LOOSER_PRECISION_TARGET):
            threshold = best_threshold(curve, target)
            strict_cells.append(
                "-" if threshold is None else f"{threshold}: {_pct(curve.recall(threshold))}"
            )
        rows.append(
            [
                label,
                default,
                _pct(curve.recall(default)),
                f"{100 * curve.precision(default):.3f}%",
                _rate(curve.false_matches(default), curve.negative_pairs),
                originals,
                *strict_cells,
            ]
        )
    lines += _table(header, rows)

    lines += ["## Recall per transformation", ""]
    best: dict[str, int | None] = {}
    label_of: dict[str, str] = {}
    for method in EVALUATED_TYPES:
        best[method], label_of[method] = strict_threshold(curves[method])
    # Columns: each type at its default, each at its strict threshold when one exists, the
    # quality-gated PDQ at its strict threshold, and PDQ with both query-side improvements.
    columns: list[tuple[str, Curve, int]] = [
        (f"{m} <= {_default_threshold(m)}", curves[m], _default_threshold(m))
        for m in EVALUATED_TYPES
    ]
    columns += [
        (f"{m} <= {threshold} ({label_of[m]})", curves[m], threshold)
        for m in EVALUATED_TYPES
        if (threshold := best[m]) is not None
    ]
    if evaluation.quality_gated is not None:
        gated_threshold, gated_label = strict_threshold(evaluation.quality_gated)
        if gated_threshold is not None:
            columns.append(
                (
                    f"pdq, quality >= 50, <= {gated_threshold} ({gated_label})",
                    evaluation.quality_gated,
                    gated_threshold,
                )
            )
    columns.append(("pdq+rotations+trim <= 31", curves["pdq+rotations+trim"], 31))
    rows = []
    for index, name in enumerate(names):
        row: list[object] = [name]
        row += [_pct(curve.recall_per_transformation(t)[index]) for _, curve, t in columns]
        rows.append(row)
    overall: list[object] = ["**overall**"]
    overall += [_pct(curve.recall(t)) for _, curve, t in columns]
    lines += _table(["transformation", *(label for label, _, _ in columns)], [*rows, overall])
    if "recall_per_transformation" in figures:
        lines += [f"![recall per transformation]({figures['recall_per_transformation']})", ""]

    lines += ["## Recall against false matches, per threshold", ""]
    for method in EVALUATED_TYPES:
        curve = curves[method]
        rows = []
        step = 4 if method == "pdq" else 1
        shown_set = {*range(0, int(curve.thresholds[-1]) + 1, step), _default_threshold(method)}
        if (strictest := best[method]) is not None:
            shown_set.add(strictest)
        shown = sorted(shown_set)
        for threshold in shown:
            original_fm, original_pairs = evaluation.original_false_matches(method, threshold)
            rows.append(
                [
                    threshold,
                    _pct(curve.recall(threshold)),
                    f"{100 * curve.precision(threshold):.3f}%",
                    _rate(curve.false_matches(threshold), curve.negative_pairs),
                    _rate(original_fm, original_pairs),
                ]
            )
        lines += [f"### {method}", ""]
        lines += _table(
            [
                "threshold",
                "recall",
                "precision",
                "false matches, copies vs other originals",
                "false matches among originals",
            ],
            rows,
        )
    if "recall_vs_false_matches" in figures:
        lines += [f"![recall against false-match rate]({figures['recall_vs_false_matches']})", ""]

    lines += [
        "## False matches among originals, per category",
        "",
        "Pairs of distinct, unrelated originals with both photos in the category, at each "
        "type's default threshold and at its strict threshold (see the table above).",
        "",
    ]
    thresholds: dict[str, int] = {m: _default_threshold(m) for m in EVALUATED_TYPES}
    strict = {f"{m}@{best[m]}": best[m] for m in EVALUATED_TYPES if best[m] is not None}
    default_rates = evaluation.category_rates(thresholds)
    strict_rates = evaluation.category_rates(
        {m: best[m] for m in EVALUATED_TYPES if best[m] is not None}  # type: ignore[misc]
    )
    header = ["category", "photos", "pairs"]
    header += [f"{m} <= {t}" for m, t in thresholds.items()]
    header += [f"{key.split('@')[0]} <= {t}" for key, t in strict.items()]
    rows = []
    for default_row, strict_row in zip(default_rates, strict_rates, strict=True):
        row = [default_row.category, default_row.photos, f"{default_row.pairs:,}"]
        row += [default_row.false_matches[m] for m in thresholds]
        row += [strict_row.false_matches[key.split("@")[0]] for key in strict]
        rows.append(row)
    lines += _table(header, rows)

    lines += _quality_markdown(evaluation)
    lines += _improvements_markdown(evaluation, methods, figures)
    lines += _thorn_markdown(evaluation)
    return "\n".join(lines)


def _quality_markdown(evaluation: Evaluation) -> list[str]:
    gated = evaluation.quality_gated
    low = sum(photo.pdq_quality < MIN_PDQ_QUALITY for photo in evaluation.photos)
    lines = [
        "## PDQ quality",
        "",
        f"{low} of {len(evaluation.photos)} originals have a PDQ quality below "
        f"{MIN_PDQ_QUALITY} (flat or dark images; upstream distrusts such hashes). Below, the "
        "same PDQ figures with those originals left out of the database (and their copies "
        "out of the queries).",
        "",
    ]
    if gated is None:
        return [*lines, "Fewer than 2 originals pass the gate.", ""]
    rows = []
    for label, curve in (("all originals", evaluation.curves["pdq"]), ("quality >= 50", gated)):
        best = best_threshold(curve)
        rows.append(
            [
                label,
                curve.positives.shape[0],
                _pct(curve.recall(31)),
                _rate(curve.false_matches(31), curve.negative_pairs),
                best if best is not None else "-",
                _pct(curve.recall(best)) if best is not None else "-",
            ]
        )
    header = ["PDQ database", "photos", "recall <= 31", "false matches <= 31"]
    header += ["threshold for 99.99%", "recall there"]
    return [*lines, *_table(header, rows)]


def _improvement_rows(
    evaluation: Evaluation, before: str, after: str, threshold_of: Callable[[str], int | None]
) -> list[list[object]]:
    rows: list[list[object]] = []
    b_curve, a_curve = evaluation.curves[before], evaluation.curves[after]
    b_t, a_t = threshold_of(before), threshold_of(after)
    if b_t is None or a_t is None:
        return rows
    b_recall = b_curve.recall_per_transformation(b_t)
    a_recall = a_curve.recall_per_transformation(a_t)
    for index, name in enumerate(evaluation.transformations):
        if abs(a_recall[index] - b_recall[index]) >= 0.005:
            rows.append([name, _pct(b_recall[index]), _pct(a_recall[index])])
    rows.append(["**overall**", _pct(b_curve.recall(b_t)), _pct(a_curve.recall(a_t))])
    rows.append(
        [
            "false matches, copies vs other originals",
            _rate(b_curve.false_matches(b_t), b_curve.negative_pairs),
            _rate(a_curve.false_matches(a_t), a_curve.negative_pairs),
        ]
    )
    b_fm, pairs = evaluation.original_false_matches(before, b_t)
    a_fm, _ = evaluation.original_false_matches(after, a_t)
    rows.append(["false matches among originals", _rate(b_fm, pairs), _rate(a_fm, pairs)])
    return rows


def _improvements_markdown(
    evaluation: Evaluation, methods: Mapping[str, Any], figures: Mapping[str, str]
) -> list[str]:
    lines = ["## Improvements (before / after)", ""]
    sections = [
        (
            "(a) PDQ: the 8 rotations/flips of the query, pdqhash's one-pass dihedral mode",
            "pdq",
            "pdq+dihedral",
            "What `hashmatch hash --dihedral` does today. Cost: 8 PDQ hashes per query from one "
            "pass (about the time of one hash), and 8 lookups per query. pdqhash derives the 7 "
            "others from the original's DCT; that is only exact when its downsampling filter "
            "is symmetric, which it is not for every image size (256 or 512 px sides, say), so "
            "a flipped copy can land tens of bits away.",
        ),
        (
            "(a) PDQ: the 8 rotations/flips of the query, each rotated image hashed",
            "pdq",
            "pdq+rotations",
            "The 8 rotated/flipped pixel images hashed one by one (exact). Cost: 8 PDQ hashes "
            "per query (8 times the hashing time) and 8 lookups.",
        ),
        (
            "(b) Uniform borders trimmed: pdq",
            "pdq",
            "pdq+trim",
            "When the query has a uniform border, it is also hashed with the border trimmed, "
            "and matches when either hash is within the threshold of the database hash (the "
            "database is hashed as always). Cost: a look at the outer lines of pixels (a few "
            "ms); for bordered queries only, one more hash and one more lookup.",
        ),
        ("(b) Uniform borders trimmed: phash", "phash", "phash+trim", ""),
        ("(b) Uniform borders trimmed: dhash", "dhash", "dhash+trim", ""),
        (
            "(a) and (b) together: pdq",
            "pdq",
            "pdq+rotations+trim",
            "The 8 rotated/flipped images of the query and its trimmed copy: 9 PDQ hashes per "
            "bordered query, 8 otherwise.",
        ),
    ]
    for title, before, after, cost in sections:
        lines += [f"### {title}", ""]
        if cost:
            lines += [cost, ""]
        for label, threshold_of in (
            ("at the default threshold", _default_threshold),
            (
                "each at its own strict threshold (precision >= 99.99%, else >= 99.9%)",
                lambda m: strict_threshold(evaluation.curves[m])[0],
            ),
        ):
            b_t, a_t = threshold_of(before), threshold_of(after)
            lines += [f"{label.capitalize()} (before <= {b_t}, after <= {a_t}):", ""]
            rows = _improvement_rows(evaluation, before, after, threshold_of)
            lines += _table(["transformation", "before", "after"], rows) if rows else ["-", ""]
    if "improvements" in figures:
        lines += [f"![improvements]({figures['improvements']})", ""]

    lines += [
        "### (c) Two hash types combined",
        "",
        "Every pair of thresholds was tried; the best rule at each precision target is "
        "shown against the best single type. `and`: both distances within their thresholds "
        "(lets each threshold be looser); `or`: either within (needs each stricter). Cost: "
        "both hashes per query and per database entry, two lookups.",
        "",
    ]
    for target in (PRECISION_TARGET, LOOSER_PRECISION_TARGET):
        lines += _combination_rows(evaluation, target)
    return lines


def _combination_rows(evaluation: Evaluation, target: float) -> list[str]:
    singles = []
    for method in EVALUATED_TYPES:
        threshold = best_threshold(evaluation.curves[method], target)
        if threshold is not None:
            singles.append((evaluation.curves[method].recall(threshold), method, threshold))
    rows: list[list[object]] = []
    if singles:
        recall, method, threshold = max(singles)
        rows.append([f"best single: {method}", f"<= {threshold}", _pct(recall), ""])
    else:
        rows.append(["best single", "none reaches the target", "-", ""])
    rows += [
        [
            f"{c.types[0]} {c.rule} {c.types[1]}",
            f"<= {c.thresholds[0]}, <= {c.thresholds[1]}",
            _pct(c.recall),
            c.false_matches,
        ]
        for c in evaluation.combinations
        if c.target == target
    ]
    header = ["rule", "thresholds", f"recall at >= {100 * target:g}%", "false matches"]
    return [f"Precision >= {100 * target:g}%:", "", *_table(header, rows)]


def _thorn_markdown(evaluation: Evaluation) -> list[str]:
    lines = [
        "## Beside Thorn's perception benchmark",
        "",
        "Recall at precision >= 99.99% (ours also at >= 99.9%; PDQ with the database gated on "
        f"quality >= {MIN_PDQ_QUALITY} when that curve exists, as our service matches). "
        "Thorn's figures come from their own data set, transformation parameters and precision "
        "bookkeeping; ours from this folder and the transformations above, so only the "
        "pattern is comparable.",
        "",
    ]
    rows = []
    names = evaluation.transformations
    for label, method, transformations in THORN_COUNTERPARTS:
        curve = evaluation.curves[method]
        if method == "pdq" and evaluation.quality_gated is not None:
            curve = evaluation.quality_gated
        cells = []
        for target in (PRECISION_TARGET, LOOSER_PRECISION_TARGET):
            threshold = best_threshold(curve, target)
            if threshold is None:
                cells.append("-")
                continue
            if not transformations:
                cells.append(f"{_pct(curve.recall(threshold))} (<= {threshold})")
                continue
            per = curve.recall_per_transformation(threshold)
            values = [per[names.index(n)] for n in transformations if n in names]
            if not values:
                cells.append("-")
            elif len(values) == 1:
                cells.append(f"{_pct(values[0])} (<= {threshold})")
            else:
                cells.append(f"{_pct(min(values))} lowest (<= {threshold})")
        rows.append([label, THORN_PUBLISHED[label], *cells])
    header = ["figure", "Thorn (published)", "ours, >= 99.99%", "ours, >= 99.9%"]
    return [*lines, *_table(header, rows)]


def write_plots(evaluation: Evaluation, out: Path) -> dict[str, str]:
    """PNG plots in ``out``; returns their file names by role."""
    # Imported here: only the report needs matplotlib, and importing it is slow.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(evaluation.transformations)
    curves = evaluation.curves
    files: dict[str, str] = {}

    figure, axis = plt.subplots(figsize=(9, 0.32 * len(names) + 1.5))
    positions = np.arange(len(names))
    height = 0.8 / len(EVALUATED_TYPES)
    for offset, method in enumerate(EVALUATED_TYPES):
        threshold = _default_threshold(method)
        axis.barh(
            positions + offset * height,
            100 * curves[method].recall_per_transformation(threshold),
            height=height,
            label=f"{method} <= {threshold}",
        )
    axis.set_yticks(positions + height, names)
    axis.invert_yaxis()
    axis.set_xlabel("recall (%) at the default threshold")
    axis.set_xlim(0, 100)
    # Below the axis: inside the axes it would hide the last rows.
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=len(EVALUATED_TYPES))
    axis.set_title("Modified copies found, per transformation")
    figure.tight_layout()
    files["recall_per_transformation"] = "recall_per_transformation.png"
    figure.savefig(out / files["recall_per_transformation"], dpi=110)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(7, 5))
    for method in (*EVALUATED_TYPES, "pdq+dihedral", "pdq+rotations", "pdq+rotations+trim"):
        curve = curves[method]
        rates = [curve.query_false_match_rate(t) for t in curve.thresholds.tolist()]
        recalls = [100 * curve.recall(t) for t in curve.thresholds.tolist()]
        style = "--" if "+" in method else "-"
        (line,) = axis.plot(rates, recalls, style, label=method)
        default = _default_threshold(method)
        axis.plot(
            [curve.query_false_match_rate(default)],
            [100 * curve.recall(default)],
            "o",
            color=line.get_color(),
        )
    axis.set_xscale("symlog", linthresh=1e-7)
    axis.set_xlabel("false-match rate (copies vs other originals); dots: default thresholds")
    axis.set_ylabel("overall recall (%)")
    axis.set_title("Recall against false matches (thresholds swept)")
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    files["recall_vs_false_matches"] = "recall_vs_false_matches.png"
    figure.savefig(out / files["recall_vs_false_matches"], dpi=110)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(9, 0.32 * len(names) + 1.5))
    shown = [
        ("pdq", "pdq"),
        ("pdq+dihedral", "pdq + one-pass dihedral"),
        ("pdq+rotations", "pdq + 8 rotated images"),
        ("pdq+trim", "pdq + trimmed query"),
        ("pdq+rotations+trim", "pdq + rotated images + trimmed"),
    ]
    height = 0.8 / len(shown)
    for offset, (method, label) in enumerate(shown):
        axis.barh(
            positions + offset * height,
            100 * curves[method].recall_per_transformation(_default_threshold(method)),
            height=height,
            label=label,
        )
    axis.set_yticks(positions + height, names)
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("recall (%) at PDQ <= 31")
    axis.legend(loc="lower right")
    axis.set_title("PDQ improvements, per transformation")
    figure.tight_layout()
    files["improvements"] = "improvements.png"
    figure.savefig(out / files["improvements"], dpi=110)
    plt.close(figure)
    return files


REPORT_NAME = "effectiveness.md"
RESULTS_NAME = "results.json"


def write_report(evaluation: Evaluation, out: Path) -> Path:
    """Markdown report, PNG plots and results.json in ``out`` (created); returns the report."""
    out.mkdir(parents=True, exist_ok=True)
    figures = write_plots(evaluation, out)
    report = out / REPORT_NAME
    report.write_text(render_markdown(evaluation, figures), encoding="utf-8")
    save_hashes([*evaluation.photos, *evaluation.failed], out / HASHES_NAME)
    (out / RESULTS_NAME).write_text(
        json.dumps(summary(evaluation), indent=2, sort_keys=True), encoding="utf-8"
    )
    return report


HASHES_NAME = "hashes.jsonl"


def save_hashes(photos: Iterable[PhotoHashes], path: Path) -> None:
    """Every hash computed, one JSON object per photo (to re-analyse without re-hashing)."""
    with path.open("w", encoding="utf-8") as handle:
        for photo in photos:
            handle.write(json.dumps(asdict(photo)) + "\n")


def load_hashes(path: Path) -> list[PhotoHashes]:
    with path.open(encoding="utf-8") as handle:
        return [PhotoHashes(**json.loads(line)) for line in handle if line.strip()]

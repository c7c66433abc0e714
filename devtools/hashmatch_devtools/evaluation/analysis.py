"""Every figure of an evaluation from its hashes: the curves of each method, the distances among
originals, false matches per category.

Methods: each hash type alone, and the improvements measured the same way (the 8 PDQ
rotations/flips of the query, uniform borders trimmed, two hash types combined).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from hashmatch.hashtypes import MIN_PDQ_QUALITY
from hashmatch_devtools.evaluation.combinations import COMBINATIONS, Combination, best_combinations
from hashmatch_devtools.evaluation.curves import (
    LOOSER_PRECISION_TARGET,
    PRECISION_TARGET,
    Curve,
    build_curve,
    max_threshold,
)
from hashmatch_devtools.evaluation.dataset import Dataset, Photo, negative_mask
from hashmatch_devtools.evaluation.distances import (
    dihedral_query_tensor,
    hamming_matrix,
    hex_to_words,
    query_distance_tensor,
    symmetric_min,
)
from hashmatch_devtools.evaluation.hashing import EVALUATED_TYPES, PhotoHashes


@dataclass
class CategoryRates:
    category: str
    photos: int
    pairs: int
    false_matches: dict[str, int]  # method -> count at its threshold


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
            hash_type, tensors[hash_type], mask, max_threshold(hash_type)
        )
        if hash_type == "pdq":
            trusted = np.array([photo.pdq_quality >= MIN_PDQ_QUALITY for photo in photos])
            if trusted.sum() >= 2:
                evaluation.quality_gated = build_curve(
                    "pdq",
                    tensors["pdq"][trusted][:, :, trusted],
                    mask[trusted][:, trusted],
                    max_threshold("pdq"),
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
            method, trim_tensors[hash_type], mask, max_threshold(hash_type)
        )
        evaluation.original_distances[method] = symmetric_min(
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
            method, rotation_tensors[method], mask, max_threshold("pdq")
        )
        variant_originals = hex_to_words(
            [hexes for photo in photos for hexes in original_hexes(photo)]
        ).reshape(len(photos), 1, 8, -1)
        evaluation.original_distances[method] = symmetric_min(
            dihedral_query_tensor(variant_originals, pdq_originals)[:, 0, :]
        )
    # Both: the 8 rotations/flips and the trimmed copy of the query.
    evaluation.curves["pdq+rotations+trim"] = build_curve(
        "pdq+rotations+trim",
        np.minimum(rotation_tensors["pdq+rotations"], trim_tensors["pdq"]),
        mask,
        max_threshold("pdq"),
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

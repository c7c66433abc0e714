"""Recall, false matches and precision per threshold for one matching method, and thresholds.

A method is a hash type, maybe with improvements after a '+' (``pdq+rotations+trim``); its
thresholds are the hash type's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hashmatch.hashtypes import get_hash_type

PRECISION_TARGET = 0.9999
# Also reported: on a few hundred photos a single unrelated pair can put 99.99% out of reach.
LOOSER_PRECISION_TARGET = 0.999


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


def _method_base_type(method: str) -> str:
    return method.split("+", 1)[0]


def default_threshold(method: str) -> int:
    return get_hash_type(_method_base_type(method)).default_threshold


def max_threshold(method: str) -> int:
    return get_hash_type(_method_base_type(method)).max_threshold

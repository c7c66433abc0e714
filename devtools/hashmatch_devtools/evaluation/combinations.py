"""Improvement (c): two hash types combined, both within their thresholds ("and") or either."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hashmatch_devtools.evaluation.curves import PRECISION_TARGET, max_threshold, precision_of

# The pairs of hash types combined; every pair of their thresholds is tried.
COMBINATIONS: tuple[tuple[str, str], ...] = (("pdq", "phash"), ("pdq", "dhash"), ("phash", "dhash"))


@dataclass
class Combination:
    types: tuple[str, str]
    rule: str  # "and" | "or"
    thresholds: tuple[int, int]
    recall: float
    precision: float
    false_matches: int
    target: float = PRECISION_TARGET


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
    max_a, max_b = max_threshold(types[0]), max_threshold(types[1])
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

"""The headline figures as plain data (results.json) and a fingerprint of the hashes behind them."""

from __future__ import annotations

import hashlib
from typing import Any

from hashmatch_devtools.evaluation.analysis import Evaluation
from hashmatch_devtools.evaluation.curves import PRECISION_TARGET, best_threshold, default_threshold
from hashmatch_devtools.evaluation.hashing import EVALUATED_TYPES


def summary(evaluation: Evaluation) -> dict[str, Any]:
    """The headline figures as plain data (also written to results.json)."""
    methods: dict[str, Any] = {}
    for method, curve in evaluation.curves.items():
        default = default_threshold(method)
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


def fingerprint(evaluation: Evaluation) -> str:
    """A digest of every hash computed: equal fingerprints, identical inputs to the figures."""
    digest = hashlib.sha256()
    for photo in evaluation.photos:
        digest.update(photo.key.encode())
        for hexes in (photo.original, *photo.queries.values()):
            for name in EVALUATED_TYPES:
                digest.update(hexes[name].encode())
    return digest.hexdigest()

"""The evaluation's error rates as the transparency report publishes them (error_rates.json).

Per perceptual hash type and every threshold it allows: the recall of the modified copies
(overall and per transformation) and the false matches among pairs of distinct, unrelated
originals. The report picks the deployed threshold of each type
(hashmatch.transparency.error_rates). Written by ``bench/effectiveness.py --error-rates PATH``.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from hashmatch.hashtypes import get_hash_type
from hashmatch_devtools.evaluation.analysis import Evaluation
from hashmatch_devtools.evaluation.summary import fingerprint

SCHEMA = "hashmatch-error-rates/1"
PUBLISHED_TYPES = ("pdq", "phash", "dhash")


def error_rates(evaluation: Evaluation, *, dataset: str, command: str, on: date) -> dict[str, Any]:
    hash_types: dict[str, Any] = {}
    for name in PUBLISHED_TYPES:
        curve = evaluation.curves[name]
        per_threshold = {}
        for threshold in range(get_hash_type(name).max_threshold + 1):
            false_matches, pairs = evaluation.original_false_matches(name, threshold)
            per_threshold[str(threshold)] = {
                "recall": round(curve.recall(threshold), 4),
                "recall_per_transformation": [
                    round(value, 4) for value in curve.recall_per_transformation(threshold).tolist()
                ],
                "false_matches": false_matches,
                "pairs": pairs,
            }
        hash_types[name] = per_threshold
    sample = f" (a seeded sample of {evaluation.limit})" if evaluation.limit else ""
    return {
        "schema": SCHEMA,
        "dataset": f"{dataset}: {len(evaluation.photos)} benign photos{sample}, "
        f"{len(evaluation.transformations)} transformations, seed {evaluation.seed}",
        "evaluated_on": on.isoformat(),
        "command": command,
        "fingerprint": fingerprint(evaluation),
        "transformations": list(evaluation.transformations),
        "note": (
            "Recall: modified copies found within the threshold of their original (every "
            "transformation weighs the same). False-match rate: pairs of distinct, unrelated "
            "originals within the threshold. PDQ is measured without the service's quality "
            "gate (indicators and queries below quality 50 are refused), which only removes "
            "false matches. docs/effectiveness.md gives the method."
        ),
        "hash_types": hash_types,
    }


def write_error_rates(path: Path, rates: dict[str, Any]) -> None:
    path.write_text(json.dumps(rates, indent=1) + "\n", encoding="utf-8")

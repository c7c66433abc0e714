"""The detection error rates in force: from the checked-in evaluation result, at the deployed
thresholds.

``error_rates.json`` beside this module is written by ``bench/effectiveness.py --error-rates``
(hashmatch_devtools.evaluation.error_rates) from an evaluation run: its data set, date, command
and the recall and false matches of each perceptual hash type at every threshold. The report
picks the deployed thresholds of each type (MATCH_THRESHOLDS, per database), so a changed
threshold publishes the rates that go with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hashmatch.hashtypes import HASH_TYPES
from hashmatch.index import DATABASES
from hashmatch.transparency.model import ErrorRates, HashTypeErrorRates, TransformationRecall

EVALUATION_RESULT = Path(__file__).with_name("error_rates.json")
SCHEMA = "hashmatch-error-rates/1"


class ThresholdRates(BaseModel):
    recall: float
    recall_per_transformation: list[float]
    false_matches: int
    pairs: int


class EvaluationResult(BaseModel):
    """The checked-in file's shape."""

    schema_: str
    dataset: str
    evaluated_on: date
    command: str
    fingerprint: str
    transformations: list[str]
    note: str
    hash_types: dict[str, dict[str, ThresholdRates]]  # type -> threshold (text) -> rates


@cache
def evaluation_result(path: Path = EVALUATION_RESULT) -> EvaluationResult:
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if raw.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a {SCHEMA} file")
    raw["schema_"] = raw.pop("schema")
    return EvaluationResult.model_validate(raw)


def error_rates_in_force(
    thresholds: Mapping[str, Mapping[str, int]], result: EvaluationResult | None = None
) -> ErrorRates:
    """Each evaluated type at each threshold deployed for it (``{database: {type: threshold}}``,
    a type a database does not name at the type's default), with the databases using it."""
    result = result or evaluation_result()
    types = []
    for name, per_threshold in sorted(result.hash_types.items()):
        databases_at: dict[int, list[str]] = {}
        for database in sorted(DATABASES):
            threshold = thresholds.get(database, {}).get(name)
            if threshold is None and name in HASH_TYPES:
                threshold = HASH_TYPES[name].default_threshold
            if threshold is not None:
                databases_at.setdefault(threshold, []).append(database)
        for threshold, databases in sorted(databases_at.items()):
            if str(threshold) not in per_threshold:
                continue
            rates = per_threshold[str(threshold)]
            types.append(
                HashTypeErrorRates(
                    hash_type=name,
                    threshold=threshold,
                    databases=databases,
                    recall=rates.recall,
                    recall_per_transformation=[
                        TransformationRecall(transformation=t, recall=r)
                        for t, r in zip(
                            result.transformations, rates.recall_per_transformation, strict=True
                        )
                    ],
                    false_match_rate=rates.false_matches / rates.pairs if rates.pairs else 0.0,
                    false_matches=rates.false_matches,
                    pairs=rates.pairs,
                )
            )
    return ErrorRates(
        dataset=result.dataset,
        evaluated_on=result.evaluated_on,
        command=result.command,
        fingerprint=result.fingerprint,
        hash_types=types,
        note=result.note,
    )

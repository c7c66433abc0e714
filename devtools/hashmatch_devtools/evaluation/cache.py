"""Hashes saved by a run, to analyse again without hashing again (``--reuse-hashes``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

from hashmatch.errors import InvalidInput
from hashmatch_devtools.evaluation.dataset import Dataset
from hashmatch_devtools.evaluation.hashing import PhotoHashes

HASHES_NAME = "hashes.jsonl"


def save_hashes(photos: Iterable[PhotoHashes], path: Path) -> None:
    """Every hash computed, one JSON object per photo (to re-analyse without re-hashing)."""
    with path.open("w", encoding="utf-8") as handle:
        for photo in photos:
            handle.write(json.dumps(asdict(photo)) + "\n")


def load_hashes(path: Path) -> list[PhotoHashes]:
    with path.open(encoding="utf-8") as handle:
        return [PhotoHashes(**json.loads(line)) for line in handle if line.strip()]


def check_saved_hashes(
    precomputed: Sequence[PhotoHashes], dataset: Dataset, names: tuple[str, ...]
) -> list[PhotoHashes]:
    """The saved hashes of the dataset's photos, in its order (refused if any is missing or
    was hashed with other transformations)."""
    by_key = {photo.key: photo for photo in precomputed}
    missing = [photo.key for photo in dataset.photos if photo.key not in by_key]
    if missing:
        raise InvalidInput(f"saved hashes lack {len(missing)} photos, e.g. {missing[0]}")
    hashed = [by_key[photo.key] for photo in dataset.photos]
    for photo in hashed:
        if photo.error is None and set(photo.queries) != set(names):
            raise InvalidInput(f"saved hashes of {photo.key} have other transformations")
    return hashed

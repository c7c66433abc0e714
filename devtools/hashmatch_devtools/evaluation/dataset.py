"""The photos of a folder, their categories and which pairs of them are related (manifest.csv).

A related pair (a stereo pair, the same scene, a deliberate edit) is left out of the negative
pairs: two such photos matching is not a false match.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashmatch.errors import InvalidInput
from hashmatch_client.files import IMAGE_EXTENSIONS, images_under

MANIFEST_NAME = "manifest.csv"
UNCATEGORISED = "uncategorised"


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
    return images_under(folder)


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

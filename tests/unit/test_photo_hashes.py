"""Our PDQ, pHash and dHash equal the reference hashes of every shared photo.

../shared/data/photos/hashes.csv was computed on ``convert("RGB")`` with alpha composited on
white (pdqhash 0.2.8, ImageHash 4.3.2). Hashing all 565 photos takes about 27 s on one core, so
the work is spread over a pool of (at most) two processes.
"""

from __future__ import annotations

import csv
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from hashmatch_client.imaging import hash_file

PHOTOS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "photos"
TYPES = ("pdq", "phash", "dhash")

pytestmark = pytest.mark.shared_data


def _our_hashes(filename: str) -> tuple[str, dict[str, str], int | None]:
    result = hash_file(PHOTOS / filename, TYPES)
    return filename, result.hashes, result.qualities.get("pdq")


@pytest.fixture(scope="module")
def reference_and_ours() -> list[tuple[dict[str, str], dict[str, str], int | None]]:
    table = PHOTOS / "hashes.csv"
    if not table.is_file():
        pytest.skip(f"shared photos not found at {PHOTOS.resolve()} (../shared/data)")
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    workers = max(1, min(2, os.cpu_count() or 1))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        ours = {
            name: (hashes, quality)
            for name, hashes, quality in pool.map(
                _our_hashes, [row["filename"] for row in rows], chunksize=8
            )
        }
    return [(row, *ours[row["filename"]]) for row in rows]


def test_every_photo_is_in_the_reference(reference_and_ours) -> None:
    assert len(reference_and_ours) == 565


@pytest.mark.parametrize(
    ("ours_name", "reference_column"), [("pdq", "pdq_hex"), ("phash", "phash"), ("dhash", "dhash")]
)
def test_our_hashes_equal_the_reference(reference_and_ours, ours_name, reference_column) -> None:
    mismatches = [
        row["filename"]
        for row, hashes, _quality in reference_and_ours
        if hashes[ours_name] != row[reference_column]
    ]
    assert mismatches == []


def test_pdq_quality_equals_the_reference(reference_and_ours) -> None:
    mismatches = [
        row["filename"]
        for row, _hashes, quality in reference_and_ours
        if quality != int(row["pdq_quality"])
    ]
    assert mismatches == []

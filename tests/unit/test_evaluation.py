"""Effectiveness evaluation: pair bookkeeping, recall/precision arithmetic, end-to-end report."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest

from hashmatch.hashtypes import get_hash_type
from hashmatch_client.cli.main import command_entry_points
from hashmatch_client.cli.main import main as hashmatch_main
from hashmatch_devtools.evaluation import evaluate
from hashmatch_devtools.evaluation.analysis import Evaluation
from hashmatch_devtools.evaluation.cache import HASHES_NAME, load_hashes
from hashmatch_devtools.evaluation.combinations import best_combinations
from hashmatch_devtools.evaluation.curves import Curve, best_threshold, build_curve, precision_of
from hashmatch_devtools.evaluation.dataset import (
    UNCATEGORISED,
    load_dataset,
    negative_mask,
    related_pairs_from_notes,
)
from hashmatch_devtools.evaluation.distances import hamming_matrix, hex_to_words
from hashmatch_devtools.evaluation.report import write_report
from hashmatch_devtools.evaluation.summary import fingerprint
from tests.unit.test_transforms import synthetic_photo

# A handful of transformations keeps the end-to-end runs to a second or two.
FEW = ("jpeg_q50", "pad_20%", "flip_horizontal", "crop_5%")


def write_photos(folder: Path, count: int, manifest_rows: list[dict[str, str]] | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        synthetic_photo(seed=index, size=(96 + 8 * index, 80)).save(folder / f"img{index}.png")
    if manifest_rows is not None:
        with (folder / "manifest.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["filename", "category", "notes"])
            writer.writeheader()
            writer.writerows(manifest_rows)
    return folder


# --- distances --------------------------------------------------------------------------------


def test_packed_hamming_distances_equal_the_hash_types_distances() -> None:
    rng = random.Random(1)
    for name, digits in (("pdq", 64), ("phash", 16)):
        a = ["".join(rng.choice("0123456789abcdef") for _ in range(digits)) for _ in range(5)]
        b = ["".join(rng.choice("0123456789abcdef") for _ in range(digits)) for _ in range(4)]
        matrix = hamming_matrix(hex_to_words(a), hex_to_words(b))
        hash_type = get_hash_type(name)
        expected = [[hash_type.distance(x, y) for y in b] for x in a]
        assert matrix.tolist() == expected


# --- related pairs and the negative set ------------------------------------------------------


def test_notes_naming_another_file_relate_the_two() -> None:
    notes = {
        "pkg__aloeL.jpg": "stereo pair with aloeR",
        "pkg__aloeR.jpg": "",
        "pkg__ela_modified.jpg": "DERIVED: edited copy of ela_original.jpg",
        "pkg__ela_original.jpg": "",
        "x__mamurk_a_2.png": "PDQ 8 to mamurk_a_1; low PDQ quality",
        "x__mamurk_a_1.png": "",
    }
    assert related_pairs_from_notes(notes) == {
        frozenset({"pkg__aloeL.jpg", "pkg__aloeR.jpg"}),
        frozenset({"pkg__ela_modified.jpg", "pkg__ela_original.jpg"}),
        frozenset({"x__mamurk_a_2.png", "x__mamurk_a_1.png"}),
    }


def test_identical_pair_notes_without_a_name_relate_their_files() -> None:
    notes = {"m_left.png": "stereo pair", "m_right.png": "stereo pair", "other.png": ""}
    assert related_pairs_from_notes(notes) == {frozenset({"m_left.png", "m_right.png"})}


def test_a_common_word_does_not_name_another_packages_file() -> None:
    notes = {"etr__floor01.png": "PDQ 20 to floor02 (same base texture)", "etr__floor02.png": ""}
    notes["gimp__texture.jpg"] = ""
    assert related_pairs_from_notes(notes) == {frozenset({"etr__floor01.png", "etr__floor02.png"})}


def test_notes_that_name_no_file_relate_nothing() -> None:
    notes = {"a.png": "has alpha/transparency", "b.png": "has alpha/transparency", "as.png": ""}
    assert related_pairs_from_notes(notes) == set()


def test_related_pairs_are_left_out_of_the_negatives() -> None:
    keys = ["a.png", "b.png", "c.png"]
    mask = negative_mask(keys, frozenset({frozenset({"a.png", "c.png"})}))
    assert mask.tolist() == [[False, True, False], [True, False, True], [False, True, False]]


def test_a_folder_without_manifest_has_one_category_and_no_related_pairs(
    tmp_path: Path,
) -> None:
    dataset = load_dataset(write_photos(tmp_path, 3, manifest_rows=None))
    assert {photo.category for photo in dataset.photos} == {UNCATEGORISED}
    assert dataset.related_pairs == frozenset()
    assert not dataset.has_manifest


def test_limit_takes_the_same_sample_for_the_same_seed(tmp_path: Path) -> None:
    folder = write_photos(tmp_path, 8, manifest_rows=None)
    first = [p.key for p in load_dataset(folder, limit=4, seed=5).photos]
    again = [p.key for p in load_dataset(folder, limit=4, seed=5).photos]
    assert first == again
    assert len(first) == 4
    samples = {tuple(p.key for p in load_dataset(folder, limit=4, seed=s).photos) for s in range(6)}
    assert len(samples) > 1


# --- recall, precision, thresholds --------------------------------------------------------------


def hand_built_curve() -> Curve:
    # 2 photos x 2 transformations; query distances to originals, (photo, transformation, original)
    distances = np.array(
        [
            [[1, 9], [5, 3]],  # photo 0: copies at 1 and 5 from their original
            [[7, 2], [20, 30]],  # photo 1: copies at 2 and 30
        ],
        dtype=np.uint16,
    )
    return build_curve("phash", distances, negative_mask(["a", "b"], frozenset()), 16)


def test_recall_counts_copies_within_the_threshold() -> None:
    curve = hand_built_curve()
    assert curve.recall(0) == 0.0
    assert curve.recall(2) == 0.5  # distances 1 and 2
    assert curve.recall(5) == 0.75
    assert curve.recall_per_transformation(5).tolist() == [1.0, 0.5]
    assert curve.recall(16) == 0.75  # 30 is beyond every threshold


def test_false_matches_count_copies_against_other_originals() -> None:
    curve = hand_built_curve()
    # negatives: photo 0 vs original 1 (9, 3) and photo 1 vs original 0 (7, 20)
    assert curve.negative_pairs == 4
    assert curve.false_matches(2) == 0
    assert curve.false_matches(3) == 1
    assert curve.false_matches(9) == 3
    assert curve.precision(3) == pytest.approx(2 / 3)


def test_precision_is_one_when_nothing_matches() -> None:
    assert precision_of(0, 0) == 1.0
    assert precision_of(9999, 1) == pytest.approx(0.9999)


def test_best_threshold_is_the_highest_recall_that_keeps_the_precision() -> None:
    curve = hand_built_curve()
    # Precision 1.0 up to threshold 2 (recall 0.5); at 3 a false match arrives (precision 2/3).
    assert best_threshold(curve, target=0.99) == 2
    assert best_threshold(curve, target=0.6) == 5  # recall 0.75, precision 3/4


def test_best_threshold_is_none_when_no_threshold_is_precise_enough() -> None:
    positives = np.array([[5]])
    counts = np.zeros(18, dtype=np.int64)
    counts[0] = 1  # a stranger at distance 0: every threshold is imprecise
    curve = Curve("phash", np.arange(17), positives, counts, 1)
    assert best_threshold(curve, target=0.9) is None


def test_combining_two_types_with_and_rejects_what_one_type_alone_accepts() -> None:
    # Given one copy per photo at distance 4 in both types; a stranger close in type A only
    first = np.array([[[4, 2]], [[2, 4]]], dtype=np.uint16)
    second = np.array([[[4, 15]], [[15, 4]]], dtype=np.uint16)
    mask = negative_mask(["a", "b"], frozenset())
    # When the best rules at perfect precision are searched
    results = {c.rule: c for c in best_combinations(first, second, mask, ("phash", "dhash"), 1.0)}
    # Then "and" finds every copy without a false match; "or" cannot beat it
    assert results["and"].recall == 1.0
    assert results["and"].false_matches == 0
    assert results["or"].recall <= 1.0
    assert results["or"].precision == 1.0


# --- end to end -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        {"filename": f"img{i}.png", "category": "photo" if i < 4 else "texture", "notes": ""}
        for i in range(6)
    ]
    rows[0]["notes"] = "same scene as img1"
    return write_photos(tmp_path_factory.mktemp("photos"), 6, rows)


@pytest.fixture(scope="module")
def evaluated(photo_folder: Path) -> Evaluation:
    return evaluate(photo_folder, seed=1, workers=1, transformations=FEW)


def test_evaluation_pairs_every_copy_with_its_original(evaluated: Evaluation) -> None:
    curve = evaluated.curves["pdq"]
    assert curve.positives.shape == (6, len(FEW))
    # 6 photos x 4 copies x 5 other originals, minus the related pair in both directions
    assert curve.negative_pairs == 6 * 4 * 5 - 2 * 4


def test_the_related_pair_is_excluded_from_the_false_match_rates(
    evaluated: Evaluation,
) -> None:
    _, pairs = evaluated.original_false_matches("pdq", 31)
    assert pairs == 15 - 1
    photo_row = next(r for r in evaluated.category_rates({"pdq": 31}) if r.category == "photo")
    assert photo_row.pairs == 6 - 1


def test_the_eight_rotated_images_find_every_flipped_copy(
    evaluated: Evaluation,
) -> None:
    flip = FEW.index("flip_horizontal")
    assert evaluated.curves["pdq"].recall_per_transformation(31)[flip] == 0.0
    assert evaluated.curves["pdq+rotations"].recall_per_transformation(31)[flip] == 1.0


def test_trimming_finds_the_padded_copy(evaluated: Evaluation) -> None:
    pad = FEW.index("pad_20%")
    assert evaluated.curves["pdq+trim"].recall_per_transformation(31)[pad] == 1.0


def test_the_same_seed_gives_the_same_hashes(photo_folder: Path, evaluated: Evaluation) -> None:
    again = evaluate(photo_folder, seed=1, workers=1, transformations=FEW)
    assert fingerprint(again) == fingerprint(evaluated)


def test_the_report_has_the_tables_and_the_plots(evaluated: Evaluation, tmp_path: Path) -> None:
    report = write_report(evaluated, tmp_path / "out")
    text = report.read_text()
    for heading in (
        "## Headline",
        "## Recall per transformation",
        "## False matches among originals, per category",
        "### (a) PDQ: the 8 rotations/flips of the query",
        "### (c) Two hash types combined",
        "## Beside Thorn's perception benchmark",
    ):
        assert heading in text
    for plot in ("recall_per_transformation.png", "recall_vs_false_matches.png"):
        assert (tmp_path / "out" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(load_hashes(tmp_path / "out" / HASHES_NAME)) == 6


def test_the_command_writes_the_report_for_a_folder_without_manifest(tmp_path: Path) -> None:
    folder = write_photos(tmp_path / "photos", 3, manifest_rows=None)
    status = hashmatch_main(
        ["evaluate", str(folder), "--out", str(tmp_path / "out"), "--workers", "1"]
    )
    assert status == 0
    assert "evaluate" in {entry.name for entry in command_entry_points()}
    assert "uncategorised" in (tmp_path / "out" / "effectiveness.md").read_text()


def test_the_command_fails_cleanly_on_a_folder_without_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = hashmatch_main(["evaluate", str(tmp_path), "--out", str(tmp_path / "out")])
    assert status == 1
    assert "no image files" in capsys.readouterr().err

"""The augmentation report's scoring on hand-made banks: one match per indicator over its
variants, the agreement rule on the same pair, the gates, the counts and the seeded split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashmatch_devtools.evaluation.augmentation.bank import Bank, HashSide
from hashmatch_devtools.evaluation.augmentation.report import split_photos
from hashmatch_devtools.evaluation.augmentation.scoring import (
    NO_MATCH,
    Gates,
    Setting,
    best_threshold,
    build_curve,
    hash_counts,
    score_tensors,
)
from hashmatch_devtools.evaluation.dataset import Photo

VARIANTS = ("plain", "crop")
ALTERNATES = ("plain", "turned")
TRANSFORMATIONS = ("copy", "original")


def words(seed: int, flips: int = 0) -> np.ndarray:
    """A random PDQ hash as 4 words, with its first ``flips`` bits flipped."""
    value = np.random.default_rng(seed).integers(0, 2**63, 4, dtype=np.uint64)
    for bit in range(flips):
        value[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return value


def dhash(seed: int, flips: int = 0) -> np.uint64:
    value = int(np.random.default_rng(seed + 1000).integers(0, 2**63))
    for bit in range(flips):
        value ^= 1 << bit
    return np.uint64(value)


class BankBuilder:
    """Three photos; every hash random (far from every other) unless a test plants one."""

    def __init__(self, photos: int = 3) -> None:
        self.n = photos
        v, t, a = len(VARIANTS), len(TRANSFORMATIONS), len(ALTERNATES)
        self.i_pdq = np.stack([[words(100 + 10 * p + k) for k in range(v)] for p in range(photos)])
        self.i_dhash = np.array(
            [[dhash(100 + 10 * p + k) for k in range(v)] for p in range(photos)]
        )
        self.i_quality = np.full((photos, v), 90, np.int16)
        self.q_pdq = np.stack(
            [
                [[words(5000 + 100 * p + 10 * x + k) for k in range(a)] for x in range(t)]
                for p in range(photos)
            ]
        )
        self.q_dhash = np.array(
            [
                [[dhash(5000 + 100 * p + 10 * x + k) for k in range(a)] for x in range(t)]
                for p in range(photos)
            ]
        )
        self.q_quality = np.full((photos, t, a), 90, np.int16)

    def plant(self, photo: int, alternate: str, variant: str, pdq: int, dh: int) -> None:
        """Make the copy's ``alternate`` hash ``pdq``/``dh`` bits from the indicator's
        ``variant`` hash of the same photo."""
        a, v = ALTERNATES.index(alternate), VARIANTS.index(variant)
        seed = 100 + 10 * photo + v
        self.q_pdq[photo, 0, a] = words(seed, pdq)
        self.q_dhash[photo, 0, a] = dhash(seed, dh)

    def bank(self) -> Bank:
        return Bank(
            keys=tuple(f"p{p}.png" for p in range(self.n)),
            categories=("c",) * self.n,
            variants=VARIANTS,
            transformations=TRANSFORMATIONS,
            alternates=ALTERNATES,
            indicators=HashSide(
                self.i_pdq, self.i_quality, self.i_dhash, np.ones(self.i_quality.shape, bool)
            ),
            queries=HashSide(
                self.q_pdq, self.q_quality, self.q_dhash, np.ones(self.q_quality.shape, bool)
            ),
            negatives=~np.eye(self.n, dtype=bool),
        )


def own_score(bank: Bank, setting: Setting, photo: int = 0) -> int:
    (scores,) = score_tensors(bank, [setting])
    return int(scores[photo, 0, photo])


def test_a_copy_near_any_variant_scores_as_its_nearest_variant():
    builder = BankBuilder()
    builder.plant(0, "plain", "crop", pdq=12, dh=0)
    bank = builder.bank()

    assert own_score(bank, Setting(VARIANTS, ("plain",))) == 12
    assert own_score(bank, Setting(("plain",), ("plain",))) > 60  # the plain hash is far


def test_the_agreement_rule_adds_the_distances_of_the_same_pair_not_the_best_of_each():
    # Against the crop variant: the "plain" alternate is PDQ-near but dHash-far; "turned"
    # dHash-near but PDQ-far
    builder = BankBuilder()
    builder.plant(0, "plain", "crop", pdq=5, dh=30)
    builder.plant(0, "turned", "crop", pdq=50, dh=1)
    bank = builder.bank()

    assert own_score(bank, Setting(VARIANTS, ALTERNATES, "pdq+dhash")) == 35
    assert own_score(bank, Setting(VARIANTS, ALTERNATES, "pdq")) == 5


def test_under_the_rule_the_own_hash_within_pdqs_threshold_matches_at_any_agreement():
    builder = BankBuilder()
    builder.plant(0, "plain", "plain", pdq=31, dh=30)
    far = BankBuilder()
    far.plant(0, "plain", "plain", pdq=32, dh=30)

    assert own_score(builder.bank(), Setting(("plain",), ("plain",), "pdq+dhash")) == 0
    assert own_score(far.bank(), Setting(("plain",), ("plain",), "pdq+dhash")) == 62


def test_a_variant_below_the_gate_is_left_out_only_when_variants_are_gated():
    builder = BankBuilder()
    builder.plant(0, "plain", "crop", pdq=3, dh=0)
    builder.i_quality[0, VARIANTS.index("crop")] = 40
    bank = builder.bank()

    assert own_score(bank, Setting(VARIANTS, ("plain",), gates=Gates())) > 60
    assert own_score(bank, Setting(VARIANTS, ("plain",), gates=Gates(variants=False))) == 3


def test_an_item_whose_value_is_below_the_gate_matches_nothing():
    builder = BankBuilder()
    builder.plant(0, "turned", "plain", pdq=0, dh=0)
    builder.q_quality[0, 0, ALTERNATES.index("plain")] = 30
    bank = builder.bank()

    assert own_score(bank, Setting(("plain",), ALTERNATES)) == NO_MATCH


def test_precision_counts_false_matches_against_every_indicator_and_tuning_keeps_to_target():
    builder = BankBuilder()
    for photo in range(3):
        builder.plant(photo, "plain", "plain", pdq=4 * (photo + 1), dh=0)  # 4, 8, 12
    # photo 1's copy also lands 6 bits from photo 2's indicator: a false match at 6
    builder.q_pdq[1, 0, 1] = words(100 + 10 * 2, 6)
    bank = builder.bank()
    setting = Setting(("plain",), ALTERNATES)
    (scores,) = score_tensors(bank, [setting])
    everyone = np.ones(3, dtype=bool)

    curve = build_curve(
        scores,
        bank,
        queries=np.array([False, True, False]),
        indicators=everyone,
        positive=("copy",),
        negative=TRANSFORMATIONS,
        max_threshold=63,
    )

    assert curve.false_matches(5) == 0
    assert curve.false_matches(6) == 1
    assert curve.precision(8) == 0.5
    # the false match comes before the true one: nothing is found at the target
    assert curve.recall(best_threshold(curve, 0.9999)) == 0.0
    assert best_threshold(curve, 0.5) == 8


def test_hash_counts_are_distinct_gated_hashes():
    builder = BankBuilder()
    builder.i_pdq[:, 1] = builder.i_pdq[:, 0]  # the crop equals the plain hash everywhere
    bank = builder.bank()

    counts = hash_counts(bank, Setting(VARIANTS, ALTERNATES))

    assert (counts.per_indicator_mean, counts.per_indicator_max) == (1.0, 1)
    assert counts.per_query_max == 2


def test_the_split_is_seeded_stratified_and_independent_of_order():
    photos = [Photo(f"{c}{i}.png", Path(f"{c}{i}.png"), c) for c in "ab" for i in range(5)]

    split = split_photos(photos, 17)

    assert split == split_photos(list(reversed(photos)), 17)
    assert split != split_photos(photos, 18)
    assert sorted(len([k for k in split.tuning if k.startswith(c)]) for c in "ab") == [3, 3]
    assert split.tuning.isdisjoint(split.held_out)
    assert len(split.tuning | split.held_out) == 10


def test_the_hash_cache_holds_the_clients_hashes_and_a_rerun_computes_nothing(tmp_path):
    from PIL import Image

    from hashmatch_client import imaging
    from hashmatch_devtools.evaluation.augmentation.bank import (
        HashJob,
        hash_job,
        indicator_key,
        query_key,
        read_cache,
    )

    rng = np.random.default_rng(3)
    photo = tmp_path / "p.png"
    pixels = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).resize((160, 120), Image.Resampling.BICUBIC).save(photo)
    job = HashJob(
        "p.png",
        photo,
        tmp_path / "cache" / "p.png.npz",
        0,
        512,
        ("plain", "centre_2.5"),
        ("crop_5%", "original"),
        ("plain", "inner_4"),
    )

    first, second = hash_job(job), hash_job(job)

    assert (first.computed, second.computed) == (2 + 2 * 2, 0)
    records = read_cache(job.cache_file)
    image = imaging.load_image(photo.read_bytes())
    crop = imaging.centre_crop(image, 0.025)
    record = records[indicator_key("centre_2.5")]
    pdq = imaging.pdq_hash(crop)
    assert "".join(f"{int(w):016x}" for w in record[:4]) == pdq.hex
    assert int(record[4]) == pdq.quality
    assert f"{int(record[6]):016x}" == str(imaging.imagehash.dhash(crop))
    original = records[query_key("original", "inner_4")]
    assert (
        "".join(f"{int(w):016x}" for w in original[:4])
        == imaging.pdq_hash(imaging.inner_crop(image)).hex
    )

"""The client's indicator variants and augmented query alternates (synthetic images only).

Variants must never hold synthetic black regions (unrelated flat images collide on them), must
be distinct and above the PDQ quality gate, and stay within the indicator's 16 hashes; the
augmented alternates carry one dHash companion each.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageOps

from hashmatch.hashtypes import MAX_INDICATOR_HASHES
from hashmatch.matching.limits import MAX_ALTERNATES_PER_ITEM
from hashmatch_client import imaging
from hashmatch_client.scan import queries_of


def noise(width: int = 320, height: int = 240, seed: int = 1) -> Image.Image:
    """A textured image (high PDQ quality) without any uniform border."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    return image


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("crop", "size"),
    [
        (lambda im: imaging.centre_crop(im, 0.10), (288, 216)),
        (lambda im: imaging.edge_crop(im, 0.05, "left"), (304, 228)),
        (lambda im: imaging.corner_crop(im, 0.05, "br"), (304, 228)),
    ],
    ids=["centre", "edge", "corner"],
)
def test_crops_remove_their_share_of_width_and_height(crop, size):
    assert crop(noise()).size == size


def test_a_corner_crop_keeps_the_opposite_corner_and_an_edge_crop_cuts_one_side():
    image = noise()
    pixels = np.asarray(image)

    kept = np.asarray(imaging.corner_crop(image, 0.05, "br"))
    edge = np.asarray(imaging.edge_crop(image, 0.10, "left"))

    assert np.array_equal(kept[0, 0], pixels[0, 0])  # "br" cuts bottom and right only
    assert np.array_equal(edge[:, 0], pixels[12:228, 32])  # 32 px off the left, 12 off top


@pytest.mark.parametrize("degrees", [1, -2, 4, -4])
def test_a_small_rotation_variant_holds_no_black_corner(degrees):
    white = Image.new("RGB", (400, 300), (255, 255, 255))

    turned = np.asarray(imaging.rotate_inner(white, degrees))

    assert turned.min() >= 250  # no black from the turned canvas, nor its filter fringe
    assert turned.shape[1] / turned.shape[0] == pytest.approx(400 / 300, rel=0.02)


def test_a_rotation_beyond_the_frame_is_refused_rather_than_leaving_black_corners():
    with pytest.raises(ValueError, match="black corners"):
        imaging.rotate_inner(noise(), 6, 4)


def test_the_exact_trim_removes_a_synthetic_pad_to_its_last_line():
    image = noise()
    padded = ImageOps.expand(image, border=(17, 9, 17, 9), fill=(0, 0, 0))

    trimmed = imaging.trim_exact_border(padded)

    assert trimmed is not None
    assert np.array_equal(np.asarray(trimmed), np.asarray(image))
    assert imaging.trim_exact_border(image) is None


def test_indicator_variants_are_distinct_gated_and_at_most_16_starting_with_the_image():
    image = noise()

    variants = imaging.indicator_variant_hashes(image)

    assert 8 <= len(variants) <= MAX_INDICATOR_HASHES
    assert variants[0].name == "plain"
    assert variants[0].pdq == imaging.pdq_hash(image).hex
    assert len({v.pdq for v in variants}) == len(variants)
    assert all(v.quality >= 50 and len(v.companion) == 16 for v in variants)
    assert [v.name for v in imaging.indicator_variant_hashes(image, 4)] == [
        v.name for v in variants if v.name in list(imaging.INDICATOR_VARIANTS)[:4]
    ]


def test_a_flat_image_gets_no_variants():
    flat = Image.new("RGB", (300, 300), (128, 128, 128))

    hashes = imaging.indicator_hashes(png(flat))

    assert hashes.quality < 50
    assert hashes.variants == []
    assert "variants" not in hashes.submission_fields()


def test_the_indicator_submission_carries_the_image_hash_companion_and_variants():
    image = noise()

    fields = imaging.indicator_hashes(png(image)).submission_fields()

    assert fields["hash"] == imaging.pdq_hash(image).hex
    assert fields["companion"] == str(imaging.imagehash.dhash(image))
    assert fields["hash"] not in {v["hash"] for v in fields["variants"]}
    assert len(fields["variants"]) <= MAX_INDICATOR_HASHES - 1


def test_augmented_alternates_pair_each_with_its_companion_and_fit_the_api():
    # A bordered image: the exact trim and the inner frame both exist
    bordered = ImageOps.expand(noise(), border=20, fill=(255, 255, 255))

    hashes = imaging.hash_bytes(png(bordered), ["pdq"], augmented=True)

    alternates = hashes.alternates["pdq"]
    assert 8 <= len(alternates) <= MAX_ALTERNATES_PER_ITEM
    assert len(hashes.alternate_companions["pdq"]) == len(alternates)
    assert hashes.companions["pdq"] == str(imaging.imagehash.dhash(bordered))
    assert imaging.pdq_hash(noise()).hex in alternates  # the exact trim finds the original


def test_a_scan_sends_the_companions_beside_the_value_and_alternates():
    record = json.loads(
        json.dumps(
            {
                "path": "a.png",
                **imaging.hash_bytes(png(noise()), ["pdq"], augmented=True).to_json_dict(),
            }
        )
    )

    (query,) = queries_of([record], ["pdq"])

    assert query["companion"] == record["companions"]["pdq"]
    assert len(query["alternate_companions"]) == len(query["alternates"])

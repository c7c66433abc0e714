"""Transformations of the effectiveness evaluation: deterministic, documented, sized right."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hashmatch_client.imaging import dihedral_variants, trim_uniform_border
from hashmatch_devtools.evaluation.transforms import (
    TRANSFORMATIONS,
    TRANSFORMATIONS_BY_NAME,
    apply_transformation,
    fit_within,
)


def synthetic_photo(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """Smooth gradients and a few bright blobs: enough structure for perceptual hashes."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.3)
        wave = np.sin(2 * np.pi * (fx * x / width + fy * y / height) + phase)
        channels.append(wave)
    pixels = np.stack(channels, axis=2)
    for _ in range(4):
        cx, cy, radius = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(8, 30)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2))
        pixels += blob[:, :, None] * rng.uniform(-1.5, 1.5, size=3)
    scaled = (pixels - pixels.min()) / (pixels.max() - pixels.min()) * 200 + 28
    return Image.fromarray(scaled.astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return synthetic_photo(seed=7)


def test_every_transformation_has_a_unique_name_and_a_description() -> None:
    names = [t.name for t in TRANSFORMATIONS]
    assert len(names) == len(set(names))
    assert all(t.description and t.family for t in TRANSFORMATIONS)


@pytest.mark.parametrize("name", [t.name for t in TRANSFORMATIONS])
def test_every_transformation_gives_an_rgb_image_and_is_deterministic(
    photo: Image.Image, name: str
) -> None:
    # Given the same photo, seed and key twice
    # When the transformation is applied twice
    first = apply_transformation(photo, name, seed=3, photo_key="a.png")
    second = apply_transformation(photo, name, seed=3, photo_key="a.png")
    # Then both copies are RGB and identical pixel for pixel
    assert first.mode == "RGB"
    assert first.tobytes() == second.tobytes()


def test_a_seeded_watermark_moves_with_the_seed(photo: Image.Image) -> None:
    positions = {
        apply_transformation(photo, "watermark_text", seed=seed, photo_key="a.png").tobytes()
        for seed in range(4)
    }
    assert len(positions) > 1


def test_the_original_is_not_modified(photo: Image.Image) -> None:
    before = photo.tobytes()
    for transformation in TRANSFORMATIONS:
        apply_transformation(photo, transformation.name, seed=0, photo_key="a.png")
    assert photo.tobytes() == before


@pytest.mark.parametrize(
    ("name", "expected_size"),
    [
        ("resize_0.5x", (80, 60)),
        ("resize_0.25x", (40, 30)),
        ("resize_2x", (320, 240)),
        ("pad_5%", (176, 132)),
        ("pad_20%", (224, 168)),
        ("crop_10%", (144, 108)),
        ("rotate_90", (120, 160)),
        ("rotate_4", (160, 120)),
        ("screenshot", (128, 96)),
    ],
)
def test_geometric_transformations_give_the_documented_size(
    photo: Image.Image, name: str, expected_size: tuple[int, int]
) -> None:
    assert apply_transformation(photo, name, seed=0, photo_key="a.png").size == expected_size


def test_horizontal_flip_mirrors_the_pixels(photo: Image.Image) -> None:
    flipped = np.asarray(apply_transformation(photo, "flip_horizontal", seed=0, photo_key="k"))
    assert np.array_equal(flipped, np.asarray(photo)[:, ::-1])


def test_grayscale_has_equal_channels(photo: Image.Image) -> None:
    grey = np.asarray(apply_transformation(photo, "grayscale", seed=0, photo_key="k"))
    assert np.array_equal(grey[:, :, 0], grey[:, :, 1])
    assert np.array_equal(grey[:, :, 1], grey[:, :, 2])


def test_padding_is_black_and_surrounds_the_photo(photo: Image.Image) -> None:
    padded = np.asarray(apply_transformation(photo, "pad_20%", seed=0, photo_key="k"))
    assert padded[:24].max() == 0  # 20% of 120 rows on top
    assert np.array_equal(padded[24:144, 32:192], np.asarray(photo))


@pytest.mark.parametrize("name", ["pad_5%", "pad_20%"])
def test_trimming_a_padded_copy_gives_back_the_photo(photo: Image.Image, name: str) -> None:
    padded = apply_transformation(photo, name, seed=0, photo_key="k")
    trimmed = trim_uniform_border(padded)
    assert trimmed.size == photo.size
    assert np.array_equal(np.asarray(trimmed), np.asarray(photo))


def test_trimming_survives_jpeg_noise_in_the_border(photo: Image.Image) -> None:
    padded = apply_transformation(photo, "pad_20%", seed=0, photo_key="k")
    noisy = TRANSFORMATIONS_BY_NAME["jpeg_q50"].apply(padded, None)  # type: ignore[arg-type]
    width, height = trim_uniform_border(noisy).size
    assert abs(width - 160) <= 4
    assert abs(height - 120) <= 4


def test_a_photo_without_border_is_returned_as_is(photo: Image.Image) -> None:
    assert trim_uniform_border(photo) is photo


def test_a_flat_image_is_not_trimmed_away() -> None:
    flat = Image.new("RGB", (100, 80), (10, 20, 30))
    trimmed = trim_uniform_border(flat)
    assert trimmed.size[0] >= 10
    assert trimmed.size[1] >= 8


def test_fit_within_shrinks_the_longer_side_only_when_needed(photo: Image.Image) -> None:
    assert fit_within(photo, 80).size == (80, 60)
    assert fit_within(photo, 1000) is photo


def test_trimming_a_large_padded_copy_cuts_border_only() -> None:
    # Given a photo large enough for the border search to look at every 2nd pixel
    large = synthetic_photo(seed=3, size=(520, 400))
    padded = apply_transformation(large, "pad_5%", seed=0, photo_key="k")
    # When the border is trimmed
    width, height = trim_uniform_border(padded).size
    # Then the photo is whole and at most a pixel of border per side remains
    assert 520 <= width <= 522
    assert 400 <= height <= 402


def test_the_eight_variants_are_the_rotations_and_flips(photo: Image.Image) -> None:
    pixels = np.asarray(photo)
    variants = [np.asarray(v) for v in dihedral_variants(photo)]
    assert np.array_equal(variants[0], pixels)
    assert np.array_equal(variants[2], pixels[::-1, ::-1])
    assert np.array_equal(variants[5], pixels[:, ::-1])
    assert len({v.tobytes() for v in variants}) == 8

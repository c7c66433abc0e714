"""Client-side image decoding and hashing (hashmatch_client.imaging).

Every image here is synthetic and generated in the test; nothing is committed.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from hashmatch.errors import ImageError, UnknownHashType
from hashmatch.hashtypes import HASH_TYPES, HashSource
from hashmatch_client.imaging import (
    DEFAULT_MAX_PIXELS,
    IMAGE_HASHERS,
    hash_bytes,
    load_image,
    pdq_dihedral_hashes,
    pdq_rotation_hashes,
    perceptual_hashes,
    reference_resize,
    to_rgb,
)

PDQ = HASH_TYPES["pdq"]


def test_the_client_computes_every_image_type_of_the_registry_and_no_other() -> None:
    assert set(IMAGE_HASHERS) == {t.name for t in HASH_TYPES.of_source(HashSource.IMAGE)}


def test_file_byte_types_are_computed_by_hashlib_under_their_own_name() -> None:
    data = b"any file at all"

    result = hash_bytes(data, [t.name for t in HASH_TYPES.of_source(HashSource.FILE_BYTES)])

    for name, value in result.hashes.items():
        assert value == hashlib.new(name, data).hexdigest()
    assert (result.width, result.qualities) == (None, {})


def photo_like(width: int = 320, height: int = 240, seed: int = 7) -> Image.Image:
    """A synthetic image with natural-image statistics (1/f noise), so PDQ is stable on it.

    Smooth gradients or sinusoids are fragile under PDQ (most DCT coefficients sit near the
    median): a palette conversion alone moves them by 20-70 bits, which would hide real bugs.
    """
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    frequency = np.sqrt(fx**2 + fy**2)
    frequency[0, 0] = 1.0
    fields = []
    for _ in range(3):
        spectrum = rng.normal(size=(height, width)) + 1j * rng.normal(size=(height, width))
        spectrum /= frequency
        spectrum[0, 0] = 0
        field = np.real(np.fft.ifft2(spectrum))
        fields.append((field - field.mean()) / field.std())
    luma = fields[0]
    pixels = np.stack([0.8 * luma + 0.2 * fields[1], 0.8 * luma + 0.2 * fields[2], luma], axis=2)
    return Image.fromarray(np.clip(128 + 45 * pixels, 0, 255).astype(np.uint8))


def encode(image: Image.Image, format_: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format_, **params)
    return buffer.getvalue()


def pdq_of(image: Image.Image) -> str:
    return perceptual_hashes(image, ["pdq"])["pdq"].hex


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: a decompression bomb's calling card."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    data = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


# --- bad files ---------------------------------------------------------------------------


def test_zero_bytes_is_a_clear_error() -> None:
    with pytest.raises(ImageError, match="empty file"):
        hash_bytes(b"")


def test_truncated_jpeg_is_a_clear_error() -> None:
    # Given a JPEG cut in half
    data = encode(photo_like(), "JPEG", quality=90)
    truncated = data[: len(data) // 2]

    # When / Then
    with pytest.raises(ImageError, match="truncated"):
        hash_bytes(truncated)


def test_text_file_is_not_an_image() -> None:
    with pytest.raises(ImageError, match="not a supported image"):
        hash_bytes(b"hello, I am not a JPEG\n" * 10)


def test_unsupported_format_is_refused_even_if_pillow_could_read_it() -> None:
    # Given a valid PPM (Pillow reads it, but we only open the listed formats)
    data = encode(photo_like(), "PPM")

    # When / Then
    with pytest.raises(ImageError, match="not a supported image"):
        hash_bytes(data)


def test_decompression_bomb_png_is_refused_before_decoding() -> None:
    # Given a 1 KB PNG whose header claims 50,000 x 50,000 pixels
    bomb = png_header_only(50_000, 50_000)

    # When / Then
    with pytest.raises(ImageError, match="decompression bomb"):
        hash_bytes(bomb)


def test_pillows_own_bomb_guard_becomes_an_image_error() -> None:
    # Given our limit raised so far that only Pillow's own guard is left
    bomb = png_header_only(50_000, 50_000)

    # When / Then
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(bomb, max_pixels=10**12)


def test_hundred_megapixel_image_is_over_the_default_limit() -> None:
    # Given a real 10,000 x 10,000 PNG (1-bit, so it stays small on disk)
    data = encode(Image.new("1", (10_000, 10_000), 1), "PNG")
    assert DEFAULT_MAX_PIXELS < 100_000_000

    # When / Then
    with pytest.raises(
        ImageError, match="10000x10000 = 100,000,000 pixels, over the limit of 50,000,000 pixels"
    ):
        hash_bytes(data)


def test_file_over_the_byte_limit_is_refused() -> None:
    data = encode(photo_like(), "PNG")
    with pytest.raises(ImageError, match="over the limit of 100 bytes"):
        hash_bytes(data, max_bytes=100)


def test_unknown_type_is_refused() -> None:
    with pytest.raises(UnknownHashType):
        hash_bytes(encode(photo_like(), "PNG"), ["pdq", "ahash"])


# --- what gets hashed ----------------------------------------------------------------------


def test_cryptographic_hashes_cover_the_original_bytes() -> None:
    data = encode(photo_like(), "JPEG", quality=85)

    result = hash_bytes(data, ["md5", "sha1", "sha256"])

    assert result.hashes == {
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_cryptographic_hashes_alone_do_not_decode() -> None:
    # Given a file that is not an image at all
    data = b"not an image"

    # When only exact hashes are asked for
    result = hash_bytes(data, ["sha256"])

    # Then it is hashed without a decode (no size known)
    assert result.hashes == {"sha256": hashlib.sha256(data).hexdigest()}
    assert (result.width, result.height, result.qualities) == (None, None, {})


def test_all_types_come_from_one_call_in_the_requested_order() -> None:
    image = photo_like()
    data = encode(image, "PNG")

    result = hash_bytes(data, ["sha1", "dhash", "pdq", "phash"])

    assert list(result.hashes) == ["sha1", "dhash", "pdq", "phash"]
    assert result.hashes["pdq"] == pdq_of(image)
    assert result.qualities["pdq"] == 100
    assert (result.width, result.height) == image.size


def test_flat_image_gets_low_quality() -> None:
    result = hash_bytes(encode(Image.new("RGB", (64, 64), (90, 90, 90)), "PNG"), ["pdq"])
    assert result.qualities["pdq"] < 50


# --- modes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "format_"),
    [
        ("1", "PNG"),
        ("L", "PNG"),
        ("P", "PNG"),
        ("P", "GIF"),
        ("CMYK", "JPEG"),
        ("CMYK", "TIFF"),
        ("YCbCr", "JPEG"),
        ("RGB", "WEBP"),
        ("RGB", "BMP"),
        ("LAB", "TIFF"),
        ("I", "TIFF"),
        ("F", "TIFF"),
        ("I;16", "PNG"),
        ("I;16", "TIFF"),
    ],
)
def test_every_mode_hashes_close_to_the_rgb_original(mode: str, format_: str) -> None:
    # Given an RGB image and the same image converted to another mode and saved
    original = photo_like()
    converted = original.convert(mode) if mode != "I;16" else to_i16(original)
    if mode in ("I", "F"):
        converted = to_wide(original, mode)
    data = encode(converted, format_)

    # When
    image = load_image(data)

    # Then it decodes to 8-bit RGB and hashes near the original
    assert image.mode == "RGB"
    # "1" is dithered to black and white, hence a looser bound for it (measured: 12-14 bits;
    # every other mode 0-2 bits).
    bound = 24 if mode == "1" else 8
    assert PDQ.distance(pdq_of(image), pdq_of(original)) <= bound


def to_i16(image: Image.Image) -> Image.Image:
    grey = np.asarray(image.convert("L")).astype(np.uint16) * 257
    return Image.fromarray(grey)  # uint16 -> "I;16"


def to_wide(image: Image.Image, mode: str) -> Image.Image:
    grey = np.asarray(image.convert("L")).astype(np.int32) * 257
    if mode == "F":
        return Image.fromarray(grey.astype(np.float32) / 65535.0)  # float32 -> "F"
    return Image.fromarray(grey)  # int32 -> "I"


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_wide_grey_is_scaled_not_clipped(mode: str) -> None:
    # Given 16-bit grey data that Pillow's convert("RGB") would clip to white
    original = photo_like()
    wide = to_i16(original) if mode == "I;16" else to_wide(original, mode)

    # When
    rgb = to_rgb(wide)

    # Then the 8-bit grey values are recovered (within rounding)
    expected = np.asarray(original.convert("L")).astype(int)
    assert np.abs(np.asarray(rgb)[..., 0].astype(int) - expected).max() <= 1


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA", "RGBa"])
def test_transparent_pixels_are_composited_on_white(mode: str) -> None:
    # Given a fully transparent dark image
    transparent = Image.new("RGBA", (16, 16), (10, 20, 30, 0))
    image = transparent if mode == "RGBA" else transparent.convert(mode)

    # When / Then
    assert np.asarray(to_rgb(image)).min() == 255


def test_half_transparent_pixels_blend_with_white() -> None:
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 128))
    assert np.asarray(to_rgb(image))[0, 0].tolist() == [127, 127, 127]


def test_palette_transparency_is_composited_on_white() -> None:
    # Given a GIF whose only colour is marked transparent
    palette_image = Image.new("P", (8, 8), 0)
    palette_image.putpalette([0, 0, 0] * 256)
    data = encode(palette_image, "GIF", transparency=0)

    # When / Then
    assert np.asarray(load_image(data)).min() == 255


# --- frames and orientation -----------------------------------------------------------------


def test_animated_gif_hashes_its_first_frame() -> None:
    # Given a two-frame GIF whose frames differ completely
    first, second = photo_like(seed=1), photo_like(seed=2)
    data = encode(first, "GIF", save_all=True, append_images=[second], duration=100)
    expected = load_image(encode(first, "GIF"))

    # When
    result = hash_bytes(data, ["pdq"])

    # Then
    assert result.hashes["pdq"] == pdq_of(expected)


@pytest.mark.parametrize(
    ("orientation", "undo"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
        (2, Image.Transpose.FLIP_LEFT_RIGHT),
    ],
)
def test_exif_orientation_is_applied(orientation: int, undo: Image.Transpose) -> None:
    # Given an upright image stored sideways with the EXIF tag that says how to show it
    upright = photo_like(320, 240)
    stored = upright.transpose(undo)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, "PNG", exif=exif)

    # When
    decoded = load_image(data)

    # Then the decoded pixels are the upright ones
    assert decoded.size == upright.size
    assert np.array_equal(np.asarray(decoded), np.asarray(upright))


# --- reference resize and dihedral ---------------------------------------------------------


def test_reference_resize_samples_floor_indices() -> None:
    # Given a 1000x600 image whose pixel values encode their coordinates
    y, x = np.mgrid[0:600, 0:1000]
    pixels = np.stack([x % 256, y % 256, (x // 256) * 16 + y // 256], axis=2).astype(np.uint8)

    # When
    resized = np.asarray(reference_resize(Image.fromarray(pixels)))

    # Then pixel (i, j) comes from source (floor(i*600/512), floor(j*1000/512))
    assert resized.shape == (512, 512, 3)
    for i, j in [(0, 0), (1, 1), (100, 300), (511, 511)]:
        assert resized[i, j].tolist() == pixels[i * 600 // 512, j * 1000 // 512].tolist()


def test_reference_resize_leaves_small_images_alone() -> None:
    image = photo_like(512, 300)
    assert reference_resize(image) is image


def test_dihedral_gives_eight_hashes_starting_with_the_plain_one() -> None:
    image = photo_like()
    result = hash_bytes(encode(image, "PNG"), ["pdq"], dihedral=True)

    assert result.pdq_dihedral is not None
    assert len(result.pdq_dihedral) == 8
    assert result.pdq_dihedral[0] == result.hashes["pdq"] == pdq_of(image)
    # The second entry is the image rotated 90 degrees (the reference tool's order).
    rotated = pdq_of(image.transpose(Image.Transpose.ROTATE_90))
    assert PDQ.distance(result.pdq_dihedral[1], rotated) <= 16


# --- alternates for matching: exact rotations/flips, trimmed borders ------------------------


def _closest(hexes: list[str], target: str) -> int:
    return min(PDQ.distance(value, target) for value in hexes)


@pytest.mark.parametrize(
    "transpose", [Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.ROTATE_90], ids=["flip", "rot90"]
)
def test_rotation_hashes_contain_the_original_of_a_rotated_or_flipped_copy_exactly(
    transpose: Image.Transpose,
) -> None:
    # Given a 512 px original (an even PDQ downsampling window: one-pass dihedral is off there)
    original = photo_like(512, 512, seed=3)
    copy = original.transpose(transpose)

    # When the copy's 8 rotated/flipped images are hashed one by one
    hexes = pdq_rotation_hashes(copy)

    # Then the original's hash is among them, bit for bit, and the copy's own hash comes first
    assert len(hexes) == 8
    assert hexes[0] == pdq_of(copy)
    assert _closest(hexes, pdq_of(original)) == 0


def test_one_pass_dihedral_can_miss_a_flipped_copy_that_rotation_hashes_find() -> None:
    # Given a flipped copy of a 512 px original
    original = photo_like(512, 512, seed=3)
    flipped = original.transpose(Image.Transpose.FLIP_LEFT_RIGHT)

    # When both ways of getting the 8 variants are used
    one_pass, _quality = pdq_dihedral_hashes(flipped)
    exact = pdq_rotation_hashes(flipped)

    # Then only the exact set holds the original's hash (the one-pass set is bits away)
    assert _closest(exact, pdq_of(original)) == 0
    assert _closest(one_pass, pdq_of(original)) > 0


def test_rotations_option_adds_seven_pdq_alternates_and_they_reach_the_json_record() -> None:
    # Given a flipped copy
    original = photo_like(seed=5)
    flipped = original.transpose(Image.Transpose.FLIP_LEFT_RIGHT)

    # When it is hashed with rotations
    result = hash_bytes(encode(flipped, "PNG"), ["pdq", "md5"], rotations=True)

    # Then pdq has the 7 other variants as alternates, the original among them, md5 none
    assert set(result.alternates) == {"pdq"}
    assert len(result.alternates["pdq"]) == 7
    assert result.hashes["pdq"] not in result.alternates["pdq"]
    assert _closest(result.alternates["pdq"], pdq_of(original)) == 0
    assert result.to_json_dict()["alternates"] == {"pdq": result.alternates["pdq"]}


def test_trimmed_hash_of_a_padded_copy_is_close_to_the_unpadded_original() -> None:
    # Given a photo padded with a 10% black border, as a JPEG (noise in the border)
    original = photo_like(400, 300, seed=11)
    padded = ImageOps.expand(original, border=(40, 30, 40, 30), fill=(0, 0, 0))

    # When hashed with trim_borders
    result = hash_bytes(
        encode(padded, "JPEG", quality=90), ["pdq", "phash", "dhash"], trim_borders=True
    )

    # Then each type has one trimmed alternate, close to the original's hash, the value is far
    plain = perceptual_hashes(original, ["pdq", "phash", "dhash"])
    assert {name: len(values) for name, values in result.alternates.items()} == {
        "pdq": 1,
        "phash": 1,
        "dhash": 1,
    }
    assert PDQ.distance(result.alternates["pdq"][0], plain["pdq"].hex) <= 16
    assert PDQ.distance(result.hashes["pdq"], plain["pdq"].hex) > 31
    for name in ("phash", "dhash"):
        distance = HASH_TYPES[name].distance(result.alternates[name][0], plain[name].hex)
        assert distance <= 6


def test_an_image_without_border_gets_no_trimmed_alternate() -> None:
    # Given a photo without any border
    image = photo_like(seed=13)

    # When hashed with trim_borders only
    result = hash_bytes(encode(image, "PNG"), ["pdq", "phash"], trim_borders=True)

    # Then there are no alternates, and the JSON record has no alternates key
    assert result.alternates == {}
    assert "alternates" not in result.to_json_dict()

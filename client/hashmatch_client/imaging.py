"""Hashing image files on the provider's machine: the only module that imports PIL.

Pipeline (one decode feeds every hash):

1. refuse files over ``max_bytes`` and images over ``max_pixels`` (read from the header, before
   any pixel is decoded), and only open the formats we support (no EPS/PSD/... plugins);
2. decode the first frame, apply the EXIF orientation so the image is upright;
3. convert to 8-bit RGB: transparency composited on white, 16/32-bit and float grey scaled down
   to 8 bits, palettes, CMYK, YCbCr, LAB, HSV converted by Pillow;
4. PDQ through ``pdqhash`` (on a C-contiguous uint8 array), pHash and dHash through ``imagehash``
   on that same RGB image; MD5/SHA-1/SHA-256 over the original file bytes.

Two options add *alternate* hashes of a query, which the matching API accepts beside the value
(an item matches if any is close; docs/effectiveness.md has the measurements):

- ``rotations``: the 7 other rotations/flips of the image, each hashed with PDQ
  (:func:`pdq_rotation_hashes`; 8 PDQ hashes per image instead of 1). Rotated and mirrored copies
  go from 0.2% to 100% found.
- ``trim_borders``: when the image has a uniform border (:func:`trim_uniform_border`), the hashes
  of the trimmed image (one extra hash per type, only for bordered images). Padded copies go
  from 0-2% to 55-60% found with PDQ.
- ``augmented`` (PDQ): the rotations/flips, the exactly trimmed copy and the inner frame of a
  small rotation, each above the quality gate, each with its dHash companion, so that the
  service's agreement rule decides and indicators' variants can match (the end of this module;
  curators compute the variants with :func:`indicator_hashes`).
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageOps

from hashmatch.errors import ImageError
from hashmatch.hashtypes import (
    HASH_TYPES,
    MAX_INDICATOR_HASHES,
    MIN_PDQ_QUALITY,
    HashSource,
    get_hash_type,
)
from hashmatch_client.records import quality_field

DEFAULT_MAX_IMAGE_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_PIXELS = 50_000_000
ALL_TYPES: tuple[str, ...] = tuple(HASH_TYPES)

# The C++ reference tool (pdq-photo-hasher) squashes larger images to this square first.
REFERENCE_RESIZE_DIMENSION = 512

# Only these decoders may run on untrusted files. Pillow would otherwise also try EPS (which
# shells out to Ghostscript), PSD, ICO and dozens more. Camera JPEGs that Pillow opens as MPO
# (multi-picture JPEG) come through the JPEG entry.
SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")

# What Pillow's decoders raise on corrupt or truncated input (besides UnidentifiedImageError,
# an OSError). Pillow is not consistent about it, hence the list.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    struct.error,
)


def file_digest(name: str, data: bytes) -> str:
    """A file-bytes hash type's value: hashlib's algorithm of the type's name (the registry's
    contract for HashSource.FILE_BYTES). Identification, not security: usedforsecurity=False
    keeps MD5/SHA-1 available on FIPS builds."""
    return hashlib.new(name, data, usedforsecurity=False).hexdigest()


_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_WHITE = (255, 255, 255)


@dataclass(frozen=True)
class HashValue:
    """One image hash: lower-case hex and, for a type that scores it (PDQ), its quality 0-100."""

    hex: str
    quality: int | None = None


@dataclass(frozen=True)
class ImageHashes:
    """Every requested hash of one file.

    ``qualities`` holds the quality of each hash whose type scores one (PDQ).
    ``width`` and ``height`` are the upright (EXIF-rotated) size of the decoded image, or None
    when only file-bytes hashes were asked for (the file is then not decoded at all).
    ``pdq_dihedral`` holds the 8 PDQ hashes of the rotations and flips, in the reference tool's
    order: original, rot90, rot180, rot270, flipx, flipy, flip-plus-1, flip-minus-1.
    ``alternates`` holds, per perceptual type, the other hashes a query may match by (rotations,
    trimmed border; see :func:`hash_bytes`), without the value itself and without repeats.
    """

    hashes: dict[str, str]
    qualities: dict[str, int] = field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    pdq_dihedral: list[str] | None = None
    alternates: dict[str, list[str]] = field(default_factory=dict)
    # With ``augmented``: per type with a companion (PDQ), the companion of the value and of
    # each alternate, in the alternates' order.
    companions: dict[str, str] = field(default_factory=dict)
    alternate_companions: dict[str, list[str]] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = dict(self.hashes)
        for name in self.hashes:
            if name in self.qualities:
                record[quality_field(name)] = self.qualities[name]
        if self.pdq_dihedral is not None:
            record["pdq_dihedral"] = self.pdq_dihedral
        alternates = {name: hexes for name, hexes in self.alternates.items() if hexes}
        if alternates:
            record["alternates"] = alternates
        if self.companions:
            record["companions"] = self.companions
        paired = {name: hexes for name, hexes in self.alternate_companions.items() if hexes}
        if paired:
            record["alternate_companions"] = paired
        record["width"] = self.width
        record["height"] = self.height
        return record


def load_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``data`` into an upright 8-bit RGB image (first frame of an animation).

    Raises ImageError for unsupported, corrupt or truncated files and for images with more
    than ``max_pixels`` pixels (checked from the header, before decoding).
    """
    if not data:
        raise ImageError("empty file (0 bytes)")
    # Registers every plugin (idempotent, cheap after the first call): open() with an explicit
    # formats list only looks among registered plugins, and WebP and TIFF are not preloaded.
    Image.init()
    try:
        # Pillow warns above Image.MAX_IMAGE_PIXELS (89 MP) and raises DecompressionBombError
        # above twice that, both in open(). Our own limit, checked right after open() from the
        # header, is the one that counts (50 MP by default, below Pillow's warning): the
        # warning is silenced so that a caller who raises max_pixels gets what they asked for;
        # Pillow's error still becomes an ImageError below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
            _check_pixels(image, max_pixels)
            image.load()
            upright = _apply_exif_orientation(image)
            return to_rgb(upright)
    except ImageError:
        raise
    except Image.UnidentifiedImageError as error:
        raise ImageError(
            "not a supported image (expected JPEG, PNG, GIF, WebP, BMP or TIFF)"
        ) from error
    except Image.DecompressionBombError as error:
        raise ImageError(f"refused as a decompression bomb: {error}") from error
    except _DECODE_ERRORS as error:
        raise ImageError(f"corrupt or truncated image: {error}") from error


def _check_pixels(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(
            f"image is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} pixels (possible decompression bomb)"
        )


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    # Reading the orientation tag first avoids exif_transpose's full copy for upright images
    # (nearly all of them).
    orientation = image.getexif().get(0x0112, 1)
    if orientation in (None, 1):
        return image
    transposed = ImageOps.exif_transpose(image)
    return transposed if transposed is not None else image


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB the way a viewer would show it.

    Transparency is composited on white (what the photos' reference hashes assume);
    16-bit, 32-bit and float grey are scaled to 0-255 rather than clipped.
    """
    mode = image.mode
    if mode == "La":
        # Pillow cannot convert premultiplied La to RGBA directly, only to LA.
        image, mode = image.convert("LA"), "LA"
    if mode in _ALPHA_MODES or (
        # Palette, grey and RGB images can mark one colour transparent (GIF, PNG tRNS).
        "transparency" in image.info and mode in ("P", "L", "1", "RGB")
    ):
        return _composite_on_white(image.convert("RGBA"))
    if mode == "RGB":
        return image
    if mode.startswith("I") or mode == "F":
        return _wide_grey_to_rgb(image)
    return image.convert("RGB")


def _composite_on_white(rgba: Image.Image) -> Image.Image:
    if rgba.getchannel("A").getextrema() == (255, 255):
        return rgba.convert("RGB")
    background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _wide_grey_to_rgb(image: Image.Image) -> Image.Image:
    """Scale 16/32-bit integer or float grey to 8 bits (Pillow's convert() would clip at 255)."""
    values = np.asarray(image).astype(np.float64)
    if image.mode.startswith("I;16"):
        # The full 16-bit range maps onto 0-255 (65535 / 257 = 255).
        scaled = values / 257.0
    else:
        low, high = float(values.min()), float(values.max())
        if image.mode == "F" and low >= 0.0 and high <= 1.0:
            scaled = values * 255.0  # float images conventionally lie in [0, 1]
        elif low >= 0.0 and high <= 255.0:
            scaled = values
        elif low >= 0.0 and high <= 65535.0:
            scaled = values / 257.0  # a 16-bit image Pillow opened as 32-bit "I"
        else:
            scaled = (values - low) * (255.0 / (high - low))
    grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def reference_resize(image: Image.Image) -> Image.Image:
    """The C++ reference tool's pre-step: larger images squashed to 512x512, nearest neighbour.

    Source index ``floor(i * W / 512)`` (Pillow's NEAREST samples pixel centres instead, which
    does not reproduce the tool's hashes). Images of at most 512x512 are returned unchanged.
    """
    width, height = image.size
    side = REFERENCE_RESIZE_DIMENSION
    if width <= side and height <= side:
        return image
    pixels = np.asarray(image)
    columns = (np.arange(side) * width) // side
    rows = (np.arange(side) * height) // side
    return Image.fromarray(np.ascontiguousarray(pixels[rows][:, columns]))


def _pdq_array(image: Image.Image) -> np.ndarray:
    # pdqhash silently hashes wrong anything but a C-contiguous HxWx3 uint8 array.
    array = np.ascontiguousarray(np.asarray(image.convert("RGB")), dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageError(f"internal error: expected an RGB array, got shape {array.shape}")
    return array


def _bits_to_hex(bits: np.ndarray) -> str:
    # Bit 0 of pdqhash's vector is the most significant bit of the hex string.
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def pdq_hash(image: Image.Image) -> HashValue:
    bits, quality = pdqhash.compute(_pdq_array(image))
    return HashValue(_bits_to_hex(bits), int(quality))


def pdq_dihedral_hashes(image: Image.Image) -> tuple[list[str], int]:
    """The 8 PDQ hashes of the image's rotations and flips, in the reference tool's order."""
    all_bits, quality = pdqhash.compute_dihedral(_pdq_array(image))
    return [_bits_to_hex(bits) for bits in all_bits], int(quality)


# The reference tool's order of the 8 dihedral variants: original, rotated 90, 180 and 270
# degrees (counter-clockwise), flipped about the x axis, the y axis, the main and the anti-diagonal.
_DIHEDRAL_TRANSPOSES: tuple[Image.Transpose | None, ...] = (
    None,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
)


def dihedral_variants(image: Image.Image) -> list[Image.Image]:
    """The 8 rotations/flips of an image as pixels (lossless), original first."""
    return [image if op is None else image.transpose(op) for op in _DIHEDRAL_TRANSPOSES]


def pdq_rotation_hashes(image: Image.Image) -> list[str]:
    """PDQ of each of the 8 rotated/flipped images, original first, in the reference tool's order.

    Costs 8 PDQ hashes, but is exact: the hash of a rotated or flipped copy is in this list.
    pdqhash's one-pass dihedral mode (:func:`pdq_dihedral_hashes`) derives the 7 others from the
    original's DCT, which equals the hash of the transposed pixels only when its downsampling
    window (``ceil(side / 128)`` pixels) is symmetric: a flipped 512 px image lands 12-45 bits
    away from its one-pass prediction.
    """
    return [pdq_hash(variant).hex for variant in dihedral_variants(image)]


# --- border trimming (for padded or letterboxed copies) --------------------------------------

# A line of pixels counts as border when this share of its pixels lies within
# BORDER_TOLERANCE (per channel) of the border colour: JPEG ringing and a stray dust speck must
# not stop the trim, real content must.
BORDER_TOLERANCE = 24
BORDER_MIN_SHARE = 0.98
# Never trim more than this share of a side (a near-uniform image stays as it is).
MAX_TRIM_SHARE = 0.45
TRIM_VIEW_SIZE = 256


def trim_uniform_border(
    image: Image.Image,
    *,
    tolerance: int = BORDER_TOLERANCE,
    min_share: float = BORDER_MIN_SHARE,
) -> Image.Image:
    """Crop away uniform borders (letterboxing, padding) on each side of an RGB image.

    Each side's border colour is the median of its outermost line; lines are removed while at
    least ``min_share`` of their pixels are within ``tolerance`` of that colour, up to
    MAX_TRIM_SHARE of the size. Returns the image itself when there is nothing to trim.
    """
    pixels = np.asarray(image.convert("RGB"))
    height, width = pixels.shape[:2]
    if height < 8 or width < 8:
        return image

    def border_depth(lines: np.ndarray, limit: int) -> int:
        # ``lines``: (n_lines, line_length, 3), outermost line first.
        colour = np.median(lines[0], axis=0)

        def uniform(block: np.ndarray) -> np.ndarray:
            close = np.all(np.abs(block.astype(np.int16) - colour) <= tolerance, axis=2)
            result: np.ndarray = close.mean(axis=1) >= min_share
            return result

        # Look at growing blocks of lines and stop at the first that is not border: most
        # images have none (the first line decides), borders are a few % of the image.
        start, block = 0, 1
        while start < limit:
            stop = min(limit, start + block)
            non_uniform = np.flatnonzero(~uniform(lines[start:stop]))
            if non_uniform.size:
                return start + int(non_uniform[0])
            start, block = stop, block * 4
        return limit

    # Borders are found on every step-th pixel (a 256 px view is plenty to see a border), then
    # scaled back rounding down, so that no line beyond the last border line seen is cut.
    step = max(1, max(height, width) // TRIM_VIEW_SIZE)
    view = pixels[::step, ::step]
    rows, cols = view.shape[:2]
    max_rows, max_cols = int(MAX_TRIM_SHARE * rows), int(MAX_TRIM_SHARE * cols)

    def in_pixels(view_depth: int) -> int:
        return max(0, (view_depth - 1) * step + 1)

    top = in_pixels(border_depth(view, max_rows))
    bottom = in_pixels(border_depth(view[::-1], max_rows))
    left = in_pixels(border_depth(view.transpose(1, 0, 2), max_cols))
    right = in_pixels(border_depth(view.transpose(1, 0, 2)[::-1], max_cols))
    if top == bottom == left == right == 0:
        return image
    return image.crop((left, top, width - right, height - bottom))


def _phash(image: Image.Image) -> HashValue:
    return HashValue(str(imagehash.phash(image)))


def _dhash(image: Image.Image) -> HashValue:
    return HashValue(str(imagehash.dhash(image)))


@dataclass(frozen=True)
class ImageHasher:
    """How the client computes one image-source hash type of the registry."""

    hash: Callable[[Image.Image], HashValue]
    # With ``reference_resize``, hashed on the C++ reference tool's 512x512 squash (PDQ's tool).
    follows_reference_resize: bool = False
    # With ``rotations``, the 7 other rotations/flips are hashed as alternates (measured worth
    # its 8x cost for PDQ only: docs/effectiveness.md).
    rotation_alternates: bool = False
    # pdqhash's one-pass mode for the 8 rotations/flips (``dihedral``), if the type has one.
    dihedral: Callable[[Image.Image], tuple[list[str], int]] | None = None


# One entry per image-source type of hashmatch.hashtypes.HASH_TYPES (a test holds them equal).
IMAGE_HASHERS: Mapping[str, ImageHasher] = {
    "pdq": ImageHasher(
        pdq_hash,
        follows_reference_resize=True,
        rotation_alternates=True,
        dihedral=pdq_dihedral_hashes,
    ),
    "phash": ImageHasher(_phash),
    "dhash": ImageHasher(_dhash),
}


def image_hasher(name: str) -> ImageHasher:
    hash_type = get_hash_type(name)
    hasher = IMAGE_HASHERS.get(hash_type.name)
    if hasher is None:
        raise ValueError(f"{hash_type.name} is not computed from the image")
    return hasher


def perceptual_hashes(image: Image.Image, types: Sequence[str]) -> dict[str, HashValue]:
    """The image-source hashes (PDQ, pHash, dHash, ...) of an RGB image (from load_image)."""
    return {get_hash_type(name).name: image_hasher(name).hash(image) for name in types}


def _normalise_types(types: Sequence[str]) -> list[str]:
    names: list[str] = []
    for name in types:
        canonical = get_hash_type(name).name
        if canonical not in names:
            names.append(canonical)
    if not names:
        raise ValueError("no hash types requested")
    return names


def hash_bytes(
    data: bytes,
    types: Sequence[str] = ALL_TYPES,
    *,
    dihedral: bool = False,
    reference_resize: bool = False,
    rotations: bool = False,
    trim_borders: bool = False,
    augmented: bool = False,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageHashes:
    """Every requested hash of one file's bytes, from a single decode.

    ``reference_resize`` applies the C++ reference tool's 512x512 pre-step to PDQ only (pHash
    and dHash shrink the image themselves). ``dihedral`` adds the 8 PDQ rotations/flips of
    pdqhash's one-pass mode (the reference tool's output; not exact on flips).

    Alternates, for matching (``alternates`` in the result, duplicates of the value dropped):
    ``rotations`` adds the PDQ hashes of the 7 other rotated/flipped images (cost: 8 PDQ hashes
    instead of 1); ``trim_borders`` adds, for each perceptual type, the hash of the image with
    its uniform border trimmed (cost: a look at the outer lines of every image, one extra hash
    per type for images that have a border). At most 8 PDQ alternates with both options.
    ``augmented`` (PDQ; it supersedes ``rotations`` and ``trim_borders`` for PDQ): the
    alternates of AUGMENTED_ALTERNATES (7 rotations/flips, the exact trim, the inner frame),
    each left out below the PDQ quality gate, and the dHash companion of the value and of every
    alternate (``companions``, ``alternate_companions``): at most 10 PDQ hashes per query.

    Raises ImageError for files over ``max_bytes``, undecodable files and oversized images,
    UnknownHashType for an unknown type name.
    """
    names = _normalise_types(types)
    if len(data) > max_bytes:
        raise ImageError(
            f"file is {len(data):,} bytes, over the limit of {max_bytes:,} bytes",
        )
    hashes: dict[str, str] = {}
    qualities: dict[str, int] = {}
    from_image = {
        name: image_hasher(name) for name in names if HASH_TYPES[name].source is HashSource.IMAGE
    }
    dihedral_hexes: list[str] | None = None
    width: int | None = None
    height: int | None = None
    alternates: dict[str, list[str]] = {}
    companions: dict[str, str] = {}
    alternate_companions: dict[str, list[str]] = {}
    # The one-pass dihedral output is PDQ's (the reference tool's), asked for or not by --types.
    one_pass = IMAGE_HASHERS["pdq"].dihedral if dihedral else None
    if from_image or one_pass is not None:
        image = load_image(data, max_pixels=max_pixels)
        width, height = image.size
        resized = _reference_resize(image) if reference_resize else image

        def source(hasher: ImageHasher, of: Image.Image, squashed: Image.Image) -> Image.Image:
            return squashed if hasher.follows_reference_resize else of

        for name, hasher in from_image.items():
            value = hasher.hash(source(hasher, image, resized))
            hashes[name] = value.hex
            if value.quality is not None:
                qualities[name] = value.quality
        if one_pass is not None:
            dihedral_hexes, quality = one_pass(resized)
            if "pdq" in from_image:
                hashes["pdq"], qualities["pdq"] = dihedral_hexes[0], quality
        augmented_types = {
            name for name in from_image if augmented and HASH_TYPES[name].companion is not None
        }
        for name in augmented_types:
            of = source(from_image[name], image, resized)
            companions[name] = _dhash(of).hex
            derived = derived_hashes(of, AUGMENTED_ALTERNATES, exclude=[hashes[name]])
            alternates[name] = [d.pdq for d in derived]
            alternate_companions[name] = [d.companion for d in derived]
        if rotations:
            for name, hasher in from_image.items():
                if hasher.rotation_alternates and name not in augmented_types:
                    variants = dihedral_variants(source(hasher, image, resized))[1:]
                    hexes = [hasher.hash(variant).hex for variant in variants]
                    _add_alternates(alternates, hashes, name, hexes)
        if trim_borders and from_image:
            trimmed = trim_uniform_border(image)
            if trimmed is not image:
                resized_trim = _reference_resize(trimmed) if reference_resize else trimmed
                for name, hasher in from_image.items():
                    if name in augmented_types:
                        continue
                    value = hasher.hash(source(hasher, trimmed, resized_trim))
                    _add_alternates(alternates, hashes, name, [value.hex])
    for name in names:
        if HASH_TYPES[name].source is HashSource.FILE_BYTES:
            hashes[name] = file_digest(name, data)
    ordered = {name: hashes[name] for name in names if name in hashes}
    return ImageHashes(
        hashes=ordered,
        qualities={name: qualities[name] for name in ordered if name in qualities},
        width=width,
        height=height,
        pdq_dihedral=dihedral_hexes,
        alternates={name: alternates[name] for name in names if alternates.get(name)},
        companions=companions,
        alternate_companions={
            name: alternate_companions[name] for name in names if alternate_companions.get(name)
        },
    )


def _add_alternates(
    alternates: dict[str, list[str]], hashes: Mapping[str, str], name: str, hexes: Sequence[str]
) -> None:
    # A symmetric image's rotation, or a border trim that leaves the hash as it was, would only
    # cost the service a lookup for the same answer.
    known = alternates.setdefault(name, [])
    for value in hexes:
        if value != hashes.get(name) and value not in known:
            known.append(value)


# hash_bytes' keyword shadows the public function inside its body.
_reference_resize = reference_resize


def hash_file(
    path: Path,
    types: Sequence[str] = ALL_TYPES,
    *,
    dihedral: bool = False,
    reference_resize: bool = False,
    rotations: bool = False,
    trim_borders: bool = False,
    augmented: bool = False,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageHashes:
    """hash_bytes on a file; its size is checked before it is read."""
    size = Path(path).stat().st_size
    if size > max_bytes:
        raise ImageError(f"file is {size:,} bytes, over the limit of {max_bytes:,} bytes")
    return hash_bytes(
        Path(path).read_bytes(),
        types,
        dihedral=dihedral,
        reference_resize=reference_resize,
        rotations=rotations,
        trim_borders=trim_borders,
        augmented=augmented,
        max_bytes=max_bytes,
        max_pixels=max_pixels,
    )


# --- indicator variants and the augmented query alternates -----------------------------------
#
# An indicator made from one assessed image may carry hashes of variants of it (crops, small
# rotations cropped to their black-free inside, the exactly trimmed image), computed here on
# the curator's workstation; a query may carry alternates of the provider's image (its
# rotations/flips, its exactly trimmed copy, the inner box a small rotation would leave). Each
# hash goes with its dHash companion, so the service's agreement rule can decide the pair
# (docs/effectiveness.md, "Variants and the agreement rule", has the measurements and the
# order). No variant has synthetic black corners or pads: those make unrelated flat images
# collide. Every size is a share of the image, so a variant means the same at any resolution.

SIDES: tuple[str, ...] = ("top", "bottom", "left", "right")
CORNERS: tuple[str, ...] = ("tl", "tr", "bl", "br")
# The exact trim's tolerance (per channel): a synthetic pad is removed to its last line, a
# natural dark background is kept.
EXACT_TRIM_TOLERANCE = 2
# The frame the small-rotation variants and the query's inner alternate meet on: the centred
# box a rotation by this many degrees leaves free of black corners.
INNER_FRAME_DEGREES = 4.0


def centre_crop(image: Image.Image, cut: float) -> Image.Image:
    """Remove ``cut`` of the width and of the height, half on each side."""
    width, height = image.size
    cut_x, cut_y = round(cut * width), round(cut * height)
    left, top = cut_x // 2, cut_y // 2
    return image.crop((left, top, width - (cut_x - left), height - (cut_y - top)))


def corner_crop(image: Image.Image, cut: float, corner: str) -> Image.Image:
    """Remove ``cut`` of the width and height, all of it on the two sides meeting at
    ``corner`` ("bl": a band at the bottom and one at the left)."""
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {CORNERS}, got {corner!r}")
    width, height = image.size
    cut_x, cut_y = round(cut * width), round(cut * height)
    left = cut_x if corner.endswith("l") else 0
    top = cut_y if corner.startswith("t") else 0
    return image.crop((left, top, width - (cut_x - left), height - (cut_y - top)))


def edge_crop(image: Image.Image, cut: float, side: str) -> Image.Image:
    """Remove ``cut`` of the width and height: across ``side`` all of it on that side, along
    it split evenly (halfway between the two corner crops of that side)."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    width, height = image.size
    cut_x, cut_y = round(cut * width), round(cut * height)
    left = {"left": cut_x, "right": 0}.get(side, cut_x // 2)
    top = {"top": cut_y, "bottom": 0}.get(side, cut_y // 2)
    return image.crop((left, top, width - (cut_x - left), height - (cut_y - top)))


def inscribed_scale(width: int, height: int, degrees: float) -> float:
    """The largest s such that a centred (s*width, s*height) box lies inside the image turned
    by ``degrees`` about its centre (so it holds no corner of the turned image's canvas)."""
    half_w, half_h = width / 2, height / 2
    cos, sin = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    return min(half_w / (half_w * cos + half_h * sin), half_h / (half_w * sin + half_h * cos))


def inner_crop(image: Image.Image, degrees: float = INNER_FRAME_DEGREES) -> Image.Image:
    """The centred box, of the image's aspect ratio, that a rotation by up to ``degrees``
    leaves free of black corners (one more pixel off each side keeps the resampling filter's
    dark fringe out). Of an unrotated image it is a centred crop of the same size, so a turned
    copy and the original meet on one frame."""
    width, height = image.size
    scale = inscribed_scale(width, height, degrees)
    keep_w = max(1, math.floor(scale * width) - 2)
    keep_h = max(1, math.floor(scale * height) - 2)
    left, top = (width - keep_w) // 2, (height - keep_h) // 2
    return image.crop((left, top, left + keep_w, top + keep_h))


def rotate_inner(
    image: Image.Image, degrees: float, frame_degrees: float = INNER_FRAME_DEGREES
) -> Image.Image:
    """Turn by ``degrees`` about the centre, then keep the inner box of ``frame_degrees``
    (at least ``degrees``): no black corner is left in the result."""
    if abs(degrees) > frame_degrees:
        raise ValueError("the frame must be at least the rotation, or black corners remain")
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))
    return inner_crop(turned, frame_degrees)


def trim_exact_border(
    image: Image.Image,
    *,
    tolerance: int = EXACT_TRIM_TOLERANCE,
    min_share: float = BORDER_MIN_SHARE,
    max_share: float = MAX_TRIM_SHARE,
) -> Image.Image | None:
    """The image without its uniform outer lines, looked at one by one at full resolution;
    None when there is nothing to remove.

    The rule of :func:`trim_uniform_border` (a line is border when ``min_share`` of its
    pixels lie within ``tolerance`` of the side's colour, the median of its outermost line; at
    most ``max_share`` of a side), but with every line seen and a tight tolerance, so that no
    leftover line of a synthetic pad stays (the hash of an exactly trimmed copy equals the
    original's far more often).
    """
    pixels = np.asarray(image.convert("RGB")).astype(np.int16)
    height, width = pixels.shape[:2]
    if height < 8 or width < 8:
        return None

    def depth(lines: np.ndarray) -> int:
        limit = int(max_share * lines.shape[0])
        colour = np.median(lines[0], axis=0)
        close = np.all(np.abs(lines[:limit] - colour) <= tolerance, axis=2)
        stops = np.flatnonzero(close.mean(axis=1) < min_share)
        return int(stops[0]) if stops.size else limit

    top, bottom = depth(pixels), depth(pixels[::-1])
    columns = pixels.transpose(1, 0, 2)
    left, right = depth(columns), depth(columns[::-1])
    if top == bottom == left == right == 0:
        return None
    return image.crop((left, top, width - right, height - bottom))


def _trimmed_or_none(image: Image.Image) -> Image.Image | None:
    trimmed = trim_uniform_border(image)
    return None if trimmed is image else trimmed


def _centre_of_trimmed(image: Image.Image, cut: float) -> Image.Image | None:
    trimmed = _trimmed_or_none(image)
    return None if trimmed is None else centre_crop(trimmed, cut)


Derive = Callable[[Image.Image], "Image.Image | None"]

# The indicator variants, in the order they were chosen (each added the most recall on the
# tuning half of the shared photos, given the ones before): the first N are the best N.
# "plain" is the assessed image itself; a variant that does not exist for an image (no border
# to trim) is left out.
INDICATOR_VARIANTS: Mapping[str, Derive] = {
    "plain": lambda image: image,
    "trim_t2": lambda image: trim_exact_border(image),
    "centre_2.5": lambda image: centre_crop(image, 0.025),
    "rot_inner4_+4": lambda image: rotate_inner(image, 4),
    "rot_inner4_-2": lambda image: rotate_inner(image, -2),
    "rot_inner4_-4": lambda image: rotate_inner(image, -4),
    "trim_centre_10": lambda image: _centre_of_trimmed(image, 0.10),
    "rot_inner4_+1": lambda image: rotate_inner(image, 1),
    "edge_5_bottom": lambda image: edge_crop(image, 0.05, "bottom"),
    "edge_5_top": lambda image: edge_crop(image, 0.05, "top"),
    "edge_5_left": lambda image: edge_crop(image, 0.05, "left"),
    "centre_7.5": lambda image: centre_crop(image, 0.075),
    "edge_5_right": lambda image: edge_crop(image, 0.05, "right"),
    "corner_5_bl": lambda image: corner_crop(image, 0.05, "bl"),
    "corner_5_br": lambda image: corner_crop(image, 0.05, "br"),
    "edge_10_left": lambda image: edge_crop(image, 0.10, "left"),
}
DEFAULT_VARIANT_COUNT = len(INDICATOR_VARIANTS)


def _dihedral_alternate(index: int) -> Derive:
    return lambda image: dihedral_variants(image)[index]


# The augmented query alternates (beside the value): the 7 other rotations/flips, the exactly
# trimmed copy, and the inner frame of the (trimmed) copy, where a slightly turned copy meets
# the indicator's small-rotation variants. With the value: at most 10 hashes per query.
AUGMENTED_ALTERNATES: Mapping[str, Derive] = {
    **{
        name: _dihedral_alternate(index)
        for index, name in enumerate(
            ("rot90", "rot180", "rot270", "flip_tb", "flip_lr", "transpose", "transverse"),
            start=1,
        )
    },
    "trim_t2": lambda image: trim_exact_border(image),
    "inner_4": lambda image: inner_crop(trim_uniform_border(image)),
}


@dataclass(frozen=True)
class DerivedHash:
    """A hash of a derived image (variant or alternate): PDQ, its quality, its dHash companion."""

    name: str
    pdq: str
    quality: int
    companion: str


def derived_hash(name: str, image: Image.Image) -> DerivedHash:
    value = pdq_hash(image)
    return DerivedHash(name, value.hex, value.quality or 0, _dhash(image).hex)


def derived_hashes(
    image: Image.Image,
    derivations: Mapping[str, Derive],
    *,
    min_quality: int | None = MIN_PDQ_QUALITY,
    exclude: Sequence[str] = (),
) -> list[DerivedHash]:
    """The hashes of each derivation of ``image`` that exists, in order: each below the PDQ
    quality gate left out (a flat crop would collide with unrelated images), each repeat of an
    earlier PDQ hash (or of one in ``exclude``) left out."""
    seen = set(exclude)
    found: list[DerivedHash] = []
    for name, derive in derivations.items():
        derived = derive(image)
        if derived is None or min(derived.size) < 8:
            continue
        hashed = derived_hash(name, derived)
        if (min_quality is not None and hashed.quality < min_quality) or hashed.pdq in seen:
            continue
        seen.add(hashed.pdq)
        found.append(hashed)
    return found


def indicator_variant_hashes(
    image: Image.Image, count: int = DEFAULT_VARIANT_COUNT
) -> list[DerivedHash]:
    """The first ``count`` indicator variants' hashes (the first is the image itself, when it
    passes the quality gate), distinct and above the gate: at most MAX_INDICATOR_HASHES."""
    if not 1 <= count <= min(len(INDICATOR_VARIANTS), MAX_INDICATOR_HASHES):
        raise ValueError(f"variant count must be 1 to {len(INDICATOR_VARIANTS)}, got {count}")
    chosen = dict(list(INDICATOR_VARIANTS.items())[:count])
    return derived_hashes(image, chosen)


@dataclass(frozen=True)
class IndicatorHashes:
    """What a curator uploads for one assessed image's PDQ indicator: the image's own hash, its
    quality and companion, and the variants' hashes (distinct, above the gate, without it)."""

    pdq: str
    quality: int
    companion: str
    variants: list[DerivedHash]

    def submission_fields(self) -> dict[str, Any]:
        """The fields of a POST /v1/indicators item these hashes fill."""
        fields: dict[str, Any] = {
            "hash_type": "pdq",
            "hash": self.pdq,
            "quality": self.quality,
            "companion": self.companion,
        }
        if self.variants:
            fields["variants"] = [
                {"hash": v.pdq, "companion": v.companion, "quality": v.quality}
                for v in self.variants
            ]
        return fields


def indicator_hashes(
    data: bytes,
    count: int = DEFAULT_VARIANT_COUNT,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> IndicatorHashes:
    """The PDQ indicator of one assessed image with up to ``count`` hashes in all (the image's
    own and ``count - 1`` variants at most; fewer when variants repeat or fall below the gate).
    An image below the quality gate gets no variants: the service refuses it without an
    override, and a variant of it would be no better."""
    if len(data) > max_bytes:
        raise ImageError(f"file is {len(data):,} bytes, over the limit of {max_bytes:,} bytes")
    image = load_image(data, max_pixels=max_pixels)
    own = derived_hash("plain", image)
    variants: list[DerivedHash] = []
    if own.quality >= MIN_PDQ_QUALITY and count > 1:
        variants = [v for v in indicator_variant_hashes(image, count) if v.pdq != own.pdq]
    return IndicatorHashes(own.pdq, own.quality, own.companion, variants)

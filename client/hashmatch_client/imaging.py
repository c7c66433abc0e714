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
"""

from __future__ import annotations

import hashlib
import io
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
from hashmatch.hashtypes import HASH_TYPES, HashSource, get_hash_type
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
        if rotations:
            for name, hasher in from_image.items():
                if hasher.rotation_alternates:
                    variants = dihedral_variants(source(hasher, image, resized))[1:]
                    hexes = [hasher.hash(variant).hex for variant in variants]
                    _add_alternates(alternates, hashes, name, hexes)
        if trim_borders and from_image:
            trimmed = trim_uniform_border(image)
            if trimmed is not image:
                resized_trim = _reference_resize(trimmed) if reference_resize else trimmed
                for name, hasher in from_image.items():
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
        max_bytes=max_bytes,
        max_pixels=max_pixels,
    )

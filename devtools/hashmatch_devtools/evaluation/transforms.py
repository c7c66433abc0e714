"""Image transformations for the detection-effectiveness evaluation (evaluation only).

This is the second module of the project that imports PIL, by design: the rule "only
``hashmatch_client.imaging`` imports PIL" exists to keep image code out of the cloud side, and
the development tools (``hashmatch_devtools``) never ship in the Lambda layer. Decoding and
hashing still go through :mod:`hashmatch_client.imaging`; this module only *modifies* decoded RGB
images the way copies of known material get modified in the wild (re-encoding, resizing,
filters, colour changes, overlays, borders, crops, rotations, flips).

Every transformation is deterministic: the only randomness (a watermark's position, how a crop
is split between the sides, the sign of a small rotation) comes from a ``random.Random`` seeded
from the evaluation seed, the photo's name and the transformation's name (:func:`seeded_rng`).
Sizes are relative to the image (a blur radius in % of the short side, say) so that the same
transformation means the same thing on a 200 px texture and a 4000 px photograph.
"""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from hashmatch_client.imaging import to_rgb

Transform = Callable[[Image.Image, random.Random], Image.Image]


@dataclass(frozen=True)
class Transformation:
    """One named modification: ``family`` groups variants (all JPEG qualities, say)."""

    name: str
    family: str
    description: str
    apply: Transform


def seeded_rng(seed: int, photo_key: str, transformation: str) -> random.Random:
    """A generator that depends only on its three inputs (not on order or process)."""
    digest = hashlib.sha256(f"{seed}\x00{photo_key}\x00{transformation}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """Shrink ``image`` (Lanczos) so that its longer side is at most ``max_side`` pixels."""
    width, height = image.size
    longer = max(width, height)
    if longer <= max_side:
        return image
    scale = max_side / longer
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


# --- the transformations --------------------------------------------------------------------


def _reencode(image: Image.Image, fmt: str, **options: object) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        decoded.load()
        return to_rgb(decoded)


def _jpeg(quality: int) -> Transform:
    def apply(image: Image.Image, _rng: random.Random) -> Image.Image:
        return _reencode(image, "JPEG", quality=quality)

    return apply


def _resize(factor: float) -> Transform:
    def apply(image: Image.Image, _rng: random.Random) -> Image.Image:
        width, height = image.size
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        return image.resize(size, Image.Resampling.BICUBIC)

    return apply


def _blur(image: Image.Image, _rng: random.Random) -> Image.Image:
    radius = max(1.0, 0.005 * min(image.size))
    return image.filter(ImageFilter.GaussianBlur(radius))


def _sharpen(image: Image.Image, _rng: random.Random) -> Image.Image:
    return image.filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=3))


def _gamma(gamma: float) -> Transform:
    lut = [round(255 * (value / 255) ** gamma) for value in range(256)]

    def apply(image: Image.Image, _rng: random.Random) -> Image.Image:
        return image.point(lut * 3)

    return apply


def _brightness(factor: float) -> Transform:
    def apply(image: Image.Image, _rng: random.Random) -> Image.Image:
        return ImageEnhance.Brightness(image).enhance(factor)

    return apply


def _contrast(factor: float) -> Transform:
    def apply(image: Image.Image, _rng: random.Random) -> Image.Image:
        return ImageEnhance.Contrast(image).enhance(factor)

    return apply


def _grayscale(image: Image.Image, _rng: random.Random) -> Image.Image:
    return image.convert("L").convert("RGB")


WATERMARK_TEXT = "(c) hashmatch evaluation 2026"


def _text_watermark(image: Image.Image, rng: random.Random) -> Image.Image:
    """White text with a dark outline, 70% opaque, 6% of the height, at a seeded position."""
    width, height = image.size
    # Pillow's built-in scalable font (no font file, no download).
    font = ImageFont.load_default(size=max(8, round(0.06 * height)))
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    left, top, right, bottom = draw.textbbox((0, 0), WATERMARK_TEXT, font=font)
    text_width, text_height = int(right - left), int(bottom - top)
    x = rng.randint(0, max(0, width - text_width))
    y = rng.randint(0, max(0, height - text_height))
    outline = max(1, round(text_height / 12))
    draw.text(
        (x - int(left), y - int(top)),
        WATERMARK_TEXT,
        font=font,
        fill=(255, 255, 255, 180),
        stroke_width=outline,
        stroke_fill=(0, 0, 0, 180),
    )
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def _logo_watermark(image: Image.Image, rng: random.Random) -> Image.Image:
    """A 60%-opaque logo (disc and bar) 20% of the short side, in a seeded corner."""
    width, height = image.size
    side = max(4, round(0.2 * min(width, height)))
    margin = round(0.03 * min(width, height))
    corner = rng.choice(["top-left", "top-right", "bottom-left", "bottom-right"])
    x = margin if corner.endswith("left") else width - side - margin
    y = margin if corner.startswith("top") else height - side - margin
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.ellipse((x, y, x + side, y + side), fill=(230, 40, 40, 150))
    bar = side // 5
    draw.rectangle((x, y + 2 * bar, x + side, y + 3 * bar), fill=(255, 255, 255, 150))
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def _pad(fraction: float) -> Transform:
    """A black border of ``fraction`` of the width (left and right) and height (top, bottom)."""

    def apply(image: Image.Image, _rng: random.Random) -> Image.Image:
        width, height = image.size
        border = (round(fraction * width), round(fraction * height))
        return ImageOps.expand(image, border=(*border, *border), fill=(0, 0, 0))

    return apply


def _crop(fraction: float) -> Transform:
    """Remove ``fraction`` of the width and of the height, split between sides at random."""

    def apply(image: Image.Image, rng: random.Random) -> Image.Image:
        width, height = image.size
        cut_x, cut_y = round(fraction * width), round(fraction * height)
        left = rng.randint(0, cut_x)
        top = rng.randint(0, cut_y)
        return image.crop((left, top, width - (cut_x - left), height - (cut_y - top)))

    return apply


def _rotate(degrees: float, *, random_sign: bool) -> Transform:
    """Rotate about the centre; small angles keep the size and fill the corners with black."""

    def apply(image: Image.Image, rng: random.Random) -> Image.Image:
        angle = degrees * (rng.choice((-1, 1)) if random_sign else 1)
        if degrees % 90 == 0:
            # Exact, lossless for right angles (PIL's rotate() would resample).
            transposes = {
                90: Image.Transpose.ROTATE_90,
                180: Image.Transpose.ROTATE_180,
                270: Image.Transpose.ROTATE_270,
            }
            return image.transpose(transposes[int(angle) % 360])
        return image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))

    return apply


def _hflip(image: Image.Image, _rng: random.Random) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def _screenshot(image: Image.Image, _rng: random.Random) -> Image.Image:
    """Shown at 80% size (bilinear, as a viewer scales), captured and saved as PNG."""
    width, height = image.size
    size = (max(1, round(0.8 * width)), max(1, round(0.8 * height)))
    # PNG is lossless: the compression level only changes the time spent, not the pixels.
    return _reencode(image.resize(size, Image.Resampling.BILINEAR), "PNG", compress_level=1)


_SMALL_ROTATION = "rotate {} degrees, seeded sign, same size, black corners"
_RIGHT_ANGLE = "rotate {} degrees (lossless)"

TRANSFORMATIONS: tuple[Transformation, ...] = (
    Transformation("jpeg_q90", "jpeg", "JPEG re-encode, quality 90", _jpeg(90)),
    Transformation("jpeg_q70", "jpeg", "JPEG re-encode, quality 70", _jpeg(70)),
    Transformation("jpeg_q50", "jpeg", "JPEG re-encode, quality 50", _jpeg(50)),
    Transformation("jpeg_q30", "jpeg", "JPEG re-encode, quality 30", _jpeg(30)),
    Transformation("resize_0.5x", "resize", "bicubic resize to 0.5x each side", _resize(0.5)),
    Transformation("resize_0.25x", "resize", "bicubic resize to 0.25x each side", _resize(0.25)),
    Transformation("resize_2x", "resize", "bicubic resize to 2x each side", _resize(2.0)),
    Transformation("blur", "blur", "Gaussian blur, radius 0.5% of the short side (>= 1 px)", _blur),
    Transformation("sharpen", "sharpen", "unsharp mask radius 2, 150%, threshold 3", _sharpen),
    Transformation("gamma_0.6", "gamma", "gamma 0.6 (lighter mid-tones)", _gamma(0.6)),
    Transformation("gamma_1.6", "gamma", "gamma 1.6 (darker mid-tones)", _gamma(1.6)),
    Transformation("brightness_+30%", "brightness", "brightness x1.3", _brightness(1.3)),
    Transformation("brightness_-30%", "brightness", "brightness x0.7", _brightness(0.7)),
    Transformation("contrast_+50%", "contrast", "contrast x1.5", _contrast(1.5)),
    Transformation("contrast_-40%", "contrast", "contrast x0.6", _contrast(0.6)),
    Transformation("grayscale", "grayscale", "converted to grey (ITU-R 601-2 luma)", _grayscale),
    Transformation(
        "watermark_text",
        "watermark",
        f"text {WATERMARK_TEXT!r}, 6% of the height, 70% opaque, seeded position",
        _text_watermark,
    ),
    Transformation(
        "watermark_logo",
        "watermark",
        "logo 20% of the short side, 60% opaque, seeded corner",
        _logo_watermark,
    ),
    Transformation("pad_5%", "pad", "black border, 5% of width/height on each side", _pad(0.05)),
    Transformation("pad_20%", "pad", "black border, 20% of width/height on each side", _pad(0.2)),
    Transformation("crop_2%", "crop", "2% of width and height cut, seeded sides", _crop(0.02)),
    Transformation("crop_5%", "crop", "5% of width and height cut, seeded sides", _crop(0.05)),
    Transformation("crop_10%", "crop", "10% of width and height cut, seeded sides", _crop(0.10)),
    Transformation("rotate_2", "rotate", _SMALL_ROTATION.format(2), _rotate(2, random_sign=True)),
    Transformation("rotate_4", "rotate", _SMALL_ROTATION.format(4), _rotate(4, random_sign=True)),
    Transformation("rotate_90", "rotate", _RIGHT_ANGLE.format(90), _rotate(90, random_sign=False)),
    Transformation(
        "rotate_180", "rotate", _RIGHT_ANGLE.format(180), _rotate(180, random_sign=False)
    ),
    Transformation("flip_horizontal", "flip", "mirror left-right", _hflip),
    Transformation(
        "screenshot", "screenshot", "bilinear resize to 0.8x, saved and re-read as PNG", _screenshot
    ),
)

TRANSFORMATIONS_BY_NAME: dict[str, Transformation] = {t.name: t for t in TRANSFORMATIONS}


def apply_transformation(
    image: Image.Image, name: str, *, seed: int, photo_key: str
) -> Image.Image:
    """The transformation ``name`` of an RGB image; same inputs, same pixels."""
    transformation = TRANSFORMATIONS_BY_NAME[name]
    return transformation.apply(image, seeded_rng(seed, photo_key, name))

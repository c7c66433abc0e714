"""Hashing throughput: our hash_bytes against the bare libraries, and what JPEG draft mode buys.

    .venv/bin/python bench/hashing.py [--limit N] [--rounds R]

1. Images per second on one core over ../shared/data/photos (files read into memory first, so
   disk I/O is not measured): our ``hash_bytes`` (all six hashes, one decode, EXIF, mode policy,
   limits) against a bare pipeline doing the same work with the libraries alone (Pillow decode +
   convert("RGB") + pdqhash + imagehash pHash/dHash + hashlib). Both run in the same process,
   interleaved image by image (alternating which goes first), and the ratio is printed.
   Goal: our overhead at most 10%.
2. Pillow draft mode on the large JPEGs (decoding at 1/2, 1/4 or 1/8 scale, still at least
   512 px on each side, then hashing): speed-up of decode+PDQ and PDQ distance to the full
   decode (mean / max).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import sys
import time
import warnings
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageOps

from hashmatch.hashtypes import HASH_TYPES
from hashmatch_client.imaging import hash_bytes, load_image, pdq_hash

PHOTOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "photos"
VECTORS = PHOTOS.parent / "pdq-vectors"


def bare_hashes(data: bytes) -> dict[str, str]:
    """The same six hashes with the libraries alone: no limits, no EXIF, no mode policy."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    bits, _quality = pdqhash.compute(np.ascontiguousarray(np.asarray(image)))
    return {
        "pdq": np.packbits(bits).tobytes().hex(),
        "phash": str(imagehash.phash(image)),
        "dhash": str(imagehash.dhash(image)),
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def ours(data: bytes) -> dict[str, str]:
    return hash_bytes(data).hashes


def throughput(files: list[bytes], rounds: int) -> tuple[float, float]:
    """Seconds for (ours, bare) over all files: per file, the fastest of ``rounds`` runs.

    The minimum filters out interference from whatever else runs on the machine; the two
    pipelines are interleaved per file, alternating which goes first.
    """
    totals = {"ours": 0.0, "bare": 0.0}
    pipelines = {"ours": ours, "bare": bare_hashes}
    for index, data in enumerate(files):
        best = {"ours": float("inf"), "bare": float("inf")}
        for round_ in range(rounds):
            order = ("ours", "bare") if (index + round_) % 2 == 0 else ("bare", "ours")
            for name in order:
                start = time.perf_counter()
                pipelines[name](data)
                best[name] = min(best[name], time.perf_counter() - start)
        for name in totals:
            totals[name] += best[name]
    return totals["ours"], totals["bare"]


def draft_comparison(files: list[bytes], min_side: int) -> None:
    full_seconds = draft_seconds = 0.0
    distances: list[int] = []
    scales: list[float] = []
    for data in files:
        probe = Image.open(io.BytesIO(data))
        # draft() only helps when a 1/2 (or smaller) scale still leaves min_side on each side.
        if probe.format != "JPEG" or min(probe.size) < 2 * min_side:
            continue
        start = time.perf_counter()
        full = pdq_hash(load_image(data)).hex
        full_seconds += time.perf_counter() - start

        start = time.perf_counter()
        image = Image.open(io.BytesIO(data))
        # draft() picks the smallest DCT scale that keeps at least the requested size.
        image.draft("RGB", (min_side, min_side))
        upright = ImageOps.exif_transpose(image) or image
        drafted = pdq_hash(upright.convert("RGB")).hex
        draft_seconds += time.perf_counter() - start

        scales.append(image.size[0] / probe.size[0])
        distances.append(HASH_TYPES["pdq"].distance(full, drafted))
    if not distances:
        print(f"draft to >= {min_side} px: no JPEG of at least {2 * min_side} px on each side")
        return
    print(
        f"draft to >= {min_side} px on {len(distances)} JPEGs of >= {2 * min_side} px "
        f"(scale {min(scales):.3g}-{max(scales):.3g}): decode+PDQ "
        f"{full_seconds / draft_seconds:.2f}x faster; PDQ distance to full decode "
        f"mean {statistics.mean(distances):.2f}, max {max(distances)} bits, "
        f"{sum(d == 0 for d in distances)} identical"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="use only the first N photos")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs per file; the fastest counts (default 3)"
    )
    args = parser.parse_args()
    # The bare pipeline's convert("RGB") of palette images with transparency warns each time.
    warnings.filterwarnings("ignore", message="Palette images with Transparency")
    if not PHOTOS.is_dir():
        print(f"photos not found at {PHOTOS.resolve()}", file=sys.stderr)
        return 2
    paths = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if args.limit:
        paths = paths[: args.limit]
    files = [path.read_bytes() for path in paths]
    megabytes = sum(map(len, files)) / 1e6
    print(f"{len(files)} photos, {megabytes:.0f} MB, best of {args.rounds} runs each, one core")

    for data in files[:3]:  # warm-up: imports, scipy's first DCT, allocator
        ours(data)
        bare_hashes(data)
    ours_seconds, bare_seconds = throughput(files, args.rounds)
    count = len(files)
    print(f"bare libraries: {count / bare_seconds:6.1f} images/s per core")
    print(f"hash_bytes:     {count / ours_seconds:6.1f} images/s per core")
    print(
        f"ratio ours/bare time: {ours_seconds / bare_seconds:.3f} "
        f"(overhead {100 * (ours_seconds / bare_seconds - 1):+.1f}%, goal <= +10%)"
    )
    # Draft mode needs large JPEGs: the photos are mostly PNG, so the PDQ vectors' JPEGs
    # (1600x1004 bridge images, 4032x3024 phone shots) are added here.
    jpegs = files + [path.read_bytes() for path in sorted(VECTORS.rglob("*.jpg"))]
    for min_side in (512, 256):
        draft_comparison(jpegs, min_side)
    return 0


if __name__ == "__main__":
    sys.exit(main())

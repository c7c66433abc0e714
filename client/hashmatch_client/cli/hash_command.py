"""`hashmatch hash PATH...`: hash image files locally; only hashes ever leave the machine.

Prints one JSON object per file on stdout (a JSON Lines stream), in a stable order: folders are
walked recursively in sorted order. A file that cannot be hashed gets ``{"path", "error"}`` and
the others are still hashed. Exit status: 0 if every file was hashed, 1 if any failed (an unknown
``--types`` name is a usage error, status 2, before anything is hashed).

``--rotations`` and ``--trim-borders`` add an ``alternates`` object (type -> list of hex) that
``hashmatch scan`` sends with each query; their cost is stated in ``--help``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from hashmatch.errors import HashmatchError
from hashmatch.hashtypes import HASH_TYPES, get_hash_type
from hashmatch_client.files import IMAGE_EXTENSIONS, images_under

# Files picked up when walking a folder; a file named explicitly is hashed whatever its name.

EXIT_OK = 0
EXIT_SOME_FAILED = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "hash",
        help="hash image files locally (PDQ, pHash, dHash, MD5, SHA-1, SHA-256)",
        description=(
            "Hash image files on this machine and print one JSON line per file. Folders are "
            "searched recursively for "
            + ", ".join(sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS))
            + " files. A pdq_quality below 50 marks a PDQ hash that cannot be trusted (flat or"
            " tiny image). Exit status 0 if every file was hashed, 1 if any file failed."
        ),
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument(
        "--types",
        type=parse_types,
        default=tuple(HASH_TYPES),
        help="comma-separated hash types (default: all: " + ",".join(HASH_TYPES) + ")",
    )
    parser.add_argument(
        "--dihedral",
        action="store_true",
        help="also print the 8 PDQ hashes of the rotations and flips (pdq_dihedral)",
    )
    parser.add_argument(
        "--rotations",
        action="store_true",
        help="also hash the 7 other rotations/flips of each image with PDQ (alternates.pdq), so "
        "that rotated or mirrored copies match: 0.2%% -> 100%% of them found on the shared "
        "photos. Cost: 8 PDQ hashes per image instead of 1 (7.4x the time of PDQ alone on the "
        "shared photos) and 8 lookups per query in the service. Exact, unlike --dihedral",
    )
    parser.add_argument(
        "--trim-borders",
        action="store_true",
        help="when an image has a uniform border (padding, letterboxing), also hash it trimmed "
        "(alternates.<type>), so that padded copies match: PDQ 2%% -> 60%% (5%% border), "
        "0.2%% -> 55%% (20%%). Cost: a look at the outer lines of every image, one extra "
        "hash per type and lookup only for images with a border (1.5x the time of PDQ alone "
        "on the shared photos, two thirds of which have one)",
    )
    parser.add_argument(
        "--reference-resize",
        action="store_true",
        help="squash images over 512 px to 512x512 (nearest neighbour) before PDQ, as the C++ "
        "reference tool pdq-photo-hasher does",
    )
    # Defaults mirror hashmatch_client.imaging without importing PIL just to build --help.
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=50_000_000,
        help="refuse images with more pixels than this (default 50,000,000; Pillow's own "
        "decompression-bomb guard still refuses anything over about 179 million)",
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=50 * 1024 * 1024,
        help="refuse files larger than this many bytes (default 50 MiB)",
    )
    parser.set_defaults(func=run)


def parse_types(text: str) -> tuple[str, ...]:
    names: list[str] = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            name = get_hash_type(part).name
        except HashmatchError as error:
            raise argparse.ArgumentTypeError(error.detail) from error
        if name not in names:
            names.append(name)
    if not names:
        raise argparse.ArgumentTypeError("no hash types given")
    return tuple(names)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Explicit files as given; folders walked recursively (sorted) for image extensions."""
    for path in paths:
        if path.is_dir():
            yield from images_under(path)
        else:
            # Missing paths are yielded too: they get an error line like any failed file.
            yield path


def hash_one(
    path: Path,
    types: Sequence[str],
    *,
    dihedral: bool = False,
    reference_resize: bool = False,
    rotations: bool = False,
    trim_borders: bool = False,
    max_pixels: int | None = None,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    # Imported here so that `hashmatch --help` and other subcommands never load PIL.
    from hashmatch_client import imaging

    record: dict[str, Any] = {"path": str(path)}
    try:
        hashes = imaging.hash_file(
            path,
            types,
            dihedral=dihedral,
            reference_resize=reference_resize,
            rotations=rotations,
            trim_borders=trim_borders,
            max_pixels=imaging.DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels,
            max_bytes=imaging.DEFAULT_MAX_IMAGE_BYTES if max_bytes is None else max_bytes,
        )
    except HashmatchError as error:
        record["error"] = error.detail
    except OSError as error:
        record["error"] = f"cannot read file: {error.strerror or error}"
    else:
        record.update(hashes.to_json_dict())
    return record


def run(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    from tqdm import tqdm

    stream = out if out is not None else sys.stdout
    files = list(iter_files(args.paths))
    failed = 0
    progress = tqdm(
        files, unit="file", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False
    )
    for path in progress:
        record = hash_one(
            path,
            args.types,
            dihedral=args.dihedral,
            reference_resize=args.reference_resize,
            rotations=args.rotations,
            trim_borders=args.trim_borders,
            max_pixels=args.max_pixels,
            max_bytes=args.max_bytes,
        )
        if "error" in record:
            failed += 1
        stream.write(json.dumps(record) + "\n")
    stream.flush()
    if failed:
        print(f"hashmatch hash: {failed} of {len(files)} files failed", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK

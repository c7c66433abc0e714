"""Which files the client treats as images when it walks a folder (no PIL here: walking a
folder must not load an image library)."""

from __future__ import annotations

from pathlib import Path

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"})


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def images_under(folder: Path) -> list[Path]:
    """Every image file below ``folder``, recursively, sorted by path."""
    return sorted(path for path in folder.rglob("*") if is_image_name(path) and path.is_file())

"""Where published reports are kept: write once, never replaced (S3 Object Lock)."""

from __future__ import annotations

from typing import Protocol


class PublishedReports(Protocol):
    def get(self, year: int, name: str) -> bytes | None:
        """A published file of ``year`` ("report.json", ...), or None if it does not exist."""

    def put_new(self, year: int, name: str, body: bytes, content_type: str) -> bool:
        """Store a file unless it exists (then False, and the stored one is kept)."""

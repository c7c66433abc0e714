"""Typed domain errors. Raised in the domain, mapped to HTTP (problem+json) once, in hashmatch.api.

Every error carries a stable machine-readable ``code`` (the last segment of the problem ``type``
URI), a human ``detail`` and optional structured ``errors``: one ``{"loc": [...], "msg": "..."}``
per fault, ``loc`` being the path to it (e.g. ``["items", 3, "value"]`` for a bad batch item).
Never map errors by matching message text: map by class.
"""

from __future__ import annotations

from typing import Any


class HashmatchError(Exception):
    """Base class of every error the domain raises on purpose."""

    code = "error"
    title = "Error"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class InvalidInput(HashmatchError):
    """The caller sent something malformed or out of range (HTTP 422)."""

    code = "invalid-input"
    title = "Invalid input"


class InvalidHash(InvalidInput):
    """A hash string that does not parse for its hash type."""

    code = "invalid-hash"
    title = "Invalid hash"


class UnknownHashType(InvalidInput):
    code = "unknown-hash-type"
    title = "Unknown hash type"


class NotFound(HashmatchError):
    """The thing asked for does not exist, or is not visible to this caller (HTTP 404)."""

    code = "not-found"
    title = "Not found"


class Conflict(HashmatchError):
    """The request conflicts with the current state (HTTP 409)."""

    code = "conflict"
    title = "Conflict"


class Unauthorized(HashmatchError):
    """No credentials, or credentials that do not identify a client (HTTP 401)."""

    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(HashmatchError):
    """The client is known but may not do this (HTTP 403)."""

    code = "forbidden"
    title = "Forbidden"


class DependencyUnavailable(HashmatchError):
    """A dependency (table, queue, bucket) failed in a way worth retrying (HTTP 503)."""

    code = "dependency-unavailable"
    title = "Service temporarily unavailable"

    def __init__(
        self,
        detail: str,
        *,
        retry_after_seconds: int = 2,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail, errors=errors)
        self.retry_after_seconds = retry_after_seconds


class IndexUnavailable(DependencyUnavailable):
    """The matching index cannot be served: its snapshot is missing, unreadable or corrupt.

    Matching fails closed (HTTP 503): an empty or half-read index would answer "no match" for
    hashes that are in the databases. build_index writes a snapshot on its first run and
    rebuilds a corrupt one from the indicators table, so this clears by itself within minutes.
    """

    code = "index-unavailable"
    title = "Matching index temporarily unavailable"


class Throttled(HashmatchError):
    """The client must slow down (HTTP 429 with Retry-After): its queries look like probing."""

    code = "probing-suspected"
    title = "Too many near-duplicate queries"

    def __init__(
        self,
        detail: str,
        *,
        retry_after_seconds: int,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail, errors=errors)
        self.retry_after_seconds = retry_after_seconds


class ImageError(HashmatchError):
    """An image could not be hashed (client side only): unreadable, too large, a bomb."""

    code = "image-error"
    title = "Image cannot be hashed"

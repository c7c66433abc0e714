"""The one error the local stack raises when the template or the machine does not allow a start."""

from __future__ import annotations


class LocalStackError(RuntimeError):
    """The local stack cannot run this template as written (a clear message says why)."""

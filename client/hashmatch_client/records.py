"""The JSON record `hashmatch hash` writes per file, as far as scan and the SDK read it back.

No PIL here: reading records must not decode images.
"""

from __future__ import annotations


def quality_field(name: str) -> str:
    """The field holding a hash type's quality in a record ("pdq_quality" for PDQ)."""
    return f"{name}_quality"

"""Submissions and hashes shared by the indicator unit tests."""

from __future__ import annotations

import random
from typing import Any

CURATOR = "cl_" + "c" * 24


def pdq_hex(seed: int) -> str:
    return random.Random(seed).getrandbits(256).to_bytes(32, "big").hex()


def flip_bits(hex_value: str, count: int) -> str:
    value = int(hex_value, 16)
    for bit in range(count):
        value ^= 1 << (bit * 7 % 256)
    return f"{value:0{len(hex_value)}x}"


def submission(
    hash_value: str,
    *,
    hash_type: str = "pdq",
    database: str = "known",
    reference: str = "BKA-2026-0001",
    **overrides: Any,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "hash_type": hash_type,
        "hash": hash_value,
        "database": database,
        "media_type": "image",
        "provenance": {
            "authority": "Bundeskriminalamt",
            "member_state": "DE",
            "assessment_reference": reference,
            "assessed_at": "2026-03-01T10:00:00Z",
        },
    }
    item.update(overrides)
    return item

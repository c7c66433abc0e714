"""Paging cursors: a query's LastEvaluatedKey, handed to the caller as opaque text and taken
back only for the listing that issued it (same index, same partition), else NotFound: a cursor
this listing did not issue names no page of it."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from hashmatch.errors import NotFound


def encode_cursor(last_key: Mapping[str, Any]) -> str:
    plain = {name: value["S"] for name, value in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode()


def decode_cursor(
    cursor: str, fixed: Mapping[str, str], free: Iterable[str], *, parameter: str = "next"
) -> dict[str, Any]:
    """The ExclusiveStartKey of ``cursor``: exactly the attributes ``fixed`` (which must hold
    these values: the listing's partition) and ``free`` (any string), or NotFound."""
    invalid = NotFound(
        "no such page: the cursor was not issued for this listing",
        errors=[{"loc": ["query", parameter], "msg": "not a cursor of this listing"}],
    )
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise invalid from error
    expected = set(fixed) | set(free)
    if (
        not isinstance(plain, dict)
        or set(plain) != expected
        or not all(isinstance(value, str) for value in plain.values())
        or any(plain[name] != value for name, value in fixed.items())
    ):
        raise invalid
    return {name: {"S": value} for name, value in plain.items()}

"""Parsing JSON that a client sent, with limits Python's json module does not have.

``json.loads`` fails on a document nested about 1,000 levels deep (RecursionError) and on an
integer of more than 4,300 digits (ValueError), and accepts NaN and Infinity, which JSON does not;
a deep value that parses can still exhaust the stack of whatever walks it next. ``parse`` turns
each of these into one ``UnacceptableJson`` with a reason a client can act on.
"""

from __future__ import annotations

import json
from typing import Any

# Deeper than anything the API documents (a match item is 3 levels deep, an indicator item 3).
MAX_DEPTH = 32


class UnacceptableJson(ValueError):
    """Text that is not JSON, or JSON beyond the limits above."""


def parse(text: str) -> Any:
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError as error:
        raise UnacceptableJson(f"nested more than {MAX_DEPTH} levels deep") from error
    except json.JSONDecodeError as error:
        raise UnacceptableJson(f"not JSON: {error.msg}") from error
    except ValueError as error:  # Python's limit on the digits of an integer, or NaN/Infinity
        raise UnacceptableJson(f"not acceptable JSON: {error}") from error
    if depth(value) > MAX_DEPTH:
        raise UnacceptableJson(f"nested more than {MAX_DEPTH} levels deep")
    return value


def depth(value: Any) -> int:
    """Nesting depth of arrays and objects, found without recursion (stops past MAX_DEPTH).

    Only containers are queued (a match request is 1,000 objects of scalars: queueing the
    scalars too tripled the walk).
    """
    if not isinstance(value, dict | list):
        return 0
    deepest, pending = 0, [(value, 1)]
    while pending:
        current, level = pending.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        for child in current.values() if isinstance(current, dict) else current:
            if isinstance(child, dict | list):
                pending.append((child, level + 1))
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")

"""Client JSON with limits: the depth bound holds at its edge, whatever the scalars around it."""

from __future__ import annotations

import pytest

from hashmatch import json_text
from hashmatch.json_text import MAX_DEPTH, UnacceptableJson


def nested(levels: int) -> str:
    """``levels`` containers deep, alternating objects and arrays, with scalars at each level."""
    text = "1"
    for level in range(levels):
        text = f'{{"s": "x", "n": 2, "v": {text}}}' if level % 2 else f'["x", 2, {text}, null]'
    return text


@pytest.mark.parametrize("levels", [1, 2, MAX_DEPTH - 1, MAX_DEPTH])
def test_json_up_to_the_depth_limit_is_parsed(levels):
    value = json_text.parse(nested(levels))

    assert json_text.depth(value) == levels


def test_json_one_level_deeper_is_refused():
    with pytest.raises(UnacceptableJson, match=f"more than {MAX_DEPTH} levels"):
        json_text.parse(nested(MAX_DEPTH + 1))


@pytest.mark.parametrize(("value", "expected"), [(1, 0), ("x", 0), (None, 0), ([], 1), ({}, 1)])
def test_scalars_have_no_depth_and_empty_containers_one(value, expected):
    assert json_text.depth(value) == expected


def test_the_deepest_branch_counts_not_the_first():
    value = {"a": [1], "b": [[[]]], "c": "x"}

    assert json_text.depth(value) == 4

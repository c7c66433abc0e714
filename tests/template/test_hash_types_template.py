"""The template's match thresholds come from the hash-type registry's facts: one Parameter per
Hamming type, bounded by the type's maximum, defaulting to its default, all handed to
match_hashes in MATCH_THRESHOLDS; exact types have none."""

from __future__ import annotations

import json
import re
from typing import Any

from hashmatch.hashtypes import HASH_TYPES, MatchKind
from tests.template.conftest import resources_of_type


def threshold_parameter(type_name: str) -> str:
    return f"{type_name.capitalize()}MatchThreshold"


def match_thresholds_of(function: dict[str, Any]) -> dict[str, str]:
    """MATCH_THRESHOLDS as written: hash type -> the Parameter its value names."""
    text = function["Properties"]["Environment"]["Variables"]["MATCH_THRESHOLDS"]["Fn::Sub"]
    named: dict[str, str] = json.loads(re.sub(r"\$\{(\w+)\}", r'"\1"', text))
    return named


def test_every_hamming_type_has_a_threshold_parameter_bounded_by_the_registry(sam_template):
    parameters = sam_template["Parameters"]

    for hash_type in HASH_TYPES.of_kind(MatchKind.HAMMING):
        parameter = parameters[threshold_parameter(hash_type.name)]
        assert parameter["Type"] == "Number", hash_type.name
        assert int(parameter["Default"]) == hash_type.default_threshold, hash_type.name
        assert int(parameter["MinValue"]) == 0, hash_type.name
        assert int(parameter["MaxValue"]) == hash_type.max_threshold, hash_type.name


def test_no_threshold_parameter_exists_for_a_type_the_registry_does_not_match_by_distance(
    sam_template,
):
    declared = {name for name in sam_template["Parameters"] if name.endswith("MatchThreshold")}

    assert declared == {threshold_parameter(t.name) for t in HASH_TYPES.of_kind(MatchKind.HAMMING)}


def test_match_hashes_gets_every_threshold_parameter_under_its_type_name(cfn_template):
    functions = resources_of_type(cfn_template, "AWS::Lambda::Function")

    named = match_thresholds_of(functions["MatchHashesFunction"])

    assert named == {
        t.name: threshold_parameter(t.name) for t in HASH_TYPES.of_kind(MatchKind.HAMMING)
    }

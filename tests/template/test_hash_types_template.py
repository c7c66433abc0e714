"""The template's match thresholds come from the hash-type registry's facts: one Parameter per
database and Hamming type, bounded by the type's maximum, defaulting to its default, all handed
to match_hashes in MATCH_THRESHOLDS under their database and type; exact types have none."""

from __future__ import annotations

import json
import re
from typing import Any

from hashmatch.hashtypes import HASH_TYPES, MatchKind
from hashmatch.index import DATABASES
from tests.template.conftest import resources_of_type


def threshold_parameter(database: str, type_name: str) -> str:
    return f"{database.capitalize()}{type_name.capitalize()}MatchThreshold"


def expected_parameters() -> dict[tuple[str, str], str]:
    return {
        (database, hash_type.name): threshold_parameter(database, hash_type.name)
        for database in DATABASES
        for hash_type in HASH_TYPES.of_kind(MatchKind.HAMMING)
    }


def match_thresholds_of(function: dict[str, Any]) -> dict[tuple[str, str], str]:
    """MATCH_THRESHOLDS as written: (database, hash type) -> the Parameter its value names."""
    text = function["Properties"]["Environment"]["Variables"]["MATCH_THRESHOLDS"]["Fn::Sub"]
    named: dict[str, dict[str, str]] = json.loads(re.sub(r"\$\{(\w+)\}", r'"\1"', text))
    return {
        (database, type_name): parameter
        for database, per_type in named.items()
        for type_name, parameter in per_type.items()
    }


def test_every_database_and_hamming_type_has_a_threshold_parameter_bounded_by_the_registry(
    sam_template,
):
    parameters = sam_template["Parameters"]

    for (_, type_name), name in expected_parameters().items():
        hash_type = HASH_TYPES.lookup(type_name)
        parameter = parameters[name]
        assert parameter["Type"] == "Number", name
        assert int(parameter["Default"]) == hash_type.default_threshold, name
        assert int(parameter["MinValue"]) == 0, name
        assert int(parameter["MaxValue"]) == hash_type.max_threshold, name


def test_no_threshold_parameter_exists_for_a_type_the_registry_does_not_match_by_distance(
    sam_template,
):
    declared = {name for name in sam_template["Parameters"] if name.endswith("MatchThreshold")}

    assert declared == set(expected_parameters().values())


def test_match_hashes_gets_every_threshold_parameter_under_its_database_and_type(cfn_template):
    functions = resources_of_type(cfn_template, "AWS::Lambda::Function")

    named = match_thresholds_of(functions["MatchHashesFunction"])

    assert named == expected_parameters()

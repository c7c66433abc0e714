"""Distance bands: what a provider learns of a match's distance."""

from __future__ import annotations

import json

import pytest

from hashmatch.matching.api import match_response_body
from hashmatch.matching.disclosure import Band, Disclosure, DistanceBands
from hashmatch.matching.service import BatchAnswer, ItemAnswer, ItemMatch


@pytest.mark.parametrize(
    ("distance", "threshold", "band"),
    [
        (0, 31, Band.EXACT),
        (1, 31, Band.CLOSE),
        (15, 31, Band.CLOSE),
        (16, 31, Band.NEAR),
        (31, 31, Band.NEAR),
        (0, 0, Band.EXACT),
        (4, 8, Band.CLOSE),
        (5, 8, Band.NEAR),
    ],
)
def test_a_distance_falls_in_the_band_its_share_of_the_threshold_names(distance, threshold, band):
    assert DistanceBands(close_percent=50).band(distance, threshold) is band


def test_a_close_share_outside_0_to_100_is_refused():
    with pytest.raises(ValueError, match="0 to 100"):
        DistanceBands(close_percent=101)


def _answer(distance: int) -> BatchAnswer:
    match = ItemMatch(
        "mt_" + "a" * 24,
        "known",
        "image",
        distance,
        31,
        indicator_ref="ir_" + "0" * 24,
    )
    return BatchAnswer(index_version=3, items=[ItemAnswer("pdq", None, matches=[match])])


def test_a_provider_answer_carries_the_band_and_no_distance():
    body = json.loads(match_response_body(_answer(7)))

    (found,) = body["items"][0]["matches"]
    assert found["band"] == "close"
    assert "distance" not in found


def test_an_exact_disclosure_carries_the_distance_too():
    body = json.loads(match_response_body(_answer(20), disclosure=Disclosure.EXACT))

    (found,) = body["items"][0]["matches"]
    assert (found["band"], found["distance"]) == ("near", 20)


def _rule_answer() -> BatchAnswer:
    match = ItemMatch(
        "mt_" + "b" * 24,
        "known",
        "image",
        33,
        31,
        indicator_ref="ir_" + "1" * 24,
        companion_distance=2,
        agreement_threshold=36,
    )
    return BatchAnswer(index_version=3, items=[ItemAnswer("pdq", None, matches=[match])])


def test_a_match_of_the_agreement_rule_discloses_its_companion_distance_only_as_a_distance():
    (banded,) = json.loads(match_response_body(_rule_answer()))["items"][0]["matches"]
    exact = json.loads(match_response_body(_rule_answer(), disclosure=Disclosure.EXACT))

    assert "companion_distance" not in banded
    assert "distance" not in banded
    assert banded["agreement_threshold"] == 36
    (disclosed,) = exact["items"][0]["matches"]
    assert (disclosed["distance"], disclosed["companion_distance"]) == (33, 2)

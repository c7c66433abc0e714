"""Freshness end to end in moto: curator API -> build_index -> matcher, and overlapping builds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions.build_index import app as build_index
from hashmatch import bootstrap
from hashmatch.clock import SystemClock
from hashmatch.errors import Conflict, IndexUnavailable
from hashmatch.indicators.builder import IndexBuilder
from hashmatch.matching.matcher import HashQuery, Matcher
from tests.factories import flip_bits, pdq_hex, submission
from tests.integration.indicator_fixtures import call

pytestmark = pytest.mark.usefixtures("deployment")


def add(context, value: str) -> str:
    _, body = call(context, "POST", "/v1/indicators", body={"items": [submission(value)]})
    return str(body["items"][0]["id"])


def fresh_matcher() -> Matcher:
    # Refresh at every call: the 30 s interval itself is covered by the unit tests.
    return Matcher(
        bootstrap.snapshot_store(),
        bootstrap.indicator_store(),
        SystemClock(),
        refresh_interval=timedelta(0),
    )


def matched_ids(matcher: Matcher, value: str) -> list[str]:
    answer = matcher.search([HashQuery.parse("pdq", value)])
    return [m.indicator_id for m in answer.results[0].hits]


def test_the_first_build_writes_a_snapshot_even_with_no_indicators(lambda_context):
    matcher = fresh_matcher()
    with pytest.raises(IndexUnavailable):  # no snapshot: a fault, never "nothing matches"
        matched_ids(matcher, pdq_hex(99))

    outcome = build_index.lambda_handler({}, lambda_context)

    assert (outcome["written"], outcome["version"], outcome["counts"]) == (True, 1, {})
    assert matched_ids(matcher, pdq_hex(99)) == []


def test_an_added_indicator_matches_after_the_next_build(lambda_context):
    build_index.lambda_handler({}, lambda_context)
    value = pdq_hex(100)
    indicator = add(lambda_context, value)
    matcher = fresh_matcher()
    before = matched_ids(matcher, value)

    outcome = build_index.lambda_handler({}, lambda_context)

    assert before == []
    assert (outcome["written"], outcome["version"]) == (True, 2)
    assert matched_ids(matcher, flip_bits(value, 3)) == [indicator]


def test_a_revoked_indicator_is_invisible_at_once(lambda_context):
    value = pdq_hex(101)
    indicator = add(lambda_context, value)
    build_index.lambda_handler({}, lambda_context)
    matcher = fresh_matcher()
    assert matched_ids(matcher, value) == [indicator]

    call(lambda_context, "DELETE", "/v1/indicators/{id}", indicator=indicator, body={"reason": "r"})

    assert matched_ids(matcher, value) == []


def test_a_run_with_no_change_writes_nothing(lambda_context):
    add(lambda_context, pdq_hex(102))
    build_index.lambda_handler({}, lambda_context)

    outcome = build_index.lambda_handler({}, lambda_context)

    assert (outcome["written"], outcome["version"]) == (False, 1)


def test_two_overlapping_builds_lose_no_change(lambda_context):
    first = add(lambda_context, pdq_hex(103))
    build_index.lambda_handler({}, lambda_context)
    second = add(lambda_context, pdq_hex(104))
    snapshots = bootstrap.snapshot_store()
    stored = snapshots.read()
    run_a = IndexBuilder(bootstrap.indicator_store(), snapshots, SystemClock())
    run_b = IndexBuilder(bootstrap.indicator_store(), _Frozen(snapshots, stored), SystemClock())

    run_a.build()
    third = add(lambda_context, pdq_hex(105))
    with pytest.raises(Conflict):
        run_b.build()  # read the same snapshot as A: its compare-and-swap loses
    superseded = build_index.lambda_handler({}, lambda_context)

    matcher = fresh_matcher()
    assert superseded["written"] is True
    for indicator, value in ((first, 103), (second, 104), (third, 105)):
        assert matched_ids(matcher, pdq_hex(value)) == [indicator]


def test_a_full_rebuild_on_demand_holds_the_active_indicators(lambda_context):
    kept = add(lambda_context, pdq_hex(106))
    gone = add(lambda_context, pdq_hex(107))
    build_index.lambda_handler({}, lambda_context)
    call(lambda_context, "DELETE", "/v1/indicators/{id}", indicator=gone, body={"reason": "r"})

    outcome = build_index.lambda_handler({"full_rebuild": True}, lambda_context)

    assert outcome["counts"] == {"pdq": {"known": 1}}
    assert matched_ids(fresh_matcher(), pdq_hex(106)) == [kept]


class _Frozen:
    """A snapshot store whose reads return what was read earlier (a run that started then)."""

    def __init__(self, inner, stored) -> None:
        self._inner = inner
        self._stored = stored

    def read(self):
        return self._stored

    def stream(self):
        return self._inner.stream()

    def current_etag(self):
        return self._stored.etag

    def write(self, data: bytes, *, replaces: str | None) -> str:
        return self._inner.write(data, replaces=replaces)

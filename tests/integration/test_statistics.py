"""Counting against moto: the DynamoDB adapter counts each event once, and the handlers keep
to it under retries (the same match request retried, the same report message delivered twice)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from functions.build_index import app as build_index
from functions.intake_reports import app as intake_reports
from functions.match_hashes import app as match_hashes
from hashmatch import bootstrap
from hashmatch.adapters.aws import dynamodb_client
from hashmatch.adapters.dynamodb_statistics import DynamoDBCounterStore
from hashmatch.statistics.model import Count, CountedEvent, TallyStep
from hashmatch.statistics.ports import TallyMoved
from tests.factories import pdq_hex, submission
from tests.integration.conftest import Deployment, api_event
from tests.integration.indicator_fixtures import call
from tests.integration.test_reports import (
    PROVIDER,
    file_report,
    receive,
    report_body,
    sqs_event,
    stored_match,
)

DAY = date(2026, 3, 4)
QUERY = Count("queries", ("Hash # Co %", "pdq", "matched", "-"))


@pytest.fixture
def store(deployment: Deployment) -> DynamoDBCounterStore:
    return bootstrap.counter_store()


def items(deployment: Deployment) -> list[dict[str, Any]]:
    table = deployment.physical_id("StatisticsTable")
    return dynamodb_client().scan(TableName=table)["Items"]


def test_an_event_recorded_twice_is_counted_once(store, deployment):
    event = CountedEvent("e-1", DAY, {QUERY: 3})

    assert store.record([event]) == 1
    assert store.record([event]) == 0

    assert store.sums(DAY, DAY, ["queries"]) == {QUERY: 3}
    assert len(items(deployment)) == 2  # the counter and the event's marker


def test_many_events_are_written_in_transactions_of_at_most_100_writes(store):
    # 250 events sharing 3 counters: more than one transaction
    events = [
        CountedEvent(f"e-{n}", DAY, {Count("erasures", (f"class-{n % 3}",)): 1}) for n in range(250)
    ]

    assert store.record(events) == 250
    assert store.record(events) == 0
    assert store.record([*events, CountedEvent("e-new", DAY, {QUERY: 1})]) == 1

    sums = store.sums(DAY, DAY, ["erasures", "queries"])
    assert sorted(sums.values()) == [1, 83, 83, 84]


def test_a_moved_tally_refuses_the_whole_event(store, deployment):
    store.record([CountedEvent("r-1", DAY, {QUERY: 1}, tallies={"ind_a": TallyStep(0, 1)})])

    with pytest.raises(TallyMoved):
        store.record([CountedEvent("r-2", DAY, {QUERY: 1}, tallies={"ind_a": TallyStep(0, 1)})])

    assert store.sums(DAY, DAY, ["queries"]) == {QUERY: 1}
    assert store.tallies(2026, ["ind_a", "ind_b"]) == {"ind_a": 1}
    store.record([CountedEvent("r-2", DAY, {QUERY: 1}, tallies={"ind_a": TallyStep(1, 2)})])
    assert store.year_tallies(2026) == {"ind_a": 2}


def test_sums_cover_exactly_the_days_asked_for_and_totals_run_on(store):
    change = Count("indicators_active_change", ("known", "image"))
    for day, key in ((date(2026, 3, 3), "a"), (DAY, "b"), (date(2026, 3, 5), "c")):
        store.record([CountedEvent(key, day, {QUERY: 1, change: 1}, totals={change: 1})])

    assert store.sums(DAY, DAY, ["queries"]) == {QUERY: 1}
    assert store.sums(date(2026, 3, 3), date(2026, 3, 5), ["queries"]) == {QUERY: 3}
    assert store.sums(date(2026, 3, 6), date(2026, 12, 31), ["queries"]) == {}
    assert store.totals("indicators_active_change") == {change: 3}


def test_erasing_a_day_takes_its_counters_and_markers(store, deployment):
    store.record([CountedEvent("e-1", DAY, {QUERY: 1}), CountedEvent("e-2", date(2026, 3, 5), {})])

    assert store.delete_day(DAY.isoformat()) == 2

    assert store.sums(DAY, DAY, ["queries"]) == {}
    assert len(items(deployment)) == 1  # the other day's marker


# -- the handlers under retries ----------------------------------------------------------------


def test_the_same_match_request_retried_is_counted_once(deployment, lambda_context):
    # Given an indexed indicator
    value = pdq_hex(7)
    call(lambda_context, "POST", "/v1/indicators", body={"items": [submission(value)]})
    build_index.lambda_handler({}, lambda_context)
    principal = {
        "client_id": "cl_" + "p" * 24,
        "role": "provider",
        "organisation_id": "org_" + "p" * 24,
        "owner": "Example Hosting SA",
        "databases": "known",
        "hash_types": "pdq",
    }
    body = json.dumps({"items": [{"type": "pdq", "value": value, "quality": 100}]})

    # When the same batch is sent three times with one Idempotency-Key, and once without
    for headers in ({"Idempotency-Key": "batch-1"},) * 3 + ({},):
        event = api_event("POST", "/v1/match", principal=principal, body=body, headers=headers)
        assert match_hashes.lambda_handler(event, lambda_context)["statusCode"] == 200

    # Then the keyed batch counts once and the unkeyed one once more
    today = datetime.now(UTC).date()
    sums = bootstrap.counter_store().sums(today, today, ["queries", "matches"])
    assert sums == {
        Count("queries", ("org_" + "p" * 24, "pdq", "matched", "-")): 2,
        Count("matches", ("org_" + "p" * 24, "known", "image", "pdq")): 2,
    }


def test_the_same_report_message_delivered_twice_is_counted_once(deployment, lambda_context):
    # Given a filed report's message
    assert file_report(lambda_context, report_body([stored_match()]))["statusCode"] == 202
    (message,) = receive(deployment)

    # When intake receives it twice
    for _ in range(2):
        answer = intake_reports.lambda_handler(sqs_event(deployment, [message]), lambda_context)
        assert answer == {"batchItemFailures": []}

    # Then it is counted once
    today = datetime.now(UTC).date()
    sums = bootstrap.counter_store().sums(today, today, ["reports_received", "repeat_reports"])
    assert sums == {
        Count("reports_received", (PROVIDER.organisation_id, "urgent", "image", "AT")): 1
    }

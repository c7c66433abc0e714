"""Batch reads and writes are done whole: chunked, unprocessed items retried, then refused."""

from __future__ import annotations

from typing import Any

import pytest

from hashmatch.adapters.dynamodb_batches import get_all, write_all
from hashmatch.errors import DependencyUnavailable


class ThrottlingDynamoDB:
    """Leaves the last item of each call unprocessed ``throttled_rounds`` times."""

    def __init__(self, throttled_rounds: int) -> None:
        self.throttled_rounds = throttled_rounds
        self.written: list[Any] = []
        self.calls = 0

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        self.calls += 1
        ((table, requests),) = RequestItems.items()
        assert len(requests) <= 25
        if self.throttled_rounds:
            self.throttled_rounds -= 1
            self.written.extend(requests[:-1])
            return {"UnprocessedItems": {table: requests[-1:]}}
        self.written.extend(requests)
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems: dict[str, dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        assert len(keys) <= 100
        if self.throttled_rounds:
            self.throttled_rounds -= 1
            return {
                "Responses": {table: keys[:-1]},
                "UnprocessedKeys": {table: {**request, "Keys": keys[-1:]}},
            }
        return {"Responses": {table: keys}, "UnprocessedKeys": {}}


def no_sleep(seconds: float) -> None:
    pass


def test_writes_are_chunked_and_unprocessed_items_retried_until_all_are_written():
    dynamodb = ThrottlingDynamoDB(throttled_rounds=2)
    requests = [{"PutRequest": {"Item": {"n": {"N": str(n)}}}} for n in range(60)]

    write_all(dynamodb, "t", requests, what="writing", sleep=no_sleep)  # type: ignore[arg-type]

    assert sorted(r["PutRequest"]["Item"]["n"]["N"] for r in dynamodb.written) == sorted(
        str(n) for n in range(60)
    )


def test_a_table_that_keeps_throttling_is_a_retryable_error():
    dynamodb = ThrottlingDynamoDB(throttled_rounds=100)

    with pytest.raises(DependencyUnavailable):
        write_all(dynamodb, "t", [{"PutRequest": {"Item": {}}}], what="writing", sleep=no_sleep)  # type: ignore[arg-type]


def test_reads_are_chunked_and_unprocessed_keys_asked_again():
    dynamodb = ThrottlingDynamoDB(throttled_rounds=1)
    keys = [{"id": {"S": str(n)}} for n in range(250)]

    items = get_all(dynamodb, "t", keys, what="reading", sleep=no_sleep)  # type: ignore[arg-type]

    assert sorted(item["id"]["S"] for item in items) == sorted(str(n) for n in range(250))
    assert dynamodb.calls == 4  # 3 chunks, one of them asked twice

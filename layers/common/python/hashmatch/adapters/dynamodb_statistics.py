"""DynamoDB adapter of the CounterStore port: PK ``day``, SK ``counter``, attribute ``count``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hashmatch.adapters.aws import translated_errors
from hashmatch.adapters.dynamodb_batches import write_all
from hashmatch.statistics.model import CounterKey

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TRANSACTION_LIMIT = 100


class DynamoDBCounterStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def add(self, increments: Mapping[CounterKey, int]) -> None:
        """All of a request's increments in one transaction: a failure counts none of them (so
        the caller's retry counts each once), and botocore's own retries of the call reuse its
        client request token, so DynamoDB applies it once."""
        updates: list[Any] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"day": {"S": key.day.isoformat()}, "counter": {"S": key.counter}},
                    "UpdateExpression": "ADD #count :increment",
                    "ExpressionAttributeNames": {"#count": "count"},
                    "ExpressionAttributeValues": {":increment": {"N": str(increment)}},
                }
            }
            for key, increment in sorted(increments.items())
            if increment
        ]
        # One request has at most (hash types + 1) x 3 outcomes counters, far below the limit.
        for start in range(0, len(updates), TRANSACTION_LIMIT):
            with translated_errors("counting queries"):
                self._dynamodb.transact_write_items(
                    TransactItems=updates[start : start + TRANSACTION_LIMIT]
                )

    def delete_day(self, day: str) -> int:
        """Erase a day's counters: the day is the partition key, so this is a query, not a scan."""
        keys: list[Any] = []
        paginator = self._dynamodb.get_paginator("query")
        with translated_errors("reading a day's counters"):
            for page in paginator.paginate(
                TableName=self._table,
                KeyConditionExpression="#day = :day",
                ExpressionAttributeNames={"#day": "day", "#counter": "counter"},
                ExpressionAttributeValues={":day": {"S": day}},
                ProjectionExpression="#day, #counter",
            ):
                keys.extend(page.get("Items", []))
        requests = [{"DeleteRequest": {"Key": key}} for key in keys]
        write_all(self._dynamodb, self._table, requests, what="erasing counters")
        return len(keys)

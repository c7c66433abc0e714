"""DynamoDB adapter of the CounterStore port: PK ``day``, SK ``counter``, attribute ``count``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from hashmatch.adapters.aws import translated_errors
from hashmatch.statistics.model import CounterKey

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBCounterStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def add(self, increments: Mapping[CounterKey, int]) -> None:
        for key, increment in sorted(increments.items()):
            if increment == 0:
                continue
            with translated_errors("counting queries"):
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"day": {"S": key.day.isoformat()}, "counter": {"S": key.counter}},
                    UpdateExpression="ADD #count :increment",
                    ExpressionAttributeNames={"#count": "count"},
                    ExpressionAttributeValues={":increment": {"N": str(increment)}},
                )

"""DynamoDB adapter of the ErasureProgressStore port: one item (``name`` = "erasure") in the
retention state table, holding the current or last erasure run's progress as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hashmatch.adapters.aws import translated_errors
from hashmatch.retention.ports import ErasureProgress

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEY = {"name": {"S": "erasure"}}


class DynamoDBErasureProgressStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def load(self) -> ErasureProgress | None:
        with translated_errors("reading erasure progress"):
            answer = self._dynamodb.get_item(TableName=self._table, Key=_KEY, ConsistentRead=True)
        item = answer.get("Item")
        return ErasureProgress.model_validate_json(item["progress"]["S"]) if item else None

    def save(self, progress: ErasureProgress) -> None:
        with translated_errors("saving erasure progress"):
            self._dynamodb.put_item(
                TableName=self._table,
                Item={**_KEY, "progress": {"S": progress.model_dump_json()}},
            )

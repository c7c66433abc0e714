"""Reading a due-date index: what falls due on one day, a page at a time, never a scan.

Every table whose items expire has a GSI keyed by the due day (YYYY-MM-DD) and the item's id;
erase_expired asks each for one day's items after the last id it handled.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from hashmatch.adapters.aws import translated_errors
from hashmatch.retention.ports import DueItem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def due_on(
    dynamodb: DynamoDBClient,
    *,
    table: str,
    index: str,
    day_attribute: str,
    id_attribute: str,
    due_attribute: str,
    day: str,
    after: str | None,
    limit: int,
    what: str,
) -> list[DueItem]:
    query: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "#day = :day",
        "ExpressionAttributeNames": {"#day": day_attribute},
        "ExpressionAttributeValues": {":day": {"S": day}},
        "Limit": limit,
    }
    if after is not None:
        query["ExclusiveStartKey"] = {day_attribute: {"S": day}, id_attribute: {"S": after}}
    with translated_errors(f"reading the {what} due-date index"):
        answer = dynamodb.query(**query)
    return [
        DueItem(item[id_attribute]["S"], _parse_time(item[due_attribute]["S"]))
        for item in answer.get("Items", [])
    ]


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))

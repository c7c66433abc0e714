"""DynamoDB batch reads and writes, done whole: chunked to the API's limits, unprocessed
items retried with backoff, and a retryable domain error when the table keeps throttling."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hashmatch.adapters.aws import translated_errors
from hashmatch.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100
MAX_ROUNDS = 5
_FIRST_BACKOFF_SECONDS = 0.05


def write_all(
    dynamodb: DynamoDBClient,
    table: str,
    requests: Sequence[Mapping[str, Any]],
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Every PutRequest/DeleteRequest in ``requests``, 25 at a time."""
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending: list[Any] = list(requests[start : start + BATCH_WRITE_LIMIT])
        for attempt in range(MAX_ROUNDS):
            with translated_errors(what):
                answer = dynamodb.batch_write_item(RequestItems={table: pending})
            pending = list(answer.get("UnprocessedItems", {}).get(table, []))
            if not pending:
                break
            sleep(_FIRST_BACKOFF_SECONDS * 2**attempt)
        else:
            raise DependencyUnavailable(f"{what}: the table keeps throttling")


def get_all(
    dynamodb: DynamoDBClient,
    table: str,
    keys: Sequence[Mapping[str, Any]],
    *,
    what: str,
    projection: str | None = None,
    names: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """The items of ``keys`` that exist (strongly consistent), 100 keys at a time."""
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {
            "Keys": list(keys[start : start + BATCH_GET_LIMIT]),
            "ConsistentRead": True,
        }
        if projection:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        pending: dict[str, Any] = {table: request}
        for attempt in range(MAX_ROUNDS):
            with translated_errors(what):
                answer = dynamodb.batch_get_item(RequestItems=pending)
            items.extend(dict(item) for item in answer.get("Responses", {}).get(table, []))
            pending = dict(answer.get("UnprocessedKeys") or {})
            if not pending:
                break
            sleep(_FIRST_BACKOFF_SECONDS * 2**attempt)
        else:
            raise DependencyUnavailable(f"{what}: the table keeps throttling")
    return items

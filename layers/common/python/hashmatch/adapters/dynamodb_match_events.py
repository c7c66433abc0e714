"""DynamoDB adapter of the MatchEventStore port (table key: ``match_id``).

``expires_at_epoch`` is the DynamoDB TTL attribute: a backstop only; erasure on the due date is
done by the retention function.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from hashmatch.adapters.aws import translated_errors
from hashmatch.errors import DependencyUnavailable
from hashmatch.matches.model import MatchEvent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_BATCH_WRITE_LIMIT = 25
_BATCH_GET_LIMIT = 100
_MAX_UNPROCESSED_ROUNDS = 5
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_item(event: MatchEvent) -> dict[str, Any]:
    data = event.model_dump(mode="json", exclude_none=True)
    data["expires_at_epoch"] = int(event.expires_at.timestamp())
    return {key: _serializer.serialize(value) for key, value in data.items()}


def _from_item(item: dict[str, Any]) -> MatchEvent:
    data = {key: _deserializer.deserialize(value) for key, value in item.items()}
    data.pop("expires_at_epoch", None)
    return MatchEvent.model_validate(data)


class DynamoDBMatchEventStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def put_many(self, events: Sequence[MatchEvent]) -> None:
        for start in range(0, len(events), _BATCH_WRITE_LIMIT):
            requests: list[Any] = [
                {"PutRequest": {"Item": _to_item(event)}}
                for event in events[start : start + _BATCH_WRITE_LIMIT]
            ]
            for _ in range(_MAX_UNPROCESSED_ROUNDS):
                with translated_errors("storing match events"):
                    answer = self._dynamodb.batch_write_item(RequestItems={self._table: requests})
                requests = list(answer.get("UnprocessedItems", {}).get(self._table, []))
                if not requests:
                    break
            else:
                raise DependencyUnavailable("storing match events: table is throttling")

    def get_many(self, match_ids: Sequence[str]) -> dict[str, MatchEvent]:
        found: dict[str, MatchEvent] = {}
        unique = list(dict.fromkeys(match_ids))
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            keys: list[Any] = [
                {"match_id": {"S": match_id}}
                for match_id in unique[start : start + _BATCH_GET_LIMIT]
            ]
            for _ in range(_MAX_UNPROCESSED_ROUNDS):
                with translated_errors("reading match events"):
                    answer = self._dynamodb.batch_get_item(
                        RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
                    )
                for item in answer.get("Responses", {}).get(self._table, []):
                    event = _from_item(item)
                    found[event.match_id] = event
                keys = list(answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", []))
                if not keys:
                    break
            else:
                raise DependencyUnavailable("reading match events: table is throttling")
        return found

    def cite(self, match_ids: Sequence[str], report_id: str) -> None:
        for match_id in dict.fromkeys(match_ids):
            with translated_errors("citing a match event"):
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"match_id": {"S": match_id}},
                    UpdateExpression="SET report_id = :report REMOVE expires_at_epoch",
                    # A report never takes over an event another report already cites.
                    ConditionExpression=(
                        "attribute_exists(match_id) AND "
                        "(attribute_not_exists(report_id) OR report_id = :report)"
                    ),
                    ExpressionAttributeValues={":report": {"S": report_id}},
                )

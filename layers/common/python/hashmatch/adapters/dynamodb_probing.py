"""DynamoDB adapter of the ProbingStore port (ProbingTable).

Items, partition key ``id``:
- ``<client id>#w<window>``: one window's sketch (binary ``sketch``, a few KB), ``version`` for
  the conditional write back, ``throttled_until``, and the due date: ``erase_after``,
  ``due_day`` (GSI ``ByDueDay``, partition due day, sort id) and ``erase_after_epoch`` (TTL,
  a backstop only).
- ``<client id>#hold``: ``strikes`` (detections), forgotten on its due date like a sketch, and
  ``suspended_at`` once the client's matching is suspended (then it has no due date: it stays
  until an operator lifts it).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from hashmatch.adapters.aws import translated_errors
from hashmatch.adapters.dynamodb_batches import get_all
from hashmatch.adapters.dynamodb_due_days import due_on
from hashmatch.errors import Conflict
from hashmatch.indicators.model import parse_timestamp, timestamp
from hashmatch.probing.ports import ClientWindow
from hashmatch.probing.sketch import Sketch
from hashmatch.retention.ports import DueItem
from hashmatch.retention_policy import due_day

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DUE_INDEX = "ByDueDay"


def sketch_id(client_id: str, window: int) -> str:
    return f"{client_id}#w{window}"


def hold_id(client_id: str) -> str:
    return f"{client_id}#hold"


class DynamoDBProbingStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def load(self, client_id: str, window: int) -> ClientWindow:
        keys = [{"id": {"S": sketch_id(client_id, window)}}, {"id": {"S": hold_id(client_id)}}]
        items = {
            item["id"]["S"]: item
            for item in get_all(self._dynamodb, self._table, keys, what="reading probing state")
        }
        state = ClientWindow(client_id, window, Sketch())
        stored = items.get(sketch_id(client_id, window))
        if stored is not None:
            state.sketch = Sketch.from_bytes(bytes(stored["sketch"]["B"]))
            state.version = int(stored["version"]["N"])
            if "throttled_until" in stored:
                state.throttled_until = parse_timestamp(stored["throttled_until"]["S"])
        hold = items.get(hold_id(client_id))
        if hold is not None and "suspended_at" in hold:
            state.suspended_at = parse_timestamp(hold["suspended_at"]["S"])
        return state

    def save(self, state: ClientWindow, *, erase_after: datetime) -> None:
        item: dict[str, Any] = {
            "id": {"S": sketch_id(state.client_id, state.window)},
            "sketch": {"B": state.sketch.to_bytes()},
            "version": {"N": str(state.version + 1)},
            "erase_after": {"S": timestamp(erase_after)},
            "due_day": {"S": due_day(erase_after)},
            "erase_after_epoch": {"N": str(int(erase_after.timestamp()))},
        }
        if state.throttled_until is not None:
            item["throttled_until"] = {"S": timestamp(state.throttled_until)}
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(id)"}
        if state.version:
            condition = {
                "ConditionExpression": "version = :version",
                "ExpressionAttributeValues": {":version": {"N": str(state.version)}},
            }
        with translated_errors("saving the probing sketch"):
            self._dynamodb.put_item(TableName=self._table, Item=item, **condition)
        state.version += 1

    def strike(
        self, client_id: str, *, now: datetime, forget_after: datetime, suspend_at: int
    ) -> int:
        key = {"id": {"S": hold_id(client_id)}}
        with translated_errors("counting a probing detection"):
            answer = self._dynamodb.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=(
                    "ADD strikes :one SET last_strike_at = :now, erase_after = :forget, "
                    "due_day = :day, erase_after_epoch = :epoch"
                ),
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":now": {"S": timestamp(now)},
                    ":forget": {"S": timestamp(forget_after)},
                    ":day": {"S": due_day(forget_after)},
                    ":epoch": {"N": str(int(forget_after.timestamp()))},
                },
                ReturnValues="ALL_NEW",
            )
        strikes = int(answer["Attributes"]["strikes"]["N"])
        if suspend_at and strikes >= suspend_at:
            with translated_errors("suspending a client's matching"):
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression=(
                        "SET suspended_at = if_not_exists(suspended_at, :now) "
                        "REMOVE due_day, erase_after, erase_after_epoch"
                    ),
                    ExpressionAttributeValues={":now": {"S": timestamp(now)}},
                )
        return strikes

    def lift(self, client_id: str) -> bool:
        with translated_errors("lifting a client's suspension"):
            answer = self._dynamodb.delete_item(
                TableName=self._table,
                Key={"id": {"S": hold_id(client_id)}},
                ReturnValues="ALL_OLD",
            )
        return bool(answer.get("Attributes"))

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        return due_on(
            self._dynamodb,
            table=self._table,
            index=DUE_INDEX,
            day_attribute="due_day",
            id_attribute="id",
            due_attribute="erase_after",
            day=day,
            after=after,
            limit=limit,
            what="probing sketches",
        )

    def due_at(self, item_id: str) -> datetime | None:
        with translated_errors("reading a probing sketch's due date"):
            item = self._dynamodb.get_item(
                TableName=self._table,
                Key={"id": {"S": item_id}},
                ConsistentRead=True,
                ProjectionExpression="erase_after",
            ).get("Item")
        if item is None or "erase_after" not in item:
            return None
        return parse_timestamp(item["erase_after"]["S"])

    def delete_due(self, item_id: str, cutoff: datetime) -> bool:
        try:
            with translated_errors("erasing a probing sketch"):
                self._dynamodb.delete_item(
                    TableName=self._table,
                    Key={"id": {"S": item_id}},
                    ConditionExpression="erase_after <= :cutoff",
                    ExpressionAttributeValues={":cutoff": {"S": timestamp(cutoff)}},
                )
        except Conflict:
            return False
        return True

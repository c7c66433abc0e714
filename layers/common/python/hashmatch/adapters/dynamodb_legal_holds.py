"""DynamoDB adapter of the LegalHoldStore port.

Key ``hold_id``. Three sparse-or-small GSIs, so nothing is ever found by a scan:
- ``ByTarget``: ``target`` (``<class>#<id>``) + ``hold_id`` — is this item held? (erasure)
- ``ByEndDay``: ``end_day`` (YYYY-MM-DD of ``until``, or of the release) + ``hold_id`` — which
  holds ended on a day, so erasure re-examines their targets.
- ``Current``: ``listing`` (the constant "current") + ``hold_id`` — GET /v1/legal-holds.
A hold is deleted once erasure has re-examined its target (the audit log keeps its history).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from hashmatch.adapters.aws import translated_errors
from hashmatch.errors import Conflict, NotFound
from hashmatch.retention.holds import HoldTarget, LegalHold
from hashmatch.retention_policy import due_day

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_TARGET_INDEX = "ByTarget"
BY_END_DAY_INDEX = "ByEndDay"
CURRENT_INDEX = "Current"
_LISTING = "current"


def _target_key(target_class: HoldTarget, target_id: str) -> str:
    return f"{target_class.value}#{target_id}"


def _to_item(hold: LegalHold) -> dict[str, Any]:
    return {
        "hold_id": {"S": hold.hold_id},
        "hold": {"S": hold.model_dump_json()},
        "target": {"S": _target_key(hold.target_class, hold.target_id)},
        "end_day": {"S": due_day(hold.ends_at)},
        "listing": {"S": _LISTING},
    }


def _from_item(item: Any) -> LegalHold:
    return LegalHold.model_validate_json(item["hold"]["S"])


class DynamoDBLegalHoldStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def put_new(self, hold: LegalHold) -> None:
        with translated_errors("storing a legal hold"):
            self._dynamodb.put_item(
                TableName=self._table,
                Item=_to_item(hold),
                ConditionExpression="attribute_not_exists(hold_id)",
            )

    def get(self, hold_id: str) -> LegalHold | None:
        with translated_errors("reading a legal hold"):
            answer = self._dynamodb.get_item(
                TableName=self._table, Key={"hold_id": {"S": hold_id}}, ConsistentRead=True
            )
        item = answer.get("Item")
        return _from_item(item) if item else None

    def for_target(self, target_class: HoldTarget, target_id: str) -> list[LegalHold]:
        return self._query(BY_TARGET_INDEX, "target", _target_key(target_class, target_id))

    def list_current(self) -> list[LegalHold]:
        return self._query(CURRENT_INDEX, "listing", _LISTING)

    def ending_on(self, day: str) -> list[LegalHold]:
        return self._query(BY_END_DAY_INDEX, "end_day", day)

    def release(self, hold_id: str, *, at: datetime, by: str) -> LegalHold:
        hold = self.get(hold_id)
        if hold is None:
            raise NotFound(f"no legal hold {hold_id}")
        released = hold.model_copy(update={"released_at": at, "released_by": by})
        try:
            with translated_errors("releasing a legal hold"):
                self._dynamodb.put_item(
                    TableName=self._table,
                    Item=_to_item(released),
                    ConditionExpression="#hold = :current",
                    ExpressionAttributeNames={"#hold": "hold"},
                    ExpressionAttributeValues={":current": {"S": hold.model_dump_json()}},
                )
        except Conflict:
            raise Conflict(f"legal hold {hold_id} changed meanwhile (released already?)") from None
        return released

    def forget(self, hold_id: str) -> None:
        with translated_errors("dropping an ended legal hold"):
            self._dynamodb.delete_item(TableName=self._table, Key={"hold_id": {"S": hold_id}})

    def _query(self, index: str, attribute: str, value: str) -> list[LegalHold]:
        holds: list[LegalHold] = []
        paginator = self._dynamodb.get_paginator("query")
        with translated_errors("reading legal holds"):
            for page in paginator.paginate(
                TableName=self._table,
                IndexName=index,
                KeyConditionExpression="#key = :value",
                ExpressionAttributeNames={"#key": attribute},
                ExpressionAttributeValues={":value": {"S": value}},
            ):
                holds.extend(_from_item(item) for item in page.get("Items", []))
        return holds

"""DynamoDB adapter of the IndicatorStore port.

Table layout: partition key ``id`` (derived from type, value and database, so lookup by exact
value is a GetItem and duplicates meet on one conditional write). GSI ``Changes`` is the change
feed build_index reads: partition ``feed`` (the constant "changes"), sort ``feed_key``
("<changed_at>#<id>"), projecting only what the index needs. ``changed_at`` moves only on changes
the index must see (creation, status), not on provenance appends.

GSI ``ProvenanceDue`` is the retention due-date index: partition ``provenance_due_day``
(YYYY-MM-DD), sort ``id``; sparse — written at revocation, removed when the provenance is erased.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from hashmatch.adapters.aws import translated_errors
from hashmatch.adapters.dynamodb_batches import get_all
from hashmatch.adapters.dynamodb_due_days import due_on
from hashmatch.errors import Conflict, NotFound
from hashmatch.indicators.model import Indicator, IndicatorStatus, Provenance, timestamp
from hashmatch.indicators.ports import IndicatorChange
from hashmatch.retention.ports import DueItem
from hashmatch.retention_policy import due_day

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CHANGES_INDEX = "Changes"
PROVENANCE_DUE_INDEX = "ProvenanceDue"
FEED_PARTITION = "changes"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def feed_key(changed_at: datetime, indicator_id: str) -> str:
    return f"{timestamp(changed_at)}#{indicator_id}"


def _to_item(indicator: Indicator) -> dict[str, Any]:
    data: dict[str, Any] = indicator.model_dump(mode="json", exclude_none=True)
    data["provenance"] = [p.model_dump(mode="json") for p in indicator.provenance]
    data["provenance_keys"] = set(indicator.provenance_keys)
    data["feed"] = FEED_PARTITION
    data["feed_key"] = feed_key(indicator.changed_at, indicator.id)
    if indicator.provenance_erase_after is not None and indicator.provenance_erased_at is None:
        data["provenance_due_day"] = due_day(indicator.provenance_erase_after)
    if indicator.provenance_erase_after is not None:
        data["provenance_erase_after"] = timestamp(indicator.provenance_erase_after)
    return {key: _serializer.serialize(value) for key, value in data.items()}


def _from_item(item: Mapping[str, Any]) -> Indicator:
    data = {key: _deserializer.deserialize(value) for key, value in item.items()}
    for internal in ("provenance_keys", "feed", "feed_key", "provenance_due_day"):
        data.pop(internal, None)
    return Indicator.model_validate(data)


class DynamoDBIndicatorStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def create(self, indicator: Indicator) -> None:
        with translated_errors("storing the indicator"):
            self._dynamodb.put_item(
                TableName=self._table,
                Item=_to_item(indicator),
                ConditionExpression="attribute_not_exists(id)",
            )

    def get(self, indicator_id: str) -> Indicator | None:
        with translated_errors("reading the indicator"):
            answer = self._dynamodb.get_item(
                TableName=self._table, Key={"id": {"S": indicator_id}}, ConsistentRead=True
            )
        item = answer.get("Item")
        return _from_item(item) if item else None

    def get_many(self, indicator_ids: Iterable[str]) -> Mapping[str, Indicator]:
        found: dict[str, Indicator] = {}
        for item in self._batch_get(indicator_ids, projection=None):
            indicator = _from_item(item)
            found[indicator.id] = indicator
        return found

    def active_ids(self, indicator_ids: Iterable[str]) -> set[str]:
        items = self._batch_get(indicator_ids, projection="id, #status")
        return {
            item["id"]["S"]
            for item in items
            if item.get("status", {}).get("S") == IndicatorStatus.ACTIVE.value
        }

    def append_provenance(self, indicator_id: str, provenance: Provenance, now: datetime) -> bool:
        try:
            with translated_errors("appending provenance"):
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"id": {"S": indicator_id}},
                    UpdateExpression=(
                        "SET provenance = list_append(provenance, :entry), updated_at = :now "
                        "ADD provenance_keys :keys"
                    ),
                    # Two curators adding the same assessment at once append it once.
                    ConditionExpression=(
                        "attribute_exists(id) AND NOT contains(provenance_keys, :key)"
                    ),
                    ExpressionAttributeValues={
                        ":entry": _serializer.serialize([provenance.model_dump(mode="json")]),
                        ":now": {"S": timestamp(now)},
                        ":keys": {"SS": [provenance.key]},
                        ":key": {"S": provenance.key},
                    },
                )
        except Conflict:
            if self.get(indicator_id) is None:
                raise NotFound(f"no indicator {indicator_id!r}") from None
            return False
        return True

    def change_status(
        self,
        indicator_id: str,
        *,
        expected: IndicatorStatus,
        status: IndicatorStatus,
        reason: str | None,
        by: str,
        now: datetime,
        provenance_erase_after: datetime | None = None,
    ) -> Indicator:
        values: dict[str, Any] = {
            ":expected": {"S": expected.value},
            ":status": {"S": status.value},
            ":now": {"S": timestamp(now)},
            ":by": {"S": by},
            ":feed_key": {"S": feed_key(now, indicator_id)},
        }
        update = (
            "SET #status = :status, status_changed_at = :now, status_changed_by = :by, "
            "updated_at = :now, changed_at = :now, feed_key = :feed_key"
        )
        if provenance_erase_after is not None:
            update += ", provenance_erase_after = :erase_after, provenance_due_day = :due_day"
            values[":erase_after"] = {"S": timestamp(provenance_erase_after)}
            values[":due_day"] = {"S": due_day(provenance_erase_after)}
        if reason is None:
            update += " REMOVE status_reason"
        else:
            update = update.replace("SET ", "SET status_reason = :reason, ", 1)
            values[":reason"] = {"S": reason}
        with translated_errors("changing the indicator's status"):
            answer = self._dynamodb.update_item(
                TableName=self._table,
                Key={"id": {"S": indicator_id}},
                UpdateExpression=update,
                ConditionExpression="#status = :expected",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        return _from_item(answer["Attributes"])

    def changes_since(self, after_feed_key: str) -> Iterator[IndicatorChange]:
        values: dict[str, Any] = {":feed": {"S": FEED_PARTITION}}
        condition = "feed = :feed"
        if after_feed_key:
            condition += " AND feed_key > :after"
            values[":after"] = {"S": after_feed_key}
        paginator = self._dynamodb.get_paginator("query")
        with translated_errors("reading the change feed"):
            for page in paginator.paginate(
                TableName=self._table,
                IndexName=CHANGES_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
            ):
                for item in page.get("Items", []):
                    yield IndicatorChange(
                        id=item["id"]["S"],
                        hash_type=item["hash_type"]["S"],
                        hash_value=item["hash_value"]["S"],
                        database=item["database"]["S"],
                        media_type=item["media_type"]["S"],
                        status=IndicatorStatus(item["status"]["S"]),
                        feed_key=item["feed_key"]["S"],
                    )

    # -- retention -----------------------------------------------------------------------------

    def provenance_due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        return due_on(
            self._dynamodb,
            table=self._table,
            index=PROVENANCE_DUE_INDEX,
            day_attribute="provenance_due_day",
            id_attribute="id",
            due_attribute="provenance_erase_after",
            day=day,
            after=after,
            limit=limit,
            what="provenance",
        )

    def erase_provenance(self, indicator_id: str, *, cutoff: datetime, now: datetime) -> bool:
        try:
            with translated_errors("erasing provenance"):
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"id": {"S": indicator_id}},
                    UpdateExpression=(
                        "SET provenance = :none, provenance_erased_at = :now "
                        "REMOVE provenance_keys, provenance_due_day"
                    ),
                    # Fixed-width UTC text: text order is time order.
                    ConditionExpression=(
                        "attribute_exists(provenance_due_day) AND provenance_erase_after <= :cutoff"
                    ),
                    ExpressionAttributeValues={
                        ":none": {"L": []},
                        ":now": {"S": timestamp(now)},
                        ":cutoff": {"S": timestamp(cutoff)},
                    },
                )
        except Conflict:
            return False
        return True

    def _batch_get(self, indicator_ids: Iterable[str], projection: str | None) -> list[Any]:
        keys = [{"id": {"S": indicator_id}} for indicator_id in sorted(set(indicator_ids))]
        return get_all(
            self._dynamodb,
            self._table,
            keys,
            what="reading indicators",
            projection=projection,
            names={"#status": "status"} if projection else None,
        )


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))

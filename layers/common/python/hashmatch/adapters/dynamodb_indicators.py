"""DynamoDB adapter of the IndicatorStore port.

Table layout: partition key ``id`` (derived from type, value and database, so lookup by exact
value is a GetItem and duplicates meet on one conditional write). GSI ``Changes`` is the change
feed build_index reads: partition ``feed`` (the constant "changes"), sort ``feed_key``
("<changed_at>#<id>"), projecting only what the index needs. ``changed_at`` moves only on changes
the index must see (creation, status), not on provenance appends.

GSI ``ProvenanceDue`` is the retention due-date index: partition ``provenance_due_day``
(YYYY-MM-DD), sort ``id``; sparse — written at revocation, removed when the provenance is erased.

GSI ``NeedsReview`` is the curators' re-verification list: partition ``review_flag`` (the
constant "needs_review"), sort ``review_key`` ("<flagged at>#<id>"); sparse — written when a
review decision disputes the indicator, removed when it is revoked or reinstated. The disputing
reports are the string set ``disputed_by`` (adding a report twice counts it once). A flood
quarantine (indicators.quarantine) puts the indicator on the same list, with ``quarantined_at``.

Flood counts live on the indicator's item: ``flood_window`` (the window's number),
``flood_count`` (matches in it) and ``flood_baseline`` (the decayed average per window before
it). They go with the indicator; they say nothing about who matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from hashmatch.adapters.aws import translated_errors
from hashmatch.adapters.dynamodb_batches import get_all
from hashmatch.adapters.dynamodb_cursors import decode_cursor, encode_cursor
from hashmatch.adapters.dynamodb_due_days import due_on
from hashmatch.errors import Conflict, NotFound
from hashmatch.index import NEGATIVE_DATABASE
from hashmatch.indicators.model import (
    Indicator,
    IndicatorPage,
    IndicatorStatus,
    Provenance,
    timestamp,
)
from hashmatch.indicators.ports import IndicatorChange, MatchTally
from hashmatch.indicators.quarantine import rolled_baseline
from hashmatch.retention.ports import DueItem
from hashmatch.retention_policy import due_day

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CHANGES_INDEX = "Changes"
PROVENANCE_DUE_INDEX = "ProvenanceDue"
NEEDS_REVIEW_INDEX = "NeedsReview"
FEED_PARTITION = "changes"
REVIEW_FLAG = "needs_review"
# Kept by dispute() and change_status(), never written from the model.
_FEEDBACK_FIELDS = frozenset({"disputes", "needs_review_since"})
_FLOOD_FIELDS = ("flood_window", "flood_count", "flood_baseline")
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def feed_key(changed_at: datetime, indicator_id: str) -> str:
    return f"{timestamp(changed_at)}#{indicator_id}"


def _to_item(indicator: Indicator) -> dict[str, Any]:
    data: dict[str, Any] = indicator.model_dump(
        mode="json", exclude_none=True, exclude=set(_FEEDBACK_FIELDS)
    )
    data["provenance"] = [p.model_dump(mode="json") for p in indicator.provenance]
    if indicator.provenance_keys:  # a negative indicator has none (DynamoDB: no empty sets)
        data["provenance_keys"] = set(indicator.provenance_keys)
    data["feed"] = FEED_PARTITION
    data["feed_key"] = feed_key(indicator.changed_at, indicator.id)
    data.pop("negative", None)
    if indicator.negative:
        # The feed index projects ``database``: a negative indicator is filed under the
        # snapshot's pseudo database there, and its curator's database is kept beside it.
        data["curated_in"] = data["database"]
        data["database"] = NEGATIVE_DATABASE
    if indicator.provenance_erase_after is not None and indicator.provenance_erased_at is None:
        data["provenance_due_day"] = due_day(indicator.provenance_erase_after)
    if indicator.provenance_erase_after is not None:
        data["provenance_erase_after"] = timestamp(indicator.provenance_erase_after)
    return {key: _serializer.serialize(value) for key, value in data.items()}


def _from_item(item: Mapping[str, Any]) -> Indicator:
    data = {key: _deserializer.deserialize(value) for key, value in item.items()}
    internal = ("provenance_keys", "feed", "feed_key", "provenance_due_day", "review_flag")
    for name in (*internal, "review_key", *_FLOOD_FIELDS):
        data.pop(name, None)
    data["disputes"] = len(data.pop("disputed_by", ()))
    if data.get("database") == NEGATIVE_DATABASE:
        data["database"] = data.pop("curated_in")
        data["negative"] = True
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
        removed = []
        if reason is None:
            removed.append("status_reason")
        else:
            update = update.replace("SET ", "SET status_reason = :reason, ", 1)
            values[":reason"] = {"S": reason}
        if status is not IndicatorStatus.SUSPENDED:
            # Revoked or reinstated: the curator's verdict takes it off the re-verification list.
            removed += ["review_flag", "review_key", "needs_review_since", "quarantined_at"]
        if status is IndicatorStatus.ACTIVE:
            # Reinstated: the curator vouched for the rate that tripped the quarantine, so it
            # becomes the baseline and the window starts afresh.
            update += ", flood_baseline = if_not_exists(flood_count, :zero)"
            values[":zero"] = {"N": "0"}
            removed += ["flood_count", "flood_window"]
        if removed:
            update += " REMOVE " + ", ".join(removed)
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

    def quarantine(
        self, indicator_id: str, *, reason: str, by: str, now: datetime
    ) -> Indicator | None:
        try:
            with translated_errors("quarantining the indicator"):
                answer = self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"id": {"S": indicator_id}},
                    UpdateExpression=(
                        "SET #status = :suspended, status_reason = :reason, "
                        "status_changed_at = :now, status_changed_by = :by, updated_at = :now, "
                        "changed_at = :now, feed_key = :feed_key, quarantined_at = :now, "
                        "review_flag = :flag, review_key = if_not_exists(review_key, :key), "
                        "needs_review_since = if_not_exists(needs_review_since, :now)"
                    ),
                    ConditionExpression="#status = :active",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":suspended": {"S": IndicatorStatus.SUSPENDED.value},
                        ":active": {"S": IndicatorStatus.ACTIVE.value},
                        ":reason": {"S": reason},
                        ":now": {"S": timestamp(now)},
                        ":by": {"S": by},
                        ":feed_key": {"S": feed_key(now, indicator_id)},
                        ":flag": {"S": REVIEW_FLAG},
                        ":key": {"S": f"{timestamp(now)}#{indicator_id}"},
                    },
                    ReturnValues="ALL_NEW",
                )
        except Conflict:
            return None
        return _from_item(answer["Attributes"])

    def count_matches(
        self, counts: Mapping[str, int], *, window: int, decay: float
    ) -> dict[str, MatchTally]:
        tallies = {}
        for indicator_id, added in sorted(counts.items()):
            tally = self._count_one(indicator_id, added, window, decay)
            if tally is not None:
                tallies[indicator_id] = tally
        return tallies

    def _count_one(
        self, indicator_id: str, added: int, window: int, decay: float
    ) -> MatchTally | None:
        key = {"id": {"S": indicator_id}}
        for _ in range(4):  # a concurrent roll of the window makes a conditional write fail
            try:
                with translated_errors("counting an indicator's matches"):
                    answer = self._dynamodb.update_item(
                        TableName=self._table,
                        Key=key,
                        UpdateExpression="ADD flood_count :added",
                        ConditionExpression="flood_window = :window",
                        ExpressionAttributeValues={
                            ":added": {"N": str(added)},
                            ":window": {"N": str(window)},
                        },
                        ReturnValues="ALL_NEW",
                    )
                item = answer["Attributes"]
                return MatchTally(
                    int(item["flood_count"]["N"]),
                    float(item.get("flood_baseline", {}).get("N", "0")),
                )
            except Conflict:
                pass
            with translated_errors("reading an indicator's match counts"):
                current = self._dynamodb.get_item(
                    TableName=self._table,
                    Key=key,
                    ConsistentRead=True,
                    ProjectionExpression="id, flood_window, flood_count, flood_baseline",
                ).get("Item")
            if current is None:
                return None
            old_window = int(current["flood_window"]["N"]) if "flood_window" in current else None
            if old_window is not None and old_window >= window:
                continue  # another writer opened this window (or a later one): add to it
            baseline = float(current.get("flood_baseline", {}).get("N", "0"))
            if old_window is not None:
                last = int(current.get("flood_count", {}).get("N", "0"))
                baseline = rolled_baseline(baseline, last, window - old_window, decay)
            values: dict[str, Any] = {
                ":window": {"N": str(window)},
                ":added": {"N": str(added)},
                ":baseline": {"N": f"{baseline:.4f}"},
            }
            condition = "attribute_exists(id) AND attribute_not_exists(flood_window)"
            if old_window is not None:
                condition = "flood_window = :old"
                values[":old"] = {"N": str(old_window)}
            try:
                with translated_errors("opening an indicator's match window"):
                    self._dynamodb.update_item(
                        TableName=self._table,
                        Key=key,
                        UpdateExpression=(
                            "SET flood_window = :window, flood_count = :added, "
                            "flood_baseline = :baseline"
                        ),
                        ConditionExpression=condition,
                        ExpressionAttributeValues=values,
                    )
            except Conflict:
                continue
            return MatchTally(added, baseline)
        return None  # contended beyond reason: this request's matches go uncounted

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
                        companion=item["companion"]["S"] if "companion" in item else None,
                        variants=tuple(
                            (entry["M"]["hash_value"]["S"], entry["M"]["companion"]["S"])
                            for entry in item.get("variants", {}).get("L", [])
                        ),
                        negative=item["database"]["S"] == NEGATIVE_DATABASE,
                    )

    # -- review feedback -----------------------------------------------------------------------

    def dispute(self, indicator_ids: Iterable[str], *, report_id: str, now: datetime) -> None:
        for indicator_id in sorted(set(indicator_ids)):
            key = {"id": {"S": indicator_id}}
            values: dict[str, Any] = {
                ":report": {"SS": [report_id]},
                ":flag": {"S": REVIEW_FLAG},
                ":key": {"S": f"{timestamp(now)}#{indicator_id}"},
                ":now": {"S": timestamp(now)},
                ":revoked": {"S": IndicatorStatus.REVOKED.value},
            }
            try:
                with translated_errors("flagging an indicator for re-verification"):
                    self._dynamodb.update_item(
                        TableName=self._table,
                        Key=key,
                        UpdateExpression=(
                            "ADD disputed_by :report SET review_flag = :flag, "
                            "review_key = if_not_exists(review_key, :key), "
                            "needs_review_since = if_not_exists(needs_review_since, :now)"
                        ),
                        # A revoked indicator is counted, but there is nothing left to verify.
                        ConditionExpression="attribute_exists(id) AND #status <> :revoked",
                        ExpressionAttributeNames={"#status": "status"},
                        ExpressionAttributeValues=values,
                    )
            except Conflict:
                self._count_dispute_only(key, report_id)

    def _count_dispute_only(self, key: dict[str, Any], report_id: str) -> None:
        try:
            with translated_errors("counting a dispute"):
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="ADD disputed_by :report",
                    ConditionExpression="attribute_exists(id)",
                    ExpressionAttributeValues={":report": {"SS": [report_id]}},
                )
        except Conflict:
            pass  # no such indicator (any more): nothing to count against

    def withdraw_dispute(self, indicator_ids: Iterable[str], *, report_id: str) -> None:
        for indicator_id in sorted(set(indicator_ids)):
            with translated_errors("withdrawing a dispute"):
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"id": {"S": indicator_id}},
                    UpdateExpression="DELETE disputed_by :report",
                    ExpressionAttributeValues={":report": {"SS": [report_id]}},
                )

    def needs_review(self, *, limit: int, cursor: str | None) -> IndicatorPage:
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": NEEDS_REVIEW_INDEX,
            "KeyConditionExpression": "review_flag = :flag",
            "ExpressionAttributeValues": {":flag": {"S": REVIEW_FLAG}},
            "Limit": limit,
        }
        if cursor is not None:
            query["ExclusiveStartKey"] = decode_cursor(
                cursor, {"review_flag": REVIEW_FLAG}, ("id", "review_key")
            )
        with translated_errors("listing indicators to re-verify"):
            answer = self._dynamodb.query(**query)
        last_key = answer.get("LastEvaluatedKey")
        return IndicatorPage(
            indicators=tuple(_from_item(item) for item in answer.get("Items", [])),
            cursor=encode_cursor(dict(last_key)) if last_key else None,
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

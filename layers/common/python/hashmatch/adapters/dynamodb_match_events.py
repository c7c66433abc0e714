"""DynamoDB adapter of the MatchEventStore port (table key: ``match_id``).

``expires_at_epoch`` is the DynamoDB TTL attribute: a backstop only; erasure on the due date is
done by the retention function, which finds uncited events through the sparse GSI ``ByDueDay``
(partition ``due_day`` YYYY-MM-DD, sort ``match_id``). Citing an event removes both attributes:
it then lives as long as the report that cites it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from hashmatch.adapters.aws import error_code, translated_errors
from hashmatch.adapters.dynamodb_batches import get_all, write_all
from hashmatch.adapters.dynamodb_due_days import due_on
from hashmatch.errors import Conflict
from hashmatch.matching.events import MatchEvent
from hashmatch.retention.ports import DueItem
from hashmatch.retention_policy import due_day

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DUE_INDEX = "ByDueDay"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_item(event: MatchEvent, ttl_grace: timedelta) -> dict[str, Any]:
    data = event.model_dump(mode="json", exclude_none=True)
    if event.report_id is None:
        # The TTL backstop fires only after the longest legal hold could end, so it never
        # removes a held event; erase_expired deletes on the due date.
        data["expires_at_epoch"] = int((event.expires_at + ttl_grace).timestamp())
        data["due_day"] = due_day(event.expires_at)
    return {key: _attribute(value) for key, value in data.items()}


def _attribute(value: Any) -> dict[str, Any]:
    """A DynamoDB attribute value: text and whole numbers directly (boto3's TypeSerializer
    took 23 us per event, a tenth of a 1,000-hash batch's time), anything else through it."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"N": str(value)}
    return dict(_serializer.serialize(value))


def _refused_claims(match_ids: Sequence[str], error: ClientError) -> list[dict[str, Any]]:
    """One problem item per id the transaction refused, from its cancellation reasons."""
    reasons: list[Any] = list(error.response.get("CancellationReasons") or [])
    refused: list[dict[str, Any]] = []
    for position, (match_id, reason) in enumerate(zip(match_ids, reasons, strict=False)):
        code = reason.get("Code")
        if code in (None, "None"):
            continue
        old: dict[str, Any] = dict(reason.get("Item") or {})
        if code == "ConditionalCheckFailed" and "report_id" in old:
            message = f"{match_id}: already cited by {old['report_id'].get('S')}"
        elif code == "ConditionalCheckFailed":
            message = f"{match_id}: unknown or not yours"
        else:  # TransactionConflict: another filing is citing it at this moment
            message = f"{match_id}: another filing is citing it now"
        refused.append({"loc": ["body", "match_ids", position], "msg": message})
    return refused or [{"loc": ["body", "match_ids"], "msg": "cited by another report"}]


def _from_item(item: dict[str, Any]) -> MatchEvent:
    data = {key: _deserializer.deserialize(value) for key, value in item.items()}
    data.pop("expires_at_epoch", None)
    data.pop("due_day", None)
    return MatchEvent.model_validate(data)


class DynamoDBMatchEventStore:
    def __init__(
        self, dynamodb: DynamoDBClient, table_name: str, *, ttl_grace: timedelta = timedelta(0)
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._ttl_grace = ttl_grace

    def put_many(self, events: Sequence[MatchEvent]) -> None:
        requests = [{"PutRequest": {"Item": _to_item(event, self._ttl_grace)}} for event in events]
        write_all(self._dynamodb, self._table, requests, what="storing match events")

    def get_many(self, match_ids: Sequence[str]) -> dict[str, MatchEvent]:
        keys = [{"match_id": {"S": match_id}} for match_id in dict.fromkeys(match_ids)]
        items = get_all(self._dynamodb, self._table, keys, what="reading match events")
        events = (_from_item(item) for item in items)
        return {event.match_id: event for event in events}

    def claim(self, match_ids: Sequence[str], report_id: str) -> None:
        ids = list(dict.fromkeys(match_ids))
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"match_id": {"S": match_id}},
                            # The expiry stays until intake cites it: a claim whose report never
                            # arrives still ends with the event (DynamoDB TTL, the backstop).
                            "UpdateExpression": "SET report_id = :report",
                            "ConditionExpression": (
                                "attribute_exists(match_id) AND "
                                "(attribute_not_exists(report_id) OR report_id = :report)"
                            ),
                            "ExpressionAttributeValues": {":report": {"S": report_id}},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    }
                    for match_id in ids
                ]
            )
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                with translated_errors("claiming match events"):  # throttling: retryable
                    raise
            raise Conflict(
                "the match events cannot be cited by this report",
                errors=_refused_claims(ids, error),
            ) from error

    def release(self, match_ids: Sequence[str], report_id: str) -> None:
        for match_id in dict.fromkeys(match_ids):
            try:
                with translated_errors("releasing a match event"):
                    self._dynamodb.update_item(
                        TableName=self._table,
                        Key={"match_id": {"S": match_id}},
                        UpdateExpression="REMOVE report_id",
                        ConditionExpression="report_id = :report",
                        ExpressionAttributeValues={":report": {"S": report_id}},
                    )
            except Conflict:
                continue  # not this report's claim (never made, or another report's)

    def cite(self, match_ids: Sequence[str], report_id: str) -> None:
        for match_id in dict.fromkeys(match_ids):
            with translated_errors("citing a match event"):
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"match_id": {"S": match_id}},
                    UpdateExpression="SET report_id = :report REMOVE expires_at_epoch, due_day",
                    # A report never takes over an event another report already cites.
                    ConditionExpression=(
                        "attribute_exists(match_id) AND "
                        "(attribute_not_exists(report_id) OR report_id = :report)"
                    ),
                    ExpressionAttributeValues={":report": {"S": report_id}},
                )

    # -- retention -----------------------------------------------------------------------------

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        return due_on(
            self._dynamodb,
            table=self._table,
            index=DUE_INDEX,
            day_attribute="due_day",
            id_attribute="match_id",
            due_attribute="expires_at",
            day=day,
            after=after,
            limit=limit,
            what="match events",
        )

    def expiry_of(self, match_id: str) -> datetime | None:
        event = self.get_many([match_id]).get(match_id)
        return event.expires_at if event is not None and event.report_id is None else None

    def delete_uncited(self, match_id: str, cutoff: datetime) -> bool:
        try:
            with translated_errors("erasing a match event"):
                self._dynamodb.delete_item(
                    TableName=self._table,
                    Key={"match_id": {"S": match_id}},
                    # Cited meanwhile (the report now owns it) or not yet due: keep it.
                    # (The caller checked the due date; an event's expiry never changes.)
                    ConditionExpression=(
                        "attribute_not_exists(report_id) AND attribute_exists(due_day)"
                    ),
                )
        except Conflict:
            return False
        return True

    def delete_cited(self, match_ids: Sequence[str], report_id: str) -> int:
        deleted = 0
        for match_id in dict.fromkeys(match_ids):
            try:
                with translated_errors("erasing a report's match event"):
                    self._dynamodb.delete_item(
                        TableName=self._table,
                        Key={"match_id": {"S": match_id}},
                        # An event another report cites first belongs to that report.
                        ConditionExpression="report_id = :report",
                        ExpressionAttributeValues={":report": {"S": report_id}},
                    )
            except Conflict:
                continue
            deleted += 1
        return deleted

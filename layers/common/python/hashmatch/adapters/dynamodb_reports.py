"""DynamoDB adapter of the ReportStore port.

Table key ``report_id``. Three indexes, all projecting the whole (small) item:
- ``ByProvider``: ``provider`` + ``filed_key`` — a provider's reports, newest first.
- ``ByProviderStatus``: ``provider_status`` (``<provider>#<status>``) + ``filed_key`` — the same,
  one status only, so a status filter never pages through other statuses.
- ``ReviewQueue``: ``status`` + ``review_key`` (``0#<filed_key>`` urgent, ``1#<filed_key>``
  otherwise) — the reviewers' queue in query order: urgent first, then oldest first.
``filed_key`` is ``<filed_at, UTC, fixed width>#<report_id>``: sortable, and unique.
``expires_at_epoch`` (TTL) is written only once a decision makes the report erasable; it is a
backstop, erasure on the due date is the retention function's job. It finds due reports through
the sparse GSI ``ByDueDay`` (partition ``due_day`` YYYY-MM-DD of ``erase_after``, sort
``report_id``), written with the decision.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import AwareDatetime, BaseModel, ConfigDict

from hashmatch.adapters.aws import translated_errors
from hashmatch.adapters.dynamodb_due_days import due_on
from hashmatch.errors import Conflict, NotFound
from hashmatch.reports.model import (
    Filing,
    Report,
    ReportDetails,
    ReportPage,
    ReportStatus,
    StatusChange,
)
from hashmatch.retention.ports import DueItem
from hashmatch.retention_policy import due_day

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_PROVIDER_INDEX = "ByProvider"
BY_PROVIDER_STATUS_INDEX = "ByProviderStatus"
REVIEW_QUEUE_INDEX = "ReviewQueue"
DUE_INDEX = "ByDueDay"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class ReportItem(BaseModel):
    """The DynamoDB item of a report: the filing's facts with the details nested as one map
    (the domain's :class:`ReportDetails`), plus index keys derived from them."""

    model_config = ConfigDict(frozen=True)

    report_id: str
    provider: str
    client_id: str
    filed_at: AwareDatetime
    status: ReportStatus
    history: tuple[StatusChange, ...]
    details: ReportDetails
    erase_after: AwareDatetime | None = None
    # Index keys: derived, written for DynamoDB, ignored when read back.
    filed_key: str
    provider_status: str
    review_key: str
    expires_at_epoch: int | None = None
    due_day: str | None = None

    @classmethod
    def of(cls, report: Report, ttl_grace: timedelta = timedelta(0)) -> ReportItem:
        filing = report.filing
        filed_key = f"{_sortable(filing.filed_at)}#{filing.report_id}"
        return cls(
            report_id=filing.report_id,
            provider=filing.provider,
            client_id=filing.client_id,
            filed_at=filing.filed_at,
            status=report.status,
            history=report.history,
            details=filing.details,
            erase_after=report.erase_after,
            filed_key=filed_key,
            provider_status=f"{filing.provider}#{report.status.value}",
            review_key=f"{0 if filing.details.urgent else 1}#{filed_key}",
            # The TTL backstop waits out the longest legal hold (it must never remove a held one).
            expires_at_epoch=int((report.erase_after + ttl_grace).timestamp())
            if report.erase_after
            else None,
            due_day=due_day(report.erase_after) if report.erase_after else None,
        )

    def to_report(self) -> Report:
        return Report(
            filing=Filing(
                report_id=self.report_id,
                provider=self.provider,
                client_id=self.client_id,
                filed_at=self.filed_at,
                details=self.details,
            ),
            history=self.history,
            erase_after=self.erase_after,
        )

    def to_dynamodb(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True)
        return {key: _serializer.serialize(value) for key, value in data.items()}

    @classmethod
    def from_dynamodb(cls, item: dict[str, Any]) -> ReportItem:
        return cls.model_validate({k: _deserializer.deserialize(v) for k, v in item.items()})


class DynamoDBReportStore:
    def __init__(
        self, dynamodb: DynamoDBClient, table_name: str, *, ttl_grace: timedelta = timedelta(0)
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._ttl_grace = ttl_grace

    def put_new(self, report: Report) -> bool:
        try:
            with translated_errors("storing a report"):
                self._dynamodb.put_item(
                    TableName=self._table,
                    Item=ReportItem.of(report, self._ttl_grace).to_dynamodb(),
                    ConditionExpression="attribute_not_exists(report_id)",
                )
        except Conflict:
            return False
        return True

    def get(self, report_id: str) -> Report | None:
        with translated_errors("reading a report"):
            answer = self._dynamodb.get_item(
                TableName=self._table, Key={"report_id": {"S": report_id}}, ConsistentRead=True
            )
        item = answer.get("Item")
        return ReportItem.from_dynamodb(dict(item)).to_report() if item else None

    def record_decision(self, report: Report, *, expected: ReportStatus) -> None:
        with translated_errors("recording a decision"):
            self._dynamodb.put_item(
                TableName=self._table,
                Item=ReportItem.of(report, self._ttl_grace).to_dynamodb(),
                ConditionExpression="#status = :expected",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":expected": {"S": expected.value}},
            )

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        return due_on(
            self._dynamodb,
            table=self._table,
            index=DUE_INDEX,
            day_attribute="due_day",
            id_attribute="report_id",
            due_attribute="erase_after",
            day=day,
            after=after,
            limit=limit,
            what="reports",
        )

    def delete(self, report_id: str) -> None:
        with translated_errors("erasing a report"):
            self._dynamodb.delete_item(TableName=self._table, Key={"report_id": {"S": report_id}})

    def list_for_provider(
        self,
        provider: str,
        *,
        status: ReportStatus | None,
        limit: int,
        cursor: str | None,
    ) -> ReportPage:
        if status is None:
            index, partition_name, partition = BY_PROVIDER_INDEX, "provider", provider
        else:
            index, partition_name = BY_PROVIDER_STATUS_INDEX, "provider_status"
            partition = f"{provider}#{status.value}"
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#partition = :partition",
            "ExpressionAttributeNames": {"#partition": partition_name},
            "ExpressionAttributeValues": {":partition": {"S": partition}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor is not None:
            query["ExclusiveStartKey"] = _decode_cursor(cursor, partition_name, partition)
        with translated_errors("listing reports"):
            answer = self._dynamodb.query(**query)
        reports = tuple(
            ReportItem.from_dynamodb(dict(item)).to_report() for item in answer.get("Items", [])
        )
        last_key = answer.get("LastEvaluatedKey")
        return ReportPage(
            reports=reports, cursor=_encode_cursor(dict(last_key)) if last_key else None
        )


def _sortable(moment: datetime) -> str:
    """Fixed-width UTC text, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _encode_cursor(last_key: dict[str, Any]) -> str:
    plain = {name: value["S"] for name, value in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode()


def _decode_cursor(cursor: str, partition_name: str, partition: str) -> dict[str, Any]:
    """A cursor is only valid for the listing that issued it: same index, same provider."""
    # Well-formed but not issued for this listing: the page it names does not exist.
    invalid = NotFound(
        "no such page: the cursor was not issued for this listing",
        errors=[{"loc": ["query", "next"], "msg": "not a cursor of this listing"}],
    )
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise invalid from error
    expected = {"report_id", "filed_key", partition_name}
    if (
        not isinstance(plain, dict)
        or set(plain) != expected
        or not all(isinstance(value, str) for value in plain.values())
        or plain[partition_name] != partition
    ):
        raise invalid
    return {name: {"S": value} for name, value in plain.items()}

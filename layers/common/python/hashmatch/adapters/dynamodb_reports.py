"""DynamoDB adapter of the ReportStore port.

Table key ``report_id``. Indexes:
- ``ByProvider``: ``provider`` + ``filed_key`` — a provider's reports, newest first.
- ``ByProviderStatus``: ``provider_status`` (``<provider>#<status as the provider sees it>``) +
  ``filed_key`` — the same, one status only, so a status filter never pages through others.
- ``ReviewQueue``: ``status`` + ``review_key`` (``0#<filed_key>`` urgent, ``1#<filed_key>``
  otherwise) — the reviewers' queue in query order: urgent first, then oldest first.
- ``ByDueDay``: ``due_day`` (YYYY-MM-DD of ``erase_after``) + ``report_id`` — decided reports
  by the day they are erased (sparse: written with the decision).
- ``ClaimsDue``, ``InformationDue``, ``OutboundDue``: the same for the parts of a report with a
  retention of their own (a lapsed claim, the texts of information requests, the forwarded
  copy), each written when its due date becomes known and removed when the part is erased.
``filed_key`` is ``<filed_at, UTC, fixed width>#<report_id>``: sortable, and unique. Every due
date is fixed-width UTC text (text order is time order), so conditions can compare it.
``expires_at_epoch`` (TTL) is written only once a decision makes the report erasable; it is a
backstop, erasure on the due date is the retention function's job.

Workflow writes are UpdateItems on condition that the report is still in the status the step
leaves (and, for reviewers' steps, that nobody else holds a live claim): two reviewers deciding
one report at once get one success and one ConditionalCheckFailed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import AwareDatetime, BaseModel, ConfigDict

from hashmatch.adapters.aws import translated_errors
from hashmatch.adapters.dynamodb_cursors import decode_cursor, encode_cursor
from hashmatch.adapters.dynamodb_due_days import due_on
from hashmatch.audit.model import fixed_time
from hashmatch.errors import Conflict
from hashmatch.reports.model import (
    Filing,
    Report,
    ReportDetails,
    ReportPage,
    ReportStatus,
    StatusChange,
    provider_status,
)
from hashmatch.reports.ports import QueueQuery, ReportPart
from hashmatch.reports.review_records import (
    Claim,
    Delivery,
    InformationRequest,
    Outbound,
    ReviewDecision,
)
from hashmatch.retention.ports import DueItem
from hashmatch.retention_policy import due_day

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_PROVIDER_INDEX = "ByProvider"
BY_PROVIDER_STATUS_INDEX = "ByProviderStatus"
REVIEW_QUEUE_INDEX = "ReviewQueue"
DUE_INDEX = "ByDueDay"
# Each part's due-date index and the attributes it is keyed and dated by.
PART_INDEXES: Mapping[ReportPart, tuple[str, str, str]] = {
    ReportPart.CLAIM: ("ClaimsDue", "claim_due_day", "claim_erase_after"),
    ReportPart.INFORMATION_REQUESTS: (
        "InformationDue",
        "information_due_day",
        "information_erase_after",
    ),
    ReportPart.OUTBOUND_MESSAGE: ("OutboundDue", "outbound_due_day", "outbound_erase_after"),
}
# A filtered queue page reads at most this many DynamoDB pages to fill itself.
_MAX_QUEUE_READS = 10
_CLAIM_ATTRIBUTES = ("claim_holder", "claim_since", "claim_until", "claim_erase_after")
# What a workflow step may change; the filing (and its keys) never change.
_MUTABLE = (
    "status",
    "provider_status",
    "history",
    "decision",
    *_CLAIM_ATTRIBUTES,
    "claim_due_day",
    "information_requests",
    "information_erase_after",
    "information_due_day",
    "outbound",
    "outbound_erase_after",
    "outbound_due_day",
    "erase_after",
    "due_day",
    "expires_at_epoch",
)
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class ReportItem(BaseModel):
    """The DynamoDB item of a report: the filing's facts with the details nested as one map
    (the domain's :class:`ReportDetails`), what its review left on it, and index keys."""

    model_config = ConfigDict(frozen=True)

    report_id: str
    provider: str
    client_id: str
    filed_at: AwareDatetime
    status: ReportStatus
    history: tuple[StatusChange, ...]
    details: ReportDetails
    databases: tuple[str, ...] = ()
    decision: ReviewDecision | None = None
    information_requests: tuple[InformationRequest, ...] = ()
    outbound: Outbound | None = None
    # Fixed-width UTC text (conditions compare them); parsed back into the domain's datetimes.
    erase_after: str | None = None
    claim_holder: str | None = None
    claim_since: str | None = None
    claim_until: str | None = None
    claim_erase_after: str | None = None
    information_erase_after: str | None = None
    outbound_erase_after: str | None = None
    # Index keys: derived, written for DynamoDB, ignored when read back.
    filed_key: str
    provider_status: str
    review_key: str
    expires_at_epoch: int | None = None
    due_day: str | None = None
    claim_due_day: str | None = None
    information_due_day: str | None = None
    outbound_due_day: str | None = None

    @classmethod
    def of(cls, report: Report, ttl_grace: timedelta = timedelta(0)) -> ReportItem:
        filing = report.filing
        filed_key = f"{fixed_time(filing.filed_at)}#{filing.report_id}"
        claim, outbound = report.claim, report.outbound
        information_due = report.information_erase_after
        if not any(r.question or r.answer for r in report.information_requests):
            information_due = None  # nothing left to erase
        outbound_due = outbound.erase_after if outbound and outbound.message is not None else None
        return cls(
            report_id=filing.report_id,
            provider=filing.provider,
            client_id=filing.client_id,
            filed_at=filing.filed_at,
            status=report.status,
            history=report.history,
            details=filing.details,
            databases=report.databases,
            decision=report.decision,
            information_requests=report.information_requests,
            outbound=outbound,
            erase_after=_fixed(report.erase_after),
            claim_holder=claim.holder if claim else None,
            claim_since=_fixed(claim.since) if claim else None,
            claim_until=_fixed(claim.until) if claim else None,
            claim_erase_after=_fixed(claim.erase_after) if claim else None,
            claim_due_day=due_day(claim.erase_after) if claim else None,
            information_erase_after=_fixed(report.information_erase_after),
            information_due_day=due_day(information_due) if information_due else None,
            outbound_erase_after=_fixed(outbound.erase_after) if outbound else None,
            outbound_due_day=due_day(outbound_due) if outbound_due else None,
            filed_key=filed_key,
            provider_status=f"{filing.provider}#{provider_status(report.status).value}",
            review_key=f"{0 if filing.details.urgent else 1}#{filed_key}",
            # The TTL backstop waits out the longest legal hold (it must never remove a held one).
            expires_at_epoch=int((report.erase_after + ttl_grace).timestamp())
            if report.erase_after
            else None,
            due_day=due_day(report.erase_after) if report.erase_after else None,
        )

    def to_report(self) -> Report:
        claim = None
        if self.claim_holder and self.claim_since and self.claim_until and self.claim_erase_after:
            claim = Claim(
                holder=self.claim_holder,
                since=_time(self.claim_since),
                until=_time(self.claim_until),
                erase_after=_time(self.claim_erase_after),
            )
        return Report(
            filing=Filing(
                report_id=self.report_id,
                provider=self.provider,
                client_id=self.client_id,
                filed_at=self.filed_at,
                details=self.details,
            ),
            history=self.history,
            erase_after=_parsed(self.erase_after),
            databases=self.databases,
            claim=claim,
            decision=self.decision,
            information_requests=self.information_requests,
            information_erase_after=_parsed(self.information_erase_after),
            outbound=self.outbound,
        )

    def to_dynamodb(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True)
        return {key: _serializer.serialize(value) for key, value in data.items()}

    @classmethod
    def from_dynamodb(cls, item: Mapping[str, Any]) -> ReportItem:
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
                    Item=self._item(report).to_dynamodb(),
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
        return ReportItem.from_dynamodb(item).to_report() if item else None

    # -- the workflow --------------------------------------------------------------------------

    def transition(
        self, report: Report, *, expected: ReportStatus, claimant: str | None, now: datetime
    ) -> None:
        item = self._item(report).to_dynamodb()
        names = {f"#{name}": name for name in _MUTABLE}
        values: dict[str, Any] = {":expected": {"S": expected.value}}
        sets, removes = [], []
        for name in _MUTABLE:
            if name in item:
                sets.append(f"#{name} = :{name}")
                values[f":{name}"] = item[name]
            else:
                removes.append(f"#{name}")
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = "#status = :expected"
        if claimant is not None:
            condition += f" AND ({_NOT_CLAIMED_BY_OTHERS})"
            values.update({":claimant": {"S": claimant}, ":now": {"S": fixed_time(now)}})
        with translated_errors("recording a review step"):
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"report_id": {"S": report.report_id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def claim(self, report_id: str, claim: Claim, *, claimable: frozenset[ReportStatus]) -> None:
        statuses = {f":s{i}": {"S": s.value} for i, s in enumerate(sorted(claimable))}
        values: dict[str, Any] = {
            ":claimant": {"S": claim.holder},
            ":now": {"S": fixed_time(claim.since)},
            ":since": {"S": fixed_time(claim.since)},
            ":until": {"S": fixed_time(claim.until)},
            ":erase_after": {"S": fixed_time(claim.erase_after)},
            ":due_day": {"S": due_day(claim.erase_after)},
            **statuses,
        }
        with translated_errors("claiming a report"):
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"report_id": {"S": report_id}},
                UpdateExpression=(
                    "SET claim_holder = :claimant, claim_since = :since, claim_until = :until, "
                    "claim_erase_after = :erase_after, claim_due_day = :due_day"
                ),
                ConditionExpression=(
                    f"#status IN ({', '.join(statuses)}) AND ({_NOT_CLAIMED_BY_OTHERS})"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )

    def release(self, report_id: str, holder: str) -> bool:
        try:
            with translated_errors("releasing a claim"):
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"report_id": {"S": report_id}},
                    UpdateExpression="REMOVE " + ", ".join((*_CLAIM_ATTRIBUTES, "claim_due_day")),
                    ConditionExpression="claim_holder = :holder",
                    ExpressionAttributeValues={":holder": {"S": holder}},
                )
        except Conflict:
            return False
        return True

    def record_delivery(
        self, report_id: str, recipient: str, delivery: Delivery, entry: StatusChange
    ) -> None:
        with translated_errors("recording a delivery"):
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"report_id": {"S": report_id}},
                UpdateExpression=(
                    "SET outbound.deliveries.#recipient = :delivery, "
                    "history = list_append(history, :entry)"
                ),
                ConditionExpression="outbound.deliveries.#recipient.delivery_id = :delivery_id",
                ExpressionAttributeNames={"#recipient": recipient},
                ExpressionAttributeValues={
                    ":delivery": _serializer.serialize(
                        delivery.model_dump(mode="json", exclude_none=True)
                    ),
                    ":entry": _serializer.serialize(
                        [entry.model_dump(mode="json", exclude_none=True)]
                    ),
                    ":delivery_id": {"S": delivery.delivery_id},
                },
            )

    def review_queue(self, query: QueueQuery) -> ReportPage:
        filters, names, values = [], {"#status": "status"}, {":status": {"S": query.status.value}}
        if query.database is not None:
            filters.append("contains(databases, :database)")
            values[":database"] = {"S": query.database}
        if query.media_type is not None:
            filters.append("details.content_type = :media_type")
            values[":media_type"] = {"S": query.media_type}
        if query.member_state is not None:
            filters.append("details.suspected_member_state = :member_state")
            values[":member_state"] = {"S": query.member_state}
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": REVIEW_QUEUE_INDEX,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "Limit": query.limit,
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        start = (
            decode_cursor(query.cursor, {"status": query.status.value}, ("report_id", "review_key"))
            if query.cursor
            else None
        )
        found: list[ReportItem] = []
        last_key: Mapping[str, Any] | None = None
        for _ in range(_MAX_QUEUE_READS):
            if start is not None:
                request["ExclusiveStartKey"] = start
            with translated_errors("reading the review queue"):
                answer = self._dynamodb.query(**request)
            found += [ReportItem.from_dynamodb(item) for item in answer.get("Items", [])]
            last_key = answer.get("LastEvaluatedKey")
            if last_key is None or len(found) >= query.limit:
                break
            start = dict(last_key)
        if len(found) > query.limit:
            found = found[: query.limit]
        if len(found) == query.limit and last_key is not None:
            last = found[-1]  # continue right after the last report shown
            last_key = {
                "status": {"S": last.status.value},
                "review_key": {"S": last.review_key},
                "report_id": {"S": last.report_id},
            }
        return ReportPage(
            reports=tuple(item.to_report() for item in found),
            cursor=encode_cursor(last_key) if last_key else None,
        )

    # -- retention -----------------------------------------------------------------------------

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

    def parts_due_on(
        self, part: ReportPart, day: str, *, after: str | None, limit: int
    ) -> list[DueItem]:
        index, day_attribute, due_attribute = PART_INDEXES[part]
        return due_on(
            self._dynamodb,
            table=self._table,
            index=index,
            day_attribute=day_attribute,
            id_attribute="report_id",
            due_attribute=due_attribute,
            day=day,
            after=after,
            limit=limit,
            what=part.value,
        )

    def erase_part(self, report_id: str, part: ReportPart, *, due: datetime, now: datetime) -> bool:
        _, day_attribute, due_attribute = PART_INDEXES[part]
        values: dict[str, Any] = {":due": {"S": fixed_time(due)}}
        if part is ReportPart.CLAIM:
            update = "REMOVE " + ", ".join((*_CLAIM_ATTRIBUTES, day_attribute))
        elif part is ReportPart.OUTBOUND_MESSAGE:
            update = (
                f"SET outbound.message_erased_at = :now REMOVE outbound.message, {day_attribute}"
            )
            values[":now"] = {"S": fixed_time(now)}
        else:
            report = self.get(report_id)
            if report is None:
                return False
            erased = [
                r.model_copy(update={"question": None, "answer": None, "texts_erased_at": now})
                for r in report.information_requests
            ]
            update = f"SET information_requests = :erased REMOVE {day_attribute}"
            values[":erased"] = _serializer.serialize(
                [r.model_dump(mode="json", exclude_none=True) for r in erased]
            )
        try:
            with translated_errors(f"erasing a report's {part.value}"):
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"report_id": {"S": report_id}},
                    UpdateExpression=update,
                    # Still due as it was: a newer claim (or a changed date) is left alone.
                    ConditionExpression=(
                        f"attribute_exists({day_attribute}) AND {due_attribute} = :due"
                    ),
                    ExpressionAttributeValues=values,
                )
        except Conflict:
            return False
        return True

    # -- providers -----------------------------------------------------------------------------

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
            query["ExclusiveStartKey"] = decode_cursor(
                cursor, {partition_name: partition}, ("report_id", "filed_key")
            )
        with translated_errors("listing reports"):
            answer = self._dynamodb.query(**query)
        reports = tuple(
            ReportItem.from_dynamodb(item).to_report() for item in answer.get("Items", [])
        )
        last_key = answer.get("LastEvaluatedKey")
        return ReportPage(
            reports=reports, cursor=encode_cursor(dict(last_key)) if last_key else None
        )

    def _item(self, report: Report) -> ReportItem:
        return ReportItem.of(report, self._ttl_grace)


# Nobody else holds a claim that is still live (fixed-width UTC text compares as time).
_NOT_CLAIMED_BY_OTHERS = (
    "attribute_not_exists(claim_holder) OR claim_holder = :claimant OR claim_until <= :now"
)


def _fixed(moment: datetime | None) -> str | None:
    return fixed_time(moment) if moment is not None else None


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _parsed(text: str | None) -> datetime | None:
    return _time(text) if text else None

"""DynamoDB adapter of the AuditStore port.

Table key: partition ``chain``, sort ``seq`` (number). Entries live in partition ``entries`` with
their sequence number as sort key, so the chain is read in order with one query per page and the
last entry is a one-item query; an append is a put conditional on ``attribute_not_exists(seq)``,
so two writers can never store two entries with one number (the chain cannot fork). The
checkpoint is the single item (``checkpoint``, 0). Each entry also stores its own digest, for
readers; verification recomputes it.

No TTL on this table: erasing entries without a checkpoint would break the chain, so only
erase_expired removes them (ChainedAuditLog.erase_before).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hashmatch.adapters.aws import translated_errors
from hashmatch.adapters.dynamodb_batches import write_all
from hashmatch.audit.model import AuditEntry, Checkpoint, fixed_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ENTRIES = "entries"
CHECKPOINT = "checkpoint"


def _to_item(entry: AuditEntry) -> dict[str, Any]:
    return {
        "chain": {"S": ENTRIES},
        "seq": {"N": str(entry.seq)},
        "at": {"S": fixed_time(entry.at)},
        "actor": {"S": entry.actor},
        "role": {"S": entry.role},
        "action": {"S": entry.action},
        "targets": {"L": [{"S": target} for target in entry.targets]},
        # JSON text: numbers come back as they went in (DynamoDB numbers read back as Decimal).
        "details": {"S": json.dumps(entry.details, sort_keys=True)},
        "prev_digest": {"S": entry.prev_digest},
        "digest": {"S": entry.digest},
    }


def _from_item(item: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        seq=int(item["seq"]["N"]),
        at=datetime.fromisoformat(item["at"]["S"].replace("Z", "+00:00")),
        actor=item["actor"]["S"],
        role=item["role"]["S"],
        action=item["action"]["S"],
        targets=tuple(value["S"] for value in item.get("targets", {}).get("L", [])),
        details=json.loads(item["details"]["S"]),
        prev_digest=item["prev_digest"]["S"],
    )


class DynamoDBAuditStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def last(self) -> AuditEntry | None:
        with translated_errors("reading the audit log's head"):
            answer = self._dynamodb.query(
                TableName=self._table,
                KeyConditionExpression="chain = :chain",
                ExpressionAttributeValues={":chain": {"S": ENTRIES}},
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            )
        items = answer.get("Items", [])
        return _from_item(dict(items[0])) if items else None

    def put_next(self, entry: AuditEntry) -> None:
        # Conflict (ConditionalCheckFailed) means another writer took this number.
        with translated_errors("appending to the audit log"):
            self._dynamodb.put_item(
                TableName=self._table,
                Item=_to_item(entry),
                ConditionExpression="attribute_not_exists(seq)",
            )

    def read(self, from_seq: int, limit: int) -> list[AuditEntry]:
        entries: list[AuditEntry] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "chain = :chain AND seq >= :from",
            "ExpressionAttributeValues": {
                ":chain": {"S": ENTRIES},
                ":from": {"N": str(from_seq)},
            },
            "ConsistentRead": True,
        }
        while len(entries) < limit:
            query["Limit"] = limit - len(entries)
            with translated_errors("reading the audit log"):
                answer = self._dynamodb.query(**query)
            entries.extend(_from_item(dict(item)) for item in answer.get("Items", []))
            last_key = answer.get("LastEvaluatedKey")
            if not last_key:
                break
            query["ExclusiveStartKey"] = last_key
        return entries

    def delete(self, seqs: Sequence[int]) -> None:
        requests = [
            {"DeleteRequest": {"Key": {"chain": {"S": ENTRIES}, "seq": {"N": str(seq)}}}}
            for seq in seqs
        ]
        write_all(self._dynamodb, self._table, requests, what="erasing audit entries")

    def checkpoint(self) -> Checkpoint | None:
        with translated_errors("reading the audit checkpoint"):
            answer = self._dynamodb.get_item(
                TableName=self._table,
                Key={"chain": {"S": CHECKPOINT}, "seq": {"N": "0"}},
                ConsistentRead=True,
            )
        item = answer.get("Item")
        return Checkpoint.model_validate_json(item["checkpoint"]["S"]) if item else None

    def put_checkpoint(self, checkpoint: Checkpoint) -> None:
        with translated_errors("writing the audit checkpoint"):
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "chain": {"S": CHECKPOINT},
                    "seq": {"N": "0"},
                    "checkpoint": {"S": checkpoint.model_dump_json()},
                },
            )

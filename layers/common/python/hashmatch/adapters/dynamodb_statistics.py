"""DynamoDB adapter of the statistics ports (StatisticsTable: PK ``day``, SK ``counter``).

Items of the table:

- a counter: ``day`` YYYY-MM-DD, ``counter`` "<dimension>#<value>#...", ``count``; also
  ``dimension`` and ``day_counter`` ("<day>#<counter>") for the GSI ``ByDimension``, so a
  period of any length is one query per dimension;
- an event marker: ``day`` YYYY-MM-DD, ``counter`` "~event#<SHA-256 of the event key>": the
  event was counted (no other attribute; erased with the day's counters);
- a running total: ``day`` "totals", ``counter`` as a counter's (the active indicators);
- a tally: ``day`` "tally#<year>", ``counter`` an indicator id, ``count`` the reports of that
  year citing it;
- a publication record: ``day`` "publications", ``counter`` the year (DynamoDBPublicationRecords).

An event is one transaction: its marker (put only if absent), its counter and total updates
(ADD) and its tally updates (only if the tally still holds what was read). So an event is
counted entirely or not at all, and exactly once: a second recording of its key fails the
marker's condition and adds nothing. Markers are looked up first (one batched read), so
recording events that were counted before costs no transaction.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from botocore.exceptions import BotoCoreError, ClientError

from hashmatch.adapters.aws import error_code, translated_errors
from hashmatch.adapters.dynamodb_batches import get_all, write_all
from hashmatch.errors import DependencyUnavailable
from hashmatch.statistics.model import Count, CountedEvent
from hashmatch.statistics.ports import Publication, TallyMoved

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MARKER_PREFIX = "~event#"
TOTALS_PARTITION = "totals"
TALLY_PREFIX = "tally#"
BY_DIMENSION_INDEX = "ByDimension"
TRANSACTION_LIMIT = 100  # DynamoDB's actions per TransactWriteItems
_MAX_ATTEMPTS = 5


def counter_name(count: Count) -> str:
    """ "queries#Example Hosting SA#pdq#matched#-": values percent-escape "#" and "%"."""
    return "#".join((count.dimension, *(quote(value, safe=" ") for value in count.values)))


def parse_counter_name(text: str) -> Count:
    dimension, *values = text.split("#")
    return Count(dimension, tuple(unquote(value) for value in values))


def marker_name(event_key: str) -> str:
    return MARKER_PREFIX + hashlib.sha256(event_key.encode()).hexdigest()


class DynamoDBCounterStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    # -- recording -------------------------------------------------------------------------

    def record(self, events: Sequence[CountedEvent]) -> int:
        unique = list({event.key: event for event in reversed(events)}.values())[::-1]
        seen = self._counted_before(unique)
        pending = [event for event in unique if event.key not in seen]
        recorded = 0
        for chunk in _chunks(pending):
            recorded += self._write(chunk)
        return recorded

    def _counted_before(self, events: Sequence[CountedEvent]) -> set[str]:
        """The keys among ``events`` whose marker exists on their day or a recognised day."""
        keys: dict[tuple[str, str], str] = {}
        for event in events:
            for back in range(event.recognised_days + 1):
                day = (event.day - timedelta(days=back)).isoformat()
                keys[(day, marker_name(event.key))] = event.key
        if not keys:
            return set()
        found = get_all(
            self._dynamodb,
            self._table,
            [{"day": {"S": day}, "counter": {"S": name}} for day, name in keys],
            what="looking up counted events",
            projection="#day, #counter",
            names={"#day": "day", "#counter": "counter"},
        )
        return {keys[(item["day"]["S"], item["counter"]["S"])] for item in found}

    def _write(self, events: list[CountedEvent]) -> int:
        """One transaction for ``events``; an event counted meanwhile is left out and the rest
        written again."""
        for _ in range(_MAX_ATTEMPTS):
            if not events:
                return 0
            actions, owners = _transaction(self._table, events)
            try:
                self._dynamodb.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    with translated_errors("counting"):
                        raise
                reasons = error.response.get("CancellationReasons") or []
                failed = [
                    owners[i]
                    for i, reason in enumerate(reasons)
                    if reason.get("Code") == "ConditionalCheckFailed"
                ]
                if not failed:  # a conflict with a concurrent transaction: try it again
                    continue
                if any(kind == "tally" for kind, _ in failed):
                    raise TallyMoved("a report-per-indicator tally moved; read it again") from error
                counted = {key for kind, key in failed if kind == "marker"}
                events = [event for event in events if event.key not in counted]
                continue
            except BotoCoreError as error:
                raise DependencyUnavailable(f"counting failed ({type(error).__name__})") from error
            return len(events)
        raise DependencyUnavailable("counting kept conflicting with concurrent counts")

    # -- reading ---------------------------------------------------------------------------

    def tallies(self, year: int, indicator_ids: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(indicator_ids))
        if not wanted:
            return {}
        found = get_all(
            self._dynamodb,
            self._table,
            [{"day": {"S": TALLY_PREFIX + str(year)}, "counter": {"S": i}} for i in wanted],
            what="reading report tallies",
        )
        return {item["counter"]["S"]: int(item["count"]["N"]) for item in found}

    def year_tallies(self, year: int) -> dict[str, int]:
        return {
            item["counter"]["S"]: int(item["count"]["N"])
            for item in self._partition(TALLY_PREFIX + str(year))
        }

    def totals(self, dimension: str) -> Mapping[Count, int]:
        sums: Counter[Count] = Counter()
        for item in self._partition(TOTALS_PARTITION):
            count = parse_counter_name(item["counter"]["S"])
            if count.dimension == dimension:
                sums[count] += int(item["count"]["N"])
        return dict(sums)

    def sums(self, first: date, last: date, dimensions: Iterable[str]) -> Mapping[Count, int]:
        sums: Counter[Count] = Counter()
        paginator = self._dynamodb.get_paginator("query")
        for dimension in sorted(set(dimensions)):
            with translated_errors("reading counters"):
                for page in paginator.paginate(
                    TableName=self._table,
                    IndexName=BY_DIMENSION_INDEX,
                    KeyConditionExpression="#dimension = :dimension AND "
                    "#day_counter BETWEEN :first AND :last",
                    ExpressionAttributeNames={
                        "#dimension": "dimension",
                        "#day_counter": "day_counter",
                    },
                    ExpressionAttributeValues={
                        ":dimension": {"S": dimension},
                        ":first": {"S": first.isoformat()},
                        ":last": {"S": last.isoformat() + "~"},
                    },
                ):
                    for item in page.get("Items", []):
                        sums[parse_counter_name(item["counter"]["S"])] += int(item["count"]["N"])
        return {count: value for count, value in sums.items() if value}

    # -- erasing ---------------------------------------------------------------------------

    def delete_day(self, day: str) -> int:
        """Erase a day's counters and markers: the day is the partition key (a query, not a
        scan)."""
        return self._delete_partition(day, what="erasing counters")

    def delete_year_tallies(self, year: int) -> int:
        return self._delete_partition(TALLY_PREFIX + str(year), what="erasing report tallies")

    def _delete_partition(self, partition: str, *, what: str) -> int:
        keys = [
            {"day": item["day"], "counter": item["counter"]}
            for item in self._partition(partition, keys_only=True)
        ]
        write_all(
            self._dynamodb,
            self._table,
            [{"DeleteRequest": {"Key": key}} for key in keys],
            what=what,
        )
        return len(keys)

    def _partition(self, partition: str, *, keys_only: bool = False) -> Iterator[dict[str, Any]]:
        options: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#day = :day",
            "ExpressionAttributeNames": {"#day": "day"},
            "ExpressionAttributeValues": {":day": {"S": partition}},
            "ConsistentRead": True,
        }
        if keys_only:
            options["ProjectionExpression"] = "#day, #counter"
            options["ExpressionAttributeNames"]["#counter"] = "counter"
        paginator = self._dynamodb.get_paginator("query")
        with translated_errors("reading the statistics table"):
            for page in paginator.paginate(**options):
                yield from page.get("Items", [])


def _actions_of(event: CountedEvent) -> int:
    return 1 + len(event.counts) + len(event.totals) + len(event.tallies)


def _chunks(events: Sequence[CountedEvent]) -> Iterator[list[CountedEvent]]:
    """Events grouped into transactions of at most TRANSACTION_LIMIT actions (counters shared
    by events of one chunk are one action)."""
    chunk: list[CountedEvent] = []
    for event in events:
        if _actions_of(event) > TRANSACTION_LIMIT:
            raise ValueError(f"event {event.key} needs more than {TRANSACTION_LIMIT} writes")
        if chunk and _size([*chunk, event]) > TRANSACTION_LIMIT:
            yield chunk
            chunk = []
        chunk.append(event)
    if chunk:
        yield chunk


def _size(events: Sequence[CountedEvent]) -> int:
    counters = {(event.day, count) for event in events for count in event.counts}
    totals = {count for event in events for count in event.totals}
    tallies = {(event.day.year, i) for event in events for i in event.tallies}
    return len(events) + len(counters) + len(totals) + len(tallies)


def _transaction(
    table: str, events: Sequence[CountedEvent]
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The actions of one transaction, and for each its kind and owner (for cancellations)."""
    actions: list[dict[str, Any]] = []
    owners: list[tuple[str, str]] = []
    counters: Counter[tuple[date, Count]] = Counter()
    totals: Counter[Count] = Counter()
    tallies: dict[tuple[int, str], tuple[int, int]] = {}
    for event in events:
        actions.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": {
                        "day": {"S": event.day.isoformat()},
                        "counter": {"S": marker_name(event.key)},
                    },
                    "ConditionExpression": "attribute_not_exists(#counter)",
                    "ExpressionAttributeNames": {"#counter": "counter"},
                }
            }
        )
        owners.append(("marker", event.key))
        for count, increment in event.counts.items():
            counters[(event.day, count)] += increment
        for count, increment in event.totals.items():
            totals[count] += increment
        for indicator_id, step in event.tallies.items():
            tallies[(event.day.year, indicator_id)] = (step.before, step.after)
    for (day, count), increment in sorted(counters.items()):
        name = counter_name(count)
        actions.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": {"day": {"S": day.isoformat()}, "counter": {"S": name}},
                    "UpdateExpression": "ADD #count :increment "
                    "SET #dimension = :dimension, #day_counter = :day_counter",
                    "ExpressionAttributeNames": {
                        "#count": "count",
                        "#dimension": "dimension",
                        "#day_counter": "day_counter",
                    },
                    "ExpressionAttributeValues": {
                        ":increment": {"N": str(increment)},
                        ":dimension": {"S": count.dimension},
                        ":day_counter": {"S": f"{day.isoformat()}#{name}"},
                    },
                }
            }
        )
        owners.append(("counter", name))
    for count, increment in sorted(totals.items()):
        actions.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": {"day": {"S": TOTALS_PARTITION}, "counter": {"S": counter_name(count)}},
                    "UpdateExpression": "ADD #count :increment",
                    "ExpressionAttributeNames": {"#count": "count"},
                    "ExpressionAttributeValues": {":increment": {"N": str(increment)}},
                }
            }
        )
        owners.append(("total", counter_name(count)))
    for (year, indicator_id), (before, after) in sorted(tallies.items()):
        condition = "attribute_not_exists(#count)" if before == 0 else "#count = :before"
        values: dict[str, Any] = {":after": {"N": str(after)}}
        if before:
            values[":before"] = {"N": str(before)}
        actions.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": {
                        "day": {"S": TALLY_PREFIX + str(year)},
                        "counter": {"S": indicator_id},
                    },
                    "UpdateExpression": "SET #count = :after",
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#count": "count"},
                    "ExpressionAttributeValues": values,
                }
            }
        )
        owners.append(("tally", indicator_id))
    return actions, owners


PUBLICATIONS_PARTITION = "publications"


class DynamoDBPublicationRecords:
    """The PublicationRecords port in StatisticsTable: PK "publications", SK the year."""

    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def get(self, year: int) -> Publication | None:
        with translated_errors("reading a publication record"):
            item = self._dynamodb.get_item(
                TableName=self._table,
                Key={"day": {"S": PUBLICATIONS_PARTITION}, "counter": {"S": str(year)}},
                ConsistentRead=True,
            ).get("Item")
        return _publication(item) if item else None

    def put(self, publication: Publication) -> None:
        item: dict[str, Any] = {
            "day": {"S": PUBLICATIONS_PARTITION},
            "counter": {"S": str(publication.year)},
            "published_at": {"S": publication.published_at.isoformat()},
            "digest": {"S": publication.digest},
        }
        for name in ("audit_seq", "audit_after_seq"):
            value = getattr(publication, name)
            if value is not None:
                item[name] = {"N": str(value)}
        with translated_errors("recording a publication"):
            self._dynamodb.put_item(TableName=self._table, Item=item)

    def all(self) -> list[Publication]:
        paginator = self._dynamodb.get_paginator("query")
        found: list[Publication] = []
        with translated_errors("reading publication records"):
            for page in paginator.paginate(
                TableName=self._table,
                KeyConditionExpression="#day = :day",
                ExpressionAttributeNames={"#day": "day"},
                ExpressionAttributeValues={":day": {"S": PUBLICATIONS_PARTITION}},
                ConsistentRead=True,
            ):
                found.extend(_publication(item) for item in page.get("Items", []))
        return sorted(found, key=lambda publication: publication.year)


def _publication(item: Mapping[str, Any]) -> Publication:
    return Publication(
        year=int(item["counter"]["S"]),
        published_at=datetime.fromisoformat(item["published_at"]["S"]),
        digest=item["digest"]["S"],
        audit_seq=int(item["audit_seq"]["N"]) if "audit_seq" in item else None,
        audit_after_seq=int(item["audit_after_seq"]["N"]) if "audit_after_seq" in item else None,
    )

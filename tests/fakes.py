"""In-memory fakes of the domain's ports, for unit tests (one per port)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from hashmatch.access.model import ApiClient
from hashmatch.errors import Conflict, DependencyUnavailable, NotFound
from hashmatch.indicators.model import Indicator, IndicatorStatus, Provenance, timestamp
from hashmatch.indicators.ports import IndicatorChange, StoredSnapshot
from hashmatch.matches.model import MatchEvent
from hashmatch.reports.model import Filing, Report, ReportPage, ReportStatus
from hashmatch.statistics.model import CounterKey


class InMemoryClientStore:
    def __init__(self) -> None:
        self.by_digest: dict[str, ApiClient] = {}

    def put_new(self, client: ApiClient) -> None:
        if client.key_digest in self.by_digest or self.get(client.client_id):
            raise Conflict("client exists")
        self.by_digest[client.key_digest] = client

    def get_by_key_digest(self, key_digest: str) -> ApiClient | None:
        return self.by_digest.get(key_digest)

    def get(self, client_id: str) -> ApiClient | None:
        return next((c for c in self.by_digest.values() if c.client_id == client_id), None)

    def list_all(self) -> list[ApiClient]:
        return list(self.by_digest.values())

    def replace(self, client: ApiClient) -> None:
        if client.key_digest not in self.by_digest:
            raise Conflict("no such client")
        self.by_digest[client.key_digest] = client


class InMemoryMatchEventStore:
    def __init__(self) -> None:
        self.events: dict[str, MatchEvent] = {}

    def put_many(self, events: Sequence[MatchEvent]) -> None:
        for event in events:
            self.events[event.match_id] = event

    def get_many(self, match_ids: Sequence[str]) -> dict[str, MatchEvent]:
        return {mid: self.events[mid] for mid in match_ids if mid in self.events}

    def cite(self, match_ids: Sequence[str], report_id: str) -> None:
        for match_id in match_ids:
            if match_id not in self.events:
                raise Conflict(f"no match event {match_id}")
            self.events[match_id] = self.events[match_id].model_copy(
                update={"report_id": report_id}
            )


class InMemoryIndicatorStore:
    """The IndicatorStore port in memory, with the change feed kept as the adapter keeps it."""

    def __init__(self) -> None:
        self.items: dict[str, Indicator] = {}
        self.writes = 0

    def create(self, indicator: Indicator) -> None:
        if indicator.id in self.items:
            raise Conflict("indicator exists")
        self.items[indicator.id] = indicator
        self.writes += 1

    def get(self, indicator_id: str) -> Indicator | None:
        return self.items.get(indicator_id)

    def get_many(self, indicator_ids: Iterable[str]) -> Mapping[str, Indicator]:
        return {i: self.items[i] for i in indicator_ids if i in self.items}

    def append_provenance(self, indicator_id: str, provenance: Provenance, now: datetime) -> bool:
        current = self.items.get(indicator_id)
        if current is None:
            raise NotFound(indicator_id)
        if provenance.key in current.provenance_keys:
            return False
        self.items[indicator_id] = current.model_copy(
            update={"provenance": (*current.provenance, provenance), "updated_at": now}
        )
        self.writes += 1
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
    ) -> Indicator:
        current = self.items.get(indicator_id)
        if current is None or current.status is not expected:
            raise Conflict("status changed")
        changed = current.model_copy(
            update={
                "status": status,
                "status_reason": reason,
                "status_changed_at": now,
                "status_changed_by": by,
                "updated_at": now,
                "changed_at": now,
            }
        )
        self.items[indicator_id] = changed
        self.writes += 1
        return changed

    def active_ids(self, indicator_ids: Iterable[str]) -> set[str]:
        return {
            i
            for i in indicator_ids
            if i in self.items and self.items[i].status is IndicatorStatus.ACTIVE
        }

    def changes_since(self, after_feed_key: str) -> Iterator[IndicatorChange]:
        entries = [
            IndicatorChange(
                id=i.id,
                hash_type=i.hash_type,
                hash_value=i.hash_value,
                database=i.database.value,
                media_type=i.media_type.value,
                status=i.status,
                feed_key=f"{timestamp(i.changed_at)}#{i.id}",
            )
            for i in self.items.values()
        ]
        return iter(sorted((e for e in entries if e.feed_key > after_feed_key), key=_feed_order))


def _feed_order(entry: IndicatorChange) -> str:
    return entry.feed_key


class InMemorySnapshotStore:
    """The SnapshotStore port: one object replaced by compare-and-swap on a counter etag."""

    def __init__(self) -> None:
        self.stored: StoredSnapshot | None = None
        self.writes = 0
        self.reads = 0

    def read(self) -> StoredSnapshot | None:
        self.reads += 1
        return self.stored

    def current_etag(self) -> str | None:
        return self.stored.etag if self.stored else None

    def write(self, data: bytes, *, replaces: str | None) -> str:
        current = self.stored.etag if self.stored else None
        if replaces != current:
            raise Conflict("snapshot replaced")
        self.writes += 1
        etag = f'"{self.writes}"'
        self.stored = StoredSnapshot(data, etag)
        return etag


# --- reports ---------------------------------------------------------------------------------
class InMemoryReportQueue:
    """Keeps what was sent; ``refusing`` makes every send fail as SQS would when it refuses."""

    def __init__(self) -> None:
        self.sent: list[Filing] = []
        self.refusing = False

    def send(self, filing: Filing) -> None:
        if self.refusing:
            raise DependencyUnavailable("queueing the report failed (ServiceUnavailable)")
        self.sent.append(filing)


class InMemoryReportStore:
    def __init__(self) -> None:
        self.reports: dict[str, Report] = {}

    def put_new(self, report: Report) -> bool:
        if report.report_id in self.reports:
            return False
        self.reports[report.report_id] = report
        return True

    def get(self, report_id: str) -> Report | None:
        return self.reports.get(report_id)

    def list_for_provider(
        self, provider: str, *, status: ReportStatus | None, limit: int, cursor: str | None
    ) -> ReportPage:
        mine = sorted(
            (
                report
                for report in self.reports.values()
                if report.provider == provider and (status is None or report.status is status)
            ),
            key=lambda report: (report.filing.filed_at, report.report_id),
            reverse=True,
        )
        start = int(cursor) if cursor else 0
        page = tuple(mine[start : start + limit])
        more = start + limit < len(mine)
        return ReportPage(reports=page, cursor=str(start + limit) if more else None)


class InMemoryIdempotencyStore(BasePersistenceLayer):
    """Powertools' idempotency persistence in a dict, with DynamoDB's conditional-put rules."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError(idempotency_key) from None

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        now = datetime.now(UTC)
        if existing is not None:
            expired = (existing.expiry_timestamp or 0) < now.timestamp()
            abandoned = (
                existing.status == "INPROGRESS"
                and existing.in_progress_expiry_timestamp is not None
                and existing.in_progress_expiry_timestamp < now.timestamp() * 1000
            )
            if not (expired or abandoned):
                # As DynamoDBPersistenceLayer does: a different payload under the key is refused.
                self._validate_payload(data_payload=data_record, stored_data_record=existing)
                raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


class InMemoryCounterStore:
    def __init__(self) -> None:
        self.counts: dict[CounterKey, int] = {}

    def add(self, increments: Mapping[CounterKey, int]) -> None:
        for key, increment in increments.items():
            self.counts[key] = self.counts.get(key, 0) + increment

"""In-memory fakes of the domain's ports, for unit tests (one per port)."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from hashmatch.access.model import ApiClient, Organisation
from hashmatch.audit.chain import ChainedAuditLog
from hashmatch.audit.model import Anchor, AnchorKind, AuditEntry, Checkpoint
from hashmatch.clock import Clock, SystemClock
from hashmatch.errors import Conflict, DependencyUnavailable, NotFound
from hashmatch.indicators.model import (
    Indicator,
    IndicatorPage,
    IndicatorStatus,
    Provenance,
    timestamp,
)
from hashmatch.indicators.ports import (
    IndicatorChange,
    MatchTally,
    SnapshotStream,
    StoredSnapshot,
)
from hashmatch.indicators.quarantine import rolled_baseline
from hashmatch.indicators.service import IndicatorService
from hashmatch.matching.events import MatchEvent
from hashmatch.reports.model import Filing, Report, ReportPage, ReportStatus, StatusChange
from hashmatch.reports.notifications import StatusNotification
from hashmatch.reports.outbound import DeliveryFailed, DeliveryReceipt, ForwardedReportMessage
from hashmatch.reports.ports import QueueQuery, ReportPart
from hashmatch.reports.retention import part_due_at
from hashmatch.reports.review import InformationAnswers, ReviewService
from hashmatch.reports.review_events import ReviewEvent
from hashmatch.reports.review_records import Claim, Delivery
from hashmatch.retention.holds import LegalHold
from hashmatch.retention.ports import DueItem, ErasureProgress, HoldTarget
from hashmatch.retention_policy import RetentionPolicy, due_day
from hashmatch.statistics.counting import Statistics
from hashmatch.statistics.model import Count, CountedEvent, CounterKey
from hashmatch.statistics.ports import Publication, TallyMoved


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


class InMemoryOrganisationStore:
    def __init__(self) -> None:
        self.organisations: dict[str, Organisation] = {}

    def put_new(self, organisation: Organisation) -> None:
        if organisation.organisation_id in self.organisations:
            raise Conflict("organisation exists")
        self.organisations[organisation.organisation_id] = organisation

    def get(self, organisation_id: str) -> Organisation | None:
        return self.organisations.get(organisation_id)

    def list_all(self) -> list[Organisation]:
        return list(self.organisations.values())


class InMemoryMatchEventStore:
    def __init__(self) -> None:
        self.events: dict[str, MatchEvent] = {}
        self.claims: list[tuple[tuple[str, ...], str]] = []

    def put_many(self, events: Sequence[MatchEvent]) -> None:
        for event in events:
            self.events[event.match_id] = event

    def get_many(self, match_ids: Sequence[str]) -> dict[str, MatchEvent]:
        return {mid: self.events[mid] for mid in match_ids if mid in self.events}

    def claim(self, match_ids: Sequence[str], report_id: str) -> None:
        refused = [
            {"loc": ["body", "match_ids", position], "msg": f"{match_id}: cited by another report"}
            for position, match_id in enumerate(match_ids)
            if match_id not in self.events
            or self.events[match_id].report_id not in (None, report_id)
        ]
        if refused:
            raise Conflict("match events are cited by another report", errors=refused)
        for match_id in match_ids:
            self.events[match_id] = self.events[match_id].model_copy(
                update={"report_id": report_id}
            )
        self.claims.append((tuple(match_ids), report_id))

    def release(self, match_ids: Sequence[str], report_id: str) -> None:
        for match_id in match_ids:
            event = self.events.get(match_id)
            if event is not None and event.report_id == report_id:
                self.events[match_id] = event.model_copy(update={"report_id": None})

    def cite(self, match_ids: Sequence[str], report_id: str) -> None:
        for match_id in match_ids:
            if match_id not in self.events:
                raise Conflict(f"no match event {match_id}")
            self.events[match_id] = self.events[match_id].model_copy(
                update={"report_id": report_id}
            )

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        due = sorted(
            DueItem(e.match_id, e.expires_at)
            for e in self.events.values()
            if e.report_id is None and due_day(e.expires_at) == day
        )
        return [item for item in due if after is None or item.item_id > after][:limit]

    def expiry_of(self, match_id: str) -> datetime | None:
        event = self.events.get(match_id)
        return event.expires_at if event is not None and event.report_id is None else None

    def delete_uncited(self, match_id: str, cutoff: datetime) -> bool:
        event = self.events.get(match_id)
        if event is None or event.report_id is not None:
            return False
        del self.events[match_id]
        return True

    def delete_cited(self, match_ids: Sequence[str], report_id: str) -> int:
        doomed = [
            m for m in match_ids if m in self.events and self.events[m].report_id == report_id
        ]
        for match_id in doomed:
            del self.events[match_id]
        return len(doomed)


class InMemoryIndicatorStore:
    """The IndicatorStore port in memory, with the change feed kept as the adapter keeps it."""

    def __init__(self) -> None:
        self.items: dict[str, Indicator] = {}
        self.disputed_by: dict[str, set[str]] = {}
        self.writes = 0
        # Per indicator: [window, count, baseline] (the adapter's flood_* attributes).
        self.floods: dict[str, list[float]] = {}

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
        provenance_erase_after: datetime | None = None,
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
                "provenance_erase_after": provenance_erase_after or current.provenance_erase_after,
                # Revoked or reinstated: off the re-verification list (the curator's verdict).
                "needs_review_since": current.needs_review_since
                if status is IndicatorStatus.SUSPENDED
                else None,
                "quarantined_at": current.quarantined_at
                if status is IndicatorStatus.SUSPENDED
                else None,
            }
        )
        if status is IndicatorStatus.ACTIVE and indicator_id in self.floods:
            _, count, _ = self.floods.pop(indicator_id)
            self.floods[indicator_id] = [-1, 0, count]  # reinstated: its rate is the baseline
        self.items[indicator_id] = changed
        self.writes += 1
        return changed

    def quarantine(
        self, indicator_id: str, *, reason: str, by: str, now: datetime
    ) -> Indicator | None:
        current = self.items.get(indicator_id)
        if current is None or current.status is not IndicatorStatus.ACTIVE:
            return None
        quarantined = current.model_copy(
            update={
                "status": IndicatorStatus.SUSPENDED,
                "status_reason": reason,
                "status_changed_at": now,
                "status_changed_by": by,
                "updated_at": now,
                "changed_at": now,
                "quarantined_at": now,
                "needs_review_since": current.needs_review_since or now,
            }
        )
        self.items[indicator_id] = quarantined
        self.writes += 1
        return quarantined

    def count_matches(
        self, counts: Mapping[str, int], *, window: int, decay: float
    ) -> dict[str, MatchTally]:
        tallies = {}
        for indicator_id, added in counts.items():
            if indicator_id not in self.items:
                continue
            old_window, count, baseline = self.floods.get(indicator_id, [-1, 0, 0.0])
            if old_window != window:
                if old_window >= 0:
                    baseline = rolled_baseline(
                        baseline, int(count), window - int(old_window), decay
                    )
                count = 0
            count += added
            self.floods[indicator_id] = [window, count, baseline]
            tallies[indicator_id] = MatchTally(int(count), float(baseline))
        return tallies

    def active_ids(self, indicator_ids: Iterable[str]) -> set[str]:
        return {
            i
            for i in indicator_ids
            if i in self.items and self.items[i].status is IndicatorStatus.ACTIVE
        }

    def dispute(self, indicator_ids: Iterable[str], *, report_id: str, now: datetime) -> None:
        for indicator_id in set(indicator_ids):
            current = self.items.get(indicator_id)
            if current is None:
                continue
            self.disputed_by.setdefault(indicator_id, set()).add(report_id)
            listed = current.status is not IndicatorStatus.REVOKED
            self.items[indicator_id] = current.model_copy(
                update={
                    "disputes": len(self.disputed_by[indicator_id]),
                    "needs_review_since": (current.needs_review_since or now) if listed else None,
                }
            )

    def withdraw_dispute(self, indicator_ids: Iterable[str], *, report_id: str) -> None:
        for indicator_id in set(indicator_ids):
            self.disputed_by.get(indicator_id, set()).discard(report_id)
            current = self.items.get(indicator_id)
            if current is not None:
                count = len(self.disputed_by.get(indicator_id, ()))
                self.items[indicator_id] = current.model_copy(update={"disputes": count})

    def needs_review(self, *, limit: int, cursor: str | None) -> IndicatorPage:
        listed = sorted(
            (i for i in self.items.values() if i.needs_review_since is not None),
            key=lambda i: (i.needs_review_since, i.id),
        )
        start = int(cursor) if cursor else 0
        more = start + limit < len(listed)
        return IndicatorPage(
            indicators=tuple(listed[start : start + limit]),
            cursor=str(start + limit) if more else None,
        )

    def provenance_due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        due = sorted(
            DueItem(i.id, i.provenance_erase_after)
            for i in self.items.values()
            if i.provenance_erase_after is not None
            and i.provenance_erased_at is None
            and due_day(i.provenance_erase_after) == day
        )
        return [item for item in due if after is None or item.item_id > after][:limit]

    def erase_provenance(self, indicator_id: str, *, cutoff: datetime, now: datetime) -> bool:
        current = self.items.get(indicator_id)
        if (
            current is None
            or current.provenance_erase_after is None
            or current.provenance_erased_at is not None
            or current.provenance_erase_after > cutoff
        ):
            return False
        self.items[indicator_id] = current.model_copy(
            update={"provenance": (), "provenance_erased_at": now}
        )
        return True

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
                companion=i.companion,
                variants=tuple((v.hash_value, v.companion) for v in i.variants),
                negative=i.negative,
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

    def stream(self) -> SnapshotStream | None:
        self.reads += 1
        if self.stored is None:
            return None
        body = io.BytesIO(self.stored.data)
        return SnapshotStream(body.read, len(self.stored.data), self.stored.etag)

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
    """The ReportStore port; workflow writes are atomic (as DynamoDB's conditional updates)."""

    def __init__(self) -> None:
        self.reports: dict[str, Report] = {}
        self._lock = threading.Lock()

    def put_new(self, report: Report) -> bool:
        if report.report_id in self.reports:
            return False
        self.reports[report.report_id] = report
        return True

    def get(self, report_id: str) -> Report | None:
        return self.reports.get(report_id)

    def transition(
        self, report: Report, *, expected: ReportStatus, claimant: str | None, now: datetime
    ) -> None:
        with self._lock:
            current = self.reports.get(report.report_id)
            if current is None or current.status is not expected:
                raise Conflict("status changed")
            held = current.live_claim(now)
            if claimant is not None and held is not None and held.holder != claimant:
                raise Conflict("claimed by another")
            self.reports[report.report_id] = report

    def claim(self, report_id: str, claim: Claim, *, claimable: frozenset[ReportStatus]) -> None:
        with self._lock:
            current = self.reports.get(report_id)
            if current is None or current.status not in claimable:
                raise Conflict("not claimable")
            held = current.live_claim(claim.since)
            if held is not None and held.holder != claim.holder:
                raise Conflict("claimed by another")
            self.reports[report_id] = current.model_copy(update={"claim": claim})

    def release(self, report_id: str, holder: str) -> bool:
        with self._lock:
            current = self.reports.get(report_id)
            if current is None or current.claim is None or current.claim.holder != holder:
                return False
            self.reports[report_id] = current.model_copy(update={"claim": None})
            return True

    def record_delivery(
        self, report_id: str, recipient: str, delivery: Delivery, entry: StatusChange
    ) -> None:
        with self._lock:
            current = self.reports.get(report_id)
            outbound = current.outbound if current else None
            known = outbound.deliveries.get(recipient) if outbound else None
            if current is None or outbound is None or known is None:
                raise Conflict("no such delivery")
            if known.delivery_id != delivery.delivery_id:
                raise Conflict("another delivery")
            deliveries = {**outbound.deliveries, recipient: delivery}
            self.reports[report_id] = current.model_copy(
                update={
                    "outbound": outbound.model_copy(update={"deliveries": deliveries}),
                    "history": (*current.history, entry),
                }
            )

    def review_queue(self, query: QueueQuery) -> ReportPage:
        def wanted(report: Report) -> bool:
            details = report.filing.details
            return (
                report.status is query.status
                and (query.database is None or query.database in report.databases)
                and (query.media_type is None or details.content_type.value == query.media_type)
                and (query.member_state in (None, details.suspected_member_state))
            )

        ordered = sorted(
            (r for r in self.reports.values() if wanted(r)),
            key=lambda r: (not r.urgent, r.filing.filed_at, r.report_id),
        )
        start = int(query.cursor) if query.cursor else 0
        more = start + query.limit < len(ordered)
        return ReportPage(
            reports=tuple(ordered[start : start + query.limit]),
            cursor=str(start + query.limit) if more else None,
        )

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        due = sorted(
            DueItem(r.report_id, r.erase_after)
            for r in self.reports.values()
            if r.erase_after is not None and due_day(r.erase_after) == day
        )
        return [item for item in due if after is None or item.item_id > after][:limit]

    def delete(self, report_id: str) -> None:
        self.reports.pop(report_id, None)

    def parts_due_on(
        self, part: ReportPart, day: str, *, after: str | None, limit: int
    ) -> list[DueItem]:
        due = sorted(
            DueItem(r.report_id, moment)
            for r in self.reports.values()
            if (moment := part_due_at(r, part)) is not None and due_day(moment) == day
        )
        return [item for item in due if after is None or item.item_id > after][:limit]

    def erase_part(self, report_id: str, part: ReportPart, *, due: datetime, now: datetime) -> bool:
        with self._lock:
            current = self.reports.get(report_id)
            if current is None or part_due_at(current, part) != due:
                return False
            if part is ReportPart.CLAIM:
                erased = current.model_copy(update={"claim": None})
            elif part is ReportPart.INFORMATION_REQUESTS:
                texts_gone = tuple(
                    r.model_copy(update={"question": None, "answer": None, "texts_erased_at": now})
                    for r in current.information_requests
                )
                erased = current.model_copy(update={"information_requests": texts_gone})
            else:
                assert current.outbound is not None
                outbound = current.outbound.model_copy(
                    update={"message": None, "message_erased_at": now}
                )
                erased = current.model_copy(update={"outbound": outbound})
            self.reports[report_id] = erased
            return True

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


class InMemoryOutboundQueue:
    """Keeps what was sent; ``refusing`` makes every send fail as SQS would."""

    def __init__(self) -> None:
        self.sent: list[ForwardedReportMessage] = []
        self.refusing = False

    def send(self, messages: Sequence[ForwardedReportMessage]) -> None:
        if self.refusing:
            raise DependencyUnavailable("queueing the forwarded report failed")
        self.sent.extend(messages)


class InMemoryNotificationQueue:
    def __init__(self) -> None:
        self.sent: list[StatusNotification] = []
        self.refusing = False

    def send(self, notification: StatusNotification) -> None:
        if self.refusing:
            raise DependencyUnavailable("queueing the notification failed")
        self.sent.append(notification)


class InMemoryRedelivery:
    """Remembers each backoff a consumer asked the queue for."""

    def __init__(self) -> None:
        self.delays: list[tuple[str, timedelta]] = []

    def retry_later(self, receipt_handle: str, delay: timedelta) -> None:
        self.delays.append((receipt_handle, delay))


class ScriptedRecipients:
    """The Recipients port: each recipient fails its first ``failures[recipient]`` attempts
    (``ALWAYS`` for every one), then takes the message; what it took is kept once per report."""

    ALWAYS = 10**9

    def __init__(self, failures: Mapping[str, int] | None = None) -> None:
        self.failures = dict(failures or {})
        self.attempts: dict[str, int] = {}
        self.received: dict[str, dict[str, ForwardedReportMessage]] = {}

    def deliver(self, message: ForwardedReportMessage) -> DeliveryReceipt:
        recipient = message.recipient
        self.attempts[recipient] = self.attempts.get(recipient, 0) + 1
        if self.attempts[recipient] <= self.failures.get(recipient, 0):
            raise DeliveryFailed("HTTP 503")
        self.received.setdefault(recipient, {})[message.report.report_id] = message
        return DeliveryReceipt(reference=f"{recipient}-{message.report.report_id}")


class InMemoryWebhooks:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.posted: list[tuple[str, str, bytes]] = []

    def post(self, url: str, secret: str, body: bytes) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryFailed("HTTP 502")
        self.posted.append((url, secret, body))


class RecordedReviewEvents:
    def __init__(self) -> None:
        self.events: list[ReviewEvent] = []

    def publish(self, event: ReviewEvent) -> None:
        self.events.append(event)


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
    """The statistics ports in memory, with the DynamoDB adapter's once-per-key rule."""

    def __init__(self) -> None:
        self.counts: dict[CounterKey, int] = {}
        self.markers: set[tuple[date, str]] = set()
        self.totals_now: dict[Count, int] = {}
        self.tally: dict[tuple[int, str], int] = {}
        self.failing = False
        self.recorded: list[CountedEvent] = []

    def record(self, events: Sequence[CountedEvent]) -> int:
        if self.failing:
            raise DependencyUnavailable("counting failed (ServiceUnavailable)")
        new = 0
        for event in events:
            days = [event.day - timedelta(days=back) for back in range(event.recognised_days + 1)]
            if any((day, event.key) in self.markers for day in days):
                continue
            for indicator_id, step in event.tallies.items():
                if self.tally.get((event.day.year, indicator_id), 0) != step.before:
                    raise TallyMoved("tally moved")
            self.markers.add((event.day, event.key))
            for count, increment in event.counts.items():
                key = CounterKey(event.day, count.dimension, count.values)
                self.counts[key] = self.counts.get(key, 0) + increment
            for count, increment in event.totals.items():
                self.totals_now[count] = self.totals_now.get(count, 0) + increment
            for indicator_id, step in event.tallies.items():
                self.tally[(event.day.year, indicator_id)] = step.after
            self.recorded.append(event)
            new += 1
        return new

    def tallies(self, year: int, indicator_ids: Iterable[str]) -> dict[str, int]:
        return {i: self.tally[(year, i)] for i in indicator_ids if (year, i) in self.tally}

    def year_tallies(self, year: int) -> dict[str, int]:
        return {i: n for (y, i), n in self.tally.items() if y == year}

    def sums(self, first: date, last: date, dimensions: Iterable[str]) -> Mapping[Count, int]:
        wanted = set(dimensions)
        sums: dict[Count, int] = {}
        for key, value in self.counts.items():
            if first <= key.day <= last and key.dimension in wanted:
                sums[key.count] = sums.get(key.count, 0) + value
        return {count: value for count, value in sums.items() if value}

    def totals(self, dimension: str) -> Mapping[Count, int]:
        return {c: n for c, n in self.totals_now.items() if c.dimension == dimension}

    def delete_day(self, day: str) -> int:
        doomed = [key for key in self.counts if key.day.isoformat() == day]
        for key in doomed:
            del self.counts[key]
        markers = {m for m in self.markers if m[0].isoformat() == day}
        self.markers -= markers
        return len(doomed) + len(markers)

    def delete_year_tallies(self, year: int) -> int:
        doomed = [key for key in self.tally if key[0] == year]
        for key in doomed:
            del self.tally[key]
        return len(doomed)

    def of(self, dimension: str) -> dict[tuple[str, ...], int]:
        """Every counter of ``dimension`` summed over all days, by its values (for asserts)."""
        sums: dict[tuple[str, ...], int] = {}
        for key, value in self.counts.items():
            if key.dimension == dimension:
                sums[key.values] = sums.get(key.values, 0) + value
        return {values: n for values, n in sums.items() if n}


class InMemoryPublicationRecords:
    def __init__(self) -> None:
        self.records: dict[int, Publication] = {}

    def get(self, year: int) -> Publication | None:
        return self.records.get(year)

    def put(self, publication: Publication) -> None:
        self.records[publication.year] = publication

    def all(self) -> list[Publication]:
        return [self.records[year] for year in sorted(self.records)]


class InMemoryPublishedReports:
    """Write-once files, as the Object Lock bucket with conditional puts keeps them."""

    def __init__(self) -> None:
        self.files: dict[tuple[int, str], bytes] = {}
        self.failing_on: str | None = None

    def get(self, year: int, name: str) -> bytes | None:
        return self.files.get((year, name))

    def put_new(self, year: int, name: str, body: bytes, content_type: str) -> bool:
        if name == self.failing_on:
            raise DependencyUnavailable(f"writing {name} failed")
        if (year, name) in self.files:
            return False
        self.files[(year, name)] = body
        return True


# --- audit and retention ---------------------------------------------------------------------
class InMemoryAuditStore:
    """The AuditStore port; ``put_next`` is atomic (as DynamoDB's conditional put is)."""

    def __init__(self) -> None:
        self.entries: dict[int, AuditEntry] = {}
        self.saved_checkpoint: Checkpoint | None = None
        self.failing = False  # every append fails, as a throttled table would
        self._lock = threading.Lock()

    def last(self) -> AuditEntry | None:
        with self._lock:
            return self.entries[max(self.entries)] if self.entries else None

    def put_next(self, entry: AuditEntry) -> None:
        if self.failing:
            raise DependencyUnavailable("audit table throttled (injected)")
        with self._lock:
            if entry.seq in self.entries:
                raise Conflict(f"audit entry {entry.seq} exists")
            self.entries[entry.seq] = entry

    def read(self, from_seq: int, limit: int) -> list[AuditEntry]:
        with self._lock:
            return [self.entries[s] for s in sorted(self.entries) if s >= from_seq][:limit]

    def delete(self, seqs: Sequence[int]) -> None:
        with self._lock:
            for seq in seqs:
                self.entries.pop(seq, None)

    def checkpoint(self) -> Checkpoint | None:
        return self.saved_checkpoint

    def put_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.saved_checkpoint = checkpoint


class InMemoryAuditLog(ChainedAuditLog):
    """The real chain over an in-memory store (``.store`` lets tests tamper with it)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.store = InMemoryAuditStore()
        super().__init__(self.store, clock or SystemClock())

    def actions(self) -> list[str]:
        return [entry.action for entry in self.store.entries.values()]


class InMemoryAnchorStore:
    """The AnchorStore port: anchors kept by (seq, digest), never changed or removed."""

    def __init__(self) -> None:
        self.anchors: dict[tuple[int, str], Anchor] = {}
        self.kinds: dict[tuple[int, str], AnchorKind] = {}

    def put(self, seq: int, digest: str, *, kind: AnchorKind, at: datetime) -> bool:
        if (seq, digest) in self.anchors:
            return False
        name = f"anchors/{seq:020d}-{digest}"
        self.anchors[(seq, digest)] = Anchor(seq=seq, digest=digest, name=name, written_at=at)
        self.kinds[(seq, digest)] = kind
        return True

    def all(self) -> list[Anchor]:
        return sorted(self.anchors.values(), key=lambda anchor: anchor.seq)


class HmacCheckpointSealer:
    """The CheckpointSealer port with a process-local HMAC key."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def seal(self, payload: bytes) -> str:
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()

    def verify(self, payload: bytes, seal: str) -> bool:
        return hmac.compare_digest(self.seal(payload), seal)


class InMemoryLegalHoldStore:
    def __init__(self) -> None:
        self.holds: dict[str, LegalHold] = {}

    def put_new(self, hold: LegalHold) -> None:
        if hold.hold_id in self.holds:
            raise Conflict("hold exists")
        self.holds[hold.hold_id] = hold

    def get(self, hold_id: str) -> LegalHold | None:
        return self.holds.get(hold_id)

    def for_target(self, target_class: HoldTarget, target_id: str) -> list[LegalHold]:
        return [
            h
            for h in self.holds.values()
            if h.target_class is target_class and h.target_id == target_id
        ]

    def list_current(self) -> list[LegalHold]:
        return list(self.holds.values())

    def ending_on(self, day: str) -> list[LegalHold]:
        return [h for h in self.holds.values() if due_day(h.ends_at) == day]

    def release(self, hold_id: str, *, at: datetime, by: str) -> LegalHold:
        hold = self.holds.get(hold_id)
        if hold is None:
            raise NotFound(hold_id)
        if hold.released_at is not None:
            raise Conflict("released already")
        released = hold.model_copy(update={"released_at": at, "released_by": by})
        self.holds[hold_id] = released
        return released

    def forget(self, hold_id: str) -> None:
        self.holds.pop(hold_id, None)


class InMemoryErasureProgressStore:
    def __init__(self) -> None:
        self.progress: ErasureProgress | None = None
        self.saves = 0

    def load(self) -> ErasureProgress | None:
        return self.progress

    def save(self, progress: ErasureProgress) -> None:
        self.progress = progress
        self.saves += 1


# The default of RevokedProvenanceRetentionDays.
PROVENANCE_RETENTION = timedelta(days=90)


def curation_service(
    store: InMemoryIndicatorStore,
    clock: Clock,
    *,
    audit: ChainedAuditLog | None = None,
    counters: InMemoryCounterStore | None = None,
) -> IndicatorService:
    """An IndicatorService over fakes, recording into an in-memory audit log and counters."""
    return IndicatorService(
        store,
        clock,
        audit or InMemoryAuditLog(clock),
        provenance_retention=PROVENANCE_RETENTION,
        statistics=Statistics(counters or InMemoryCounterStore()),
    )


@dataclass
class ReviewDesk:
    """The review services over fakes, with the queues and events they write to."""

    review: ReviewService
    answers: InformationAnswers
    outbound: InMemoryOutboundQueue
    notifications: InMemoryNotificationQueue
    events: RecordedReviewEvents


class _Stores(Protocol):
    @property
    def reports(self) -> InMemoryReportStore: ...
    @property
    def events(self) -> InMemoryMatchEventStore: ...
    @property
    def indicators(self) -> InMemoryIndicatorStore: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def audit(self) -> ChainedAuditLog: ...


def review_desk(stores: _Stores, policy: RetentionPolicy) -> ReviewDesk:
    """The review services over a test world's stores (its ``reports``, match ``events``,
    ``indicators``, ``clock`` and ``audit``)."""
    reports, clock, audit = stores.reports, stores.clock, stores.audit
    outbound, notifications, events = (
        InMemoryOutboundQueue(),
        InMemoryNotificationQueue(),
        RecordedReviewEvents(),
    )
    review = ReviewService(
        reports=reports,
        match_events=stores.events,
        indicators=stores.indicators,
        outbound=outbound,
        notifications=notifications,
        events=events,
        clock=clock,
        audit=audit,
        policy=policy,
    )
    answers = InformationAnswers(
        reports=reports, notifications=None, events=events, clock=clock, audit=audit
    )
    return ReviewDesk(review, answers, outbound, notifications, events)

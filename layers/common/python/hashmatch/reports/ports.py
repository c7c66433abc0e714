"""Ports of the reports concern: the queues filings, forwarded reports and notifications travel
on, the store reports live in, the recipients and webhooks they are handed to, and the review
events a counter can listen to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from hashmatch.reports.model import Filing, Report, ReportPage, ReportStatus, StatusChange
from hashmatch.reports.notifications import StatusNotification
from hashmatch.reports.outbound import DeliveryReceipt, ForwardedReportMessage
from hashmatch.reports.review_events import ReviewEvent
from hashmatch.reports.review_records import Claim, Delivery
from hashmatch.retention.ports import DueItem


class ReportQueue(Protocol):
    def send(self, filing: Filing) -> None:
        """Queue a filing for intake; DependencyUnavailable when the queue refuses it."""


class ReportPart(StrEnum):
    """The parts of a report with a retention period of their own (docs/retention.md)."""

    CLAIM = "claim"
    INFORMATION_REQUESTS = "information_requests"
    OUTBOUND_MESSAGE = "outbound_message"


@dataclass(frozen=True)
class QueueQuery:
    """One page of the reviewers' queue: one status, urgent first then oldest, filtered."""

    status: ReportStatus
    limit: int
    cursor: str | None = None
    database: str | None = None
    media_type: str | None = None
    member_state: str | None = None


class ReportStore(Protocol):
    def put_new(self, report: Report) -> bool:
        """Store a report unless one with its id exists: True if stored, False if it existed."""

    def get(self, report_id: str) -> Report | None:
        """The report with this id (strongly consistent), or None."""

    def transition(
        self, report: Report, *, expected: ReportStatus, claimant: str | None, now: datetime
    ) -> None:
        """Write ``report``'s workflow state (status, history, decision, claim, information
        requests, outbound, erasure dates) if the stored report is still ``expected`` and no
        one but ``claimant`` holds a claim live at ``now``; Conflict otherwise."""

    def claim(self, report_id: str, claim: Claim, *, claimable: frozenset[ReportStatus]) -> None:
        """Put ``claim`` on the report if its status is claimable and no one else's claim is
        live at ``claim.since``; Conflict otherwise."""

    def release(self, report_id: str, holder: str) -> bool:
        """Remove the claim if ``holder`` holds it: True if one was removed."""

    def record_delivery(
        self, report_id: str, recipient: str, delivery: Delivery, entry: StatusChange
    ) -> None:
        """Record how delivering to ``recipient`` went and append ``entry`` to the history,
        if that recipient's delivery is still ``delivery.delivery_id``; Conflict otherwise."""

    def review_queue(self, query: QueueQuery) -> ReportPage:
        """Reports of one status in queue order (urgent first, then oldest first)."""

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        """Decided reports due for erasure on ``day``, by id, after ``after``."""

    def delete(self, report_id: str) -> None:
        """Erase the report (its cited match events are erased by the caller first)."""

    def parts_due_on(
        self, part: ReportPart, day: str, *, after: str | None, limit: int
    ) -> list[DueItem]:
        """Reports whose ``part`` is due for erasure on ``day``, by report id."""

    def erase_part(self, report_id: str, part: ReportPart, *, due: datetime, now: datetime) -> bool:
        """Erase ``part`` of the report if it is still due at ``due``: True if erased."""

    def list_for_provider(
        self,
        provider: str,
        *,
        status: ReportStatus | None,
        limit: int,
        cursor: str | None,
    ) -> ReportPage:
        """A provider's reports, newest first, optionally of one status only.

        ``cursor`` is the opaque ``cursor`` of the previous page; one that this store did not
        issue for this provider and status raises NotFound (the page it names does not exist).
        """


class OutboundQueue(Protocol):
    def send(self, messages: Sequence[ForwardedReportMessage]) -> None:
        """Queue forwarded reports for delivery; DependencyUnavailable when refused."""


class NotificationQueue(Protocol):
    def send(self, notification: StatusNotification) -> None:
        """Queue a status notification for the provider; DependencyUnavailable when refused."""


class Redelivery(Protocol):
    def retry_later(self, receipt_handle: str, delay: timedelta) -> None:
        """Let the queue hand the message out again after ``delay`` (instead of its
        visibility timeout): retries back off."""


class Recipients(Protocol):
    """Europol and the Member States' authorities: one HTTPS adapter per recipient."""

    def deliver(self, message: ForwardedReportMessage) -> DeliveryReceipt:
        """Hand the message to ``message.recipient``; DeliveryFailed if it was not taken.
        Idempotent by report id: a recipient given the same report twice keeps one."""


class Webhooks(Protocol):
    def post(self, url: str, secret: str, body: bytes) -> None:
        """POST ``body`` signed with ``secret``; DeliveryFailed if it was not taken."""


class ReviewEvents(Protocol):
    """Where each review step is announced after it happened: counters (statistics) listen."""

    def publish(self, event: ReviewEvent) -> None: ...

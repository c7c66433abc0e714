"""Ports of the reports concern: the queue filings travel on, and the store reports live in."""

from __future__ import annotations

from typing import Protocol

from hashmatch.reports.model import Filing, Report, ReportPage, ReportStatus
from hashmatch.retention.ports import DueItem


class ReportQueue(Protocol):
    def send(self, filing: Filing) -> None:
        """Queue a filing for intake; DependencyUnavailable when the queue refuses it."""


class ReportStore(Protocol):
    def put_new(self, report: Report) -> bool:
        """Store a report unless one with its id exists: True if stored, False if it existed."""

    def get(self, report_id: str) -> Report | None:
        """The report with this id, or None."""

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        """Decided reports due for erasure on ``day``, by id, after ``after``."""

    def delete(self, report_id: str) -> None:
        """Erase the report (its cited match events are erased by the caller first)."""

    def record_decision(self, report: Report, *, expected: ReportStatus) -> None:
        """Replace the stored report with ``report`` (its decision appended, ``erase_after``
        set) if its status is still ``expected``; Conflict otherwise."""

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

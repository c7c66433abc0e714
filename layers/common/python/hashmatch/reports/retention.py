"""Reports as a data class with retention: erased when their decision's period ends
(unfounded: UnfoundedReportRetentionDays after the decision; forwarded:
ForwardedReportRetentionDays after forwarding), together with the match events they cite."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from hashmatch.matching.ports import MatchEventStore
from hashmatch.matching.retention import MATCH_EVENTS
from hashmatch.reports.model import is_report_id
from hashmatch.reports.ports import ReportStore
from hashmatch.retention.ports import DueItem, HoldTarget

REPORTS = "reports"


class ReportRetention:
    name = REPORTS
    hold_target = HoldTarget.REPORT

    def __init__(self, reports: ReportStore, events: MatchEventStore) -> None:
        self._reports = reports
        self._events = events

    def is_item_id(self, item_id: str) -> bool:
        return is_report_id(item_id)

    def exists(self, item_id: str) -> bool:
        return self._reports.get(item_id) is not None

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        return self._reports.due_on(day, after=after, limit=limit)

    def due_at(self, item_id: str) -> datetime | None:
        report = self._reports.get(item_id)
        return report.erase_after if report is not None else None

    def erase(self, item_id: str, cutoff: datetime) -> Counter[str]:
        """A report goes with the match events it cites (they lived as long as it did)."""
        report = self._reports.get(item_id)
        if report is None or report.erase_after is None or report.erase_after > cutoff:
            return Counter()
        # Events first: if the run stops between the two, the report is still due and its next
        # erasure deletes what is left.
        events = self._events.delete_cited(report.filing.details.match_ids, item_id)
        self._reports.delete(item_id)
        return Counter({REPORTS: 1, MATCH_EVENTS: events})

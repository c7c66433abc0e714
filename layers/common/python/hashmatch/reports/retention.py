"""Reports as data classes with retention: a report is erased when its decision's period ends
(unfounded: UnfoundedReportRetentionDays after the decision; forwarded:
ForwardedReportRetentionDays after forwarding), together with the match events it cites.

Three parts of a report go earlier, each on its own period: a lapsed review claim
(ClaimRetentionDays after it lapsed), the texts of its information requests
(InformationRequestRetentionDays after the decision) and the copy of what was forwarded
(OutboundMessageRetentionDays after forwarding). A legal hold on the report keeps those too
(except the claim, which holds nothing an authority asks for)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from hashmatch.clock import Clock
from hashmatch.matching.ports import MatchEventStore
from hashmatch.matching.retention import MATCH_EVENTS
from hashmatch.reports.model import Report, is_report_id
from hashmatch.reports.ports import ReportPart, ReportStore
from hashmatch.retention.ports import DueItem, HoldTarget

REPORTS = "reports"
REVIEW_CLAIMS = "review_claims"
INFORMATION_REQUESTS = "information_requests"
OUTBOUND_MESSAGES = "outbound_messages"


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


def part_due_at(report: Report, part: ReportPart) -> datetime | None:
    """When the part falls due as the report is now; None if there is nothing of it to erase."""
    if part is ReportPart.CLAIM:
        return report.claim.erase_after if report.claim else None
    if part is ReportPart.INFORMATION_REQUESTS:
        texts = any(r.question or r.answer for r in report.information_requests)
        return report.information_erase_after if texts else None
    outbound = report.outbound
    return outbound.erase_after if outbound and outbound.message is not None else None


class ReportPartRetention:
    """One part of a report with its own period; the report itself stays."""

    def __init__(
        self,
        part: ReportPart,
        name: str,
        hold_target: HoldTarget | None,
        reports: ReportStore,
        clock: Clock,
    ) -> None:
        self.part = part
        self.name = name
        self.hold_target = hold_target
        self._reports = reports
        self._clock = clock

    def is_item_id(self, item_id: str) -> bool:
        return is_report_id(item_id)

    def exists(self, item_id: str) -> bool:
        return self._reports.get(item_id) is not None

    def due_on(self, day: str, *, after: str | None, limit: int) -> list[DueItem]:
        return self._reports.parts_due_on(self.part, day, after=after, limit=limit)

    def due_at(self, item_id: str) -> datetime | None:
        report = self._reports.get(item_id)
        return part_due_at(report, self.part) if report is not None else None

    def erase(self, item_id: str, cutoff: datetime) -> Counter[str]:
        due = self.due_at(item_id)
        if due is None or due > cutoff:
            return Counter()
        erased = self._reports.erase_part(item_id, self.part, due=due, now=self._clock.now())
        return Counter({self.name: int(erased)})


def report_part_retentions(reports: ReportStore, clock: Clock) -> list[ReportPartRetention]:
    """The parts of a report erased before it: a lapsed claim, information request texts and
    the forwarded copy."""
    return [
        ReportPartRetention(ReportPart.CLAIM, REVIEW_CLAIMS, None, reports, clock),
        ReportPartRetention(
            ReportPart.INFORMATION_REQUESTS, INFORMATION_REQUESTS, HoldTarget.REPORT, reports, clock
        ),
        ReportPartRetention(
            ReportPart.OUTBOUND_MESSAGE, OUTBOUND_MESSAGES, HoldTarget.REPORT, reports, clock
        ),
    ]

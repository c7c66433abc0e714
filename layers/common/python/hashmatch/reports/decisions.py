"""A reviewer's decision on a stored report, and the erasure date it sets.

The reviewer API comes later (review_reports); this is the service method it will call. An
unfounded report is erased UnfoundedReportRetentionDays after the decision, a forwarded one
ForwardedReportRetentionDays after forwarding; the date enters the reports' due-date index.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import Conflict, NotFound
from hashmatch.reports.model import Report, ReportStatus, StatusChange, is_report_id
from hashmatch.reports.ports import ReportStore
from hashmatch.retention_policy import RetentionPolicy
from hashmatch.statistics.counting import Statistics
from hashmatch.statistics.model import DecisionOutcome


class Decision(StrEnum):
    FORWARDED = "forwarded"
    UNFOUNDED = "unfounded"


_OUTCOMES = {
    Decision.FORWARDED: (ReportStatus.FORWARDED, AuditAction.REPORT_FORWARDED),
    Decision.UNFOUNDED: (ReportStatus.UNFOUNDED, AuditAction.REPORT_UNFOUNDED),
}


class ReportDecisions:
    def __init__(
        self,
        *,
        reports: ReportStore,
        clock: Clock,
        audit: AuditLog,
        policy: RetentionPolicy,
        statistics: Statistics,
    ) -> None:
        self._statistics = statistics
        self._reports = reports
        self._clock = clock
        self._audit = audit
        self._policy = policy

    def decide(self, report_id: str, decision: Decision, *, by: str, role: str) -> Report:
        """Record the decision on a stored report; Conflict if it was decided already."""
        report = self._reports.get(report_id) if is_report_id(report_id) else None
        if report is None:
            raise NotFound(f"no report {report_id}")
        if report.status is not ReportStatus.STORED:
            raise Conflict(f"report {report_id} is {report.status.value}: decided already")
        status, action = _OUTCOMES[decision]
        now = self._clock.now()
        decided = report.model_copy(
            update={
                "history": (*report.history, StatusChange(status=status, at=now, by=by)),
                "erase_after": report_erase_after(self._policy, decision, now),
            }
        )
        self._reports.record_decision(decided, expected=ReportStatus.STORED)
        self._audit.record(action, actor=by, role=role, targets=[report_id])
        # The reviewer API (issue 12) adds the Member State forwarded to, the reasons and the
        # false matches they imply (Statistics.decision_made takes them).
        self._statistics.decision_made(
            report_id=report_id,
            decided_at=now,
            filed_at=report.filing.filed_at,
            outcome=DecisionOutcome(decision.value),
            urgent=report.urgent,
        )
        return decided


def report_erase_after(
    policy: RetentionPolicy, decision: Decision, decided_at: datetime
) -> datetime:
    """Unfounded: erased N days after the decision; forwarded: N days after forwarding."""
    period = (
        policy.unfounded_reports if decision is Decision.UNFOUNDED else policy.forwarded_reports
    )
    return decided_at + period

"""Intake: a filing from the reports queue becomes a stored report, exactly once.

SQS delivers at least once, so the same filing may arrive twice (or again after a failure half
way). Storing is a conditional put on the report id, citing the match events is idempotent, and
the report is counted under its id (statistics count an id once), so every delivery of a filing
converges on one report, counted once, whose events live as long as it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import Conflict
from hashmatch.matching.events import MatchEvent
from hashmatch.matching.ports import MatchEventStore
from hashmatch.observability import logger
from hashmatch.reports.model import Filing, Report, ReportStatus, StatusChange, received
from hashmatch.reports.ports import ReportStore
from hashmatch.reports.workflow import Action, step_from
from hashmatch.statistics.counting import Statistics

INTAKE_ACTOR = "intake_reports"
FUNCTION_ROLE = "function"


@dataclass(frozen=True)
class IntakeOutcome:
    report_id: str
    stored: bool  # False: an earlier delivery had stored it already
    uncited_match_ids: tuple[str, ...]  # erased since filing, or cited by another report


class ReportIntake:
    def __init__(
        self,
        *,
        reports: ReportStore,
        match_events: MatchEventStore,
        clock: Clock,
        audit: AuditLog,
        statistics: Statistics,
    ) -> None:
        self._statistics = statistics
        self._reports = reports
        self._match_events = match_events
        self._clock = clock
        self._audit = audit

    def take_in(self, filing: Filing) -> IntakeOutcome:
        stored_step = step_from(filing.report_id, ReportStatus.RECEIVED, Action.STORE)
        # The databases of its matches order nothing but let reviewers filter the queue, and
        # say whether forwarding it needs four eyes.
        events = self._match_events.get_many(filing.details.match_ids)
        report = Report(
            filing=filing,
            history=(
                received(filing),
                StatusChange(
                    status=stored_step.target,
                    at=self._clock.now(),
                    by=INTAKE_ACTOR,
                    step=stored_step.step,
                ),
            ),
            databases=tuple(sorted({event.database for event in events.values()})),
        )
        stored = self._reports.put_new(report)
        if stored:
            # A redelivery that finds the report stored records nothing: one entry per change.
            # (If recording fails, the redelivery does not record it either: intake's own log
            # line and the report's history still show the step.)
            self._audit.record(
                AuditAction.REPORT_STORED,
                actor=INTAKE_ACTOR,
                role=FUNCTION_ROLE,
                targets=[filing.report_id],
            )
        # Cited after storing: a failure here fails the record, and its redelivery finds the
        # report stored and cites again (citing twice is harmless).
        uncited = self._cite(filing, events)
        # Counted on every delivery: a redelivery adds nothing (the report id is counted once)
        # and repairs a count an earlier delivery lost by failing here.
        details = filing.details
        self._statistics.report_received(
            report_id=filing.report_id,
            filed_at=filing.filed_at,
            provider=filing.provider,
            urgent=details.urgent,
            content_type=details.content_type.value,
            suspected_member_state=details.suspected_member_state,
            cited=[event.indicator_id for event in events.values()],
        )
        logger.info(
            "report taken in",
            extra={
                "report_id": filing.report_id,
                "duplicate_delivery": not stored,
                "uncited_match_events": len(uncited),
            },
        )
        return IntakeOutcome(
            report_id=filing.report_id, stored=stored, uncited_match_ids=tuple(uncited)
        )

    def _cite(self, filing: Filing, events: Mapping[str, MatchEvent]) -> list[str]:
        """Cite every match event not cited yet; the rest are noted, not a reason to lose the
        report (their ids stay in it).

        Not cited: an event erased since filing, and one another report cited first (two
        filings of the same match before either was taken in): an event belongs to the first
        report that cited it, so erasing the later report never erases the earlier one's events.
        """
        uncited: list[str] = []
        for match_id in filing.details.match_ids:
            event = events.get(match_id)
            if event is None or event.report_id not in (None, filing.report_id):
                uncited.append(match_id)
                continue
            try:
                self._match_events.cite([match_id], filing.report_id)
            except Conflict:  # erased between the read and the citation
                uncited.append(match_id)
        return uncited

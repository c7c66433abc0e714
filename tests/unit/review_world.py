"""A world of in-memory stores wired to the real review services, with a clock tests move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hashmatch.access.model import Principal, Role
from hashmatch.clock import FixedClock
from hashmatch.indicators.model import Database, Indicator, MediaType, Provenance
from hashmatch.reports.intake import ReportIntake
from hashmatch.reports.model import Report
from hashmatch.reports.review_requests import (
    ForwardDecision,
    InformationAnswer,
    InformationRequestBody,
    UnfoundedDecision,
)
from hashmatch.statistics.counting import Statistics
from tests.factories import a_filing, a_match_event, a_principal
from tests.fakes import (
    InMemoryAuditLog,
    InMemoryCounterStore,
    InMemoryIndicatorStore,
    InMemoryMatchEventStore,
    InMemoryReportStore,
    review_desk,
)
from tests.unit.retention_world import POLICY

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
PROVIDER = a_principal("a", Role.PROVIDER, "Example Hosting SA")
OTHER_PROVIDER = a_principal("b", Role.PROVIDER, "Other Cloud BV")
ALICE = a_principal("1", Role.REVIEWER, "EU Centre")
BOB = a_principal("2", Role.REVIEWER, "EU Centre")


def unfounded(*reasons: str, **changes: Any) -> UnfoundedDecision:
    return UnfoundedDecision.model_validate(
        {"outcome": "manifestly_unfounded", "reasons": list(reasons), **changes}
    )


def forward(member_state: str | None = "DE", **changes: Any) -> ForwardDecision:
    body: dict[str, Any] = {"outcome": "forward", "internal_note": "clear match, seen by two"}
    if member_state is not None:
        body["member_state"] = member_state
    return ForwardDecision.model_validate({**body, **changes})


class ReviewWorld:
    def __init__(self) -> None:
        self.clock = FixedClock(START)
        self.audit = InMemoryAuditLog(self.clock)
        self.events = InMemoryMatchEventStore()
        self.reports = InMemoryReportStore()
        self.indicators = InMemoryIndicatorStore()
        desk = review_desk(self, POLICY)
        self.review, self.answers = desk.review, desk.answers
        self.outbound, self.notifications = desk.outbound, desk.notifications
        self.review_events = desk.events
        self.counters = InMemoryCounterStore()
        self.intake = ReportIntake(
            reports=self.reports,
            match_events=self.events,
            clock=self.clock,
            audit=self.audit,
            statistics=Statistics(self.counters),
        )
        self._indicator_number = 0

    def indicator(self, database: str = "known", status: str = "active") -> str:
        self._indicator_number += 1
        now = self.clock.now()
        indicator = Indicator(
            id=f"ind_{self._indicator_number:022x}",
            hash_type="pdq",
            hash_value=f"{self._indicator_number:064x}",
            database=Database(database),
            media_type=MediaType.IMAGE,
            status=status,
            provenance=(
                Provenance(
                    authority="Bundeskriminalamt",
                    member_state="DE",
                    assessment_reference=f"BKA-2027-{self._indicator_number}",
                    assessed_at=now - timedelta(days=30),
                    submitted_by="cl_" + "c" * 24,
                ),
            ),
            created_at=now,
            updated_at=now,
            changed_at=now,
        )
        self.indicators.create(indicator)
        return indicator.id

    def stored_report(
        self,
        *databases: str,
        principal: Principal = PROVIDER,
        urgent: bool = False,
        **details: Any,
    ) -> str:
        """A report taken in by intake, citing one match per database (known by default)."""
        now = self.clock.now()
        match_ids = []
        for database in databases or ("known",):
            event = a_match_event(
                principal, now, database=database, indicator_id=self.indicator(database)
            )
            self.events.put_many([event])
            match_ids.append(event.match_id)
        filing = a_filing(
            principal, now, tuple(match_ids), content_ref="upload-7f3a", urgent=urgent, **details
        )
        self.intake.take_in(filing)
        return filing.report_id

    def report(self, report_id: str) -> Report:
        found = self.reports.get(report_id)
        assert found is not None
        return found

    def ask(self, report_id: str, question: str = "Where is the account holder located?") -> str:
        asked = self.review.request_information(
            ALICE, report_id, InformationRequestBody(question=question)
        )
        return asked.request_id

    def answer(self, report_id: str, request_id: str, principal: Principal = PROVIDER) -> Report:
        body = InformationAnswer(request_id=request_id, answer="In Lyon, France.")
        return self.answers.answer(principal, report_id, body)

    def later(self, delta: timedelta) -> None:
        self.clock.advance(delta)

    def actions(self) -> list[str]:
        return self.audit.actions()

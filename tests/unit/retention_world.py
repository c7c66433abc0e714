"""A world of in-memory stores wired to the real erasure, with a clock the tests move."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hashmatch.access.model import Role
from hashmatch.clock import FixedClock
from hashmatch.indicators.retention import ProvenanceRetention
from hashmatch.matching.retention import MatchEventRetention
from hashmatch.reports.model import (
    Report,
    ReportStatus,
    StatusChange,
    received,
)
from hashmatch.reports.retention import ReportRetention, report_part_retentions
from hashmatch.reports.review_requests import ForwardDecision, UnfoundedDecision
from hashmatch.retention.erasure import Erasure, ErasureOutcome
from hashmatch.retention.holds import LegalHold, LegalHoldRequest, LegalHoldService
from hashmatch.retention.ports import ErasableData, HoldTarget
from hashmatch.retention.registry import ErasureRegistry
from hashmatch.retention_policy import RetentionPolicy
from hashmatch.statistics.counting import QueryCount, Statistics
from hashmatch.statistics.model import QueryOutcome
from hashmatch.statistics.retention import StatisticsRetention
from tests.factories import CURATOR, a_filing, a_match_event, a_principal, pdq_hex, submission
from tests.fakes import (
    PROVENANCE_RETENTION,
    HmacCheckpointSealer,
    InMemoryAnchorStore,
    InMemoryAuditLog,
    InMemoryCounterStore,
    InMemoryErasureProgressStore,
    InMemoryIndicatorStore,
    InMemoryLegalHoldStore,
    InMemoryMatchEventStore,
    InMemoryPublicationRecords,
    InMemoryReportStore,
    curation_service,
    review_desk,
)

START = datetime(2027, 1, 10, 9, 30, tzinfo=UTC)
POLICY = RetentionPolicy(
    match_events=timedelta(days=90),
    unfounded_reports=timedelta(days=30),
    forwarded_reports=timedelta(days=365),
    revoked_provenance=PROVENANCE_RETENTION,
    audit_entries=timedelta(days=1826),
    statistics=timedelta(days=365),
    legal_hold_max=timedelta(days=548),
    claims=timedelta(days=7),
    information_requests=timedelta(days=30),
    outbound_messages=timedelta(days=90),
    probing_sketches=timedelta(days=1),
)
DECISIONS: dict[str, UnfoundedDecision | ForwardDecision] = {
    "unfounded": UnfoundedDecision(outcome="manifestly_unfounded", reasons=("outside_scope",)),
    "forwarded": ForwardDecision(outcome="forward", member_state="FR", internal_note="clear"),
}
PROVIDER = a_principal("a", Role.PROVIDER, "Example Hosting SA")
REVIEWER = a_principal("r", Role.REVIEWER, "EU Centre")


class RetentionWorld:
    def __init__(self, *extra_classes: ErasableData) -> None:
        self.clock = FixedClock(START)
        self.audit = InMemoryAuditLog(self.clock)
        self.events = InMemoryMatchEventStore()
        self.reports = InMemoryReportStore()
        self.indicators = InMemoryIndicatorStore()
        self.counters = InMemoryCounterStore()
        self.publications = InMemoryPublicationRecords()
        self.holds = InMemoryLegalHoldStore()
        self.progress = InMemoryErasureProgressStore()
        self.sealer = HmacCheckpointSealer()
        # As hashmatch.bootstrap.erasable_data wires it, plus any class a test registers.
        self.registry = ErasureRegistry(
            [
                MatchEventRetention(self.events),
                ReportRetention(self.reports, self.events),
                ProvenanceRetention(self.indicators, self.clock),
                StatisticsRetention(self.counters, self.publications, POLICY.statistics),
                *report_part_retentions(self.reports, self.clock),
                *extra_classes,
            ]
        )
        self.hold_service = LegalHoldService(
            self.holds, self.clock, self.audit, POLICY, self.registry
        )
        self.statistics = Statistics(self.counters)
        desk = review_desk(self, POLICY)
        self.review, self.answers = desk.review, desk.answers
        self.curation = curation_service(
            self.indicators, self.clock, audit=self.audit, counters=self.counters
        )
        self.anchors = InMemoryAnchorStore()
        self.erasure = Erasure(
            registry=self.registry,
            audit_retention=POLICY.audit_entries,
            clock=self.clock,
            progress=self.progress,
            holds=self.holds,
            hold_service=self.hold_service,
            audit=self.audit,
            sealer=self.sealer,
            statistics=self.statistics,
            anchors=self.anchors,
        )

    # -- data of every class --------------------------------------------------------------------

    def match_event(self) -> str:
        now = self.clock.now()
        event = a_match_event(PROVIDER, now, retention=POLICY.match_events)
        self.events.put_many([event])
        return event.match_id

    def stored_report(self) -> tuple[str, str]:
        """A report taken in, citing one match event: (report id, match id)."""
        match_id = self.match_event()
        now = self.clock.now()
        filing = a_filing(PROVIDER, now, (match_id,))
        report = Report(
            filing=filing,
            history=(
                received(filing),
                StatusChange(status=ReportStatus.STORED, at=now, by="intake_reports"),
            ),
        )
        self.reports.put_new(report)
        self.events.cite([match_id], filing.report_id)
        return filing.report_id, match_id

    def decided_report(self, outcome: str) -> tuple[str, str]:
        """A report decided "unfounded" or "forwarded" by a reviewer: (report id, match id)."""
        report_id, match_id = self.stored_report()
        self.review.decide(REVIEWER, report_id, DECISIONS[outcome])
        return report_id, match_id

    def revoked_indicator(self, seed: int = 1) -> str:
        result = self.curation.add_batch([submission(pdq_hex(seed))], submitted_by=CURATOR)
        indicator = result.items[0].indicator
        assert indicator is not None
        self.curation.revoke(indicator.id, reason="assessment withdrawn", by=CURATOR)
        return indicator.id

    def counter_today(self) -> date:
        day = self.clock.now().date()
        queries = {QueryCount("pdq", QueryOutcome.NO_MATCH): 3}
        self.statistics.queries_answered(
            request_key="r1", day=day, provider="Example", queries=queries, matches={}
        )
        return day

    def hold(self, target: HoldTarget, target_id: str, *, days: int = 400) -> LegalHold:
        request = LegalHoldRequest(
            target_class=target,
            target_id=target_id,
            authority="Parquet de Paris",
            reference="PR-2027-118",
            until=self.clock.now() + timedelta(days=days),
        )
        return self.hold_service.place(REVIEWER, request)

    # -- time and runs --------------------------------------------------------------------------

    def at(self, moment: datetime) -> None:
        assert moment >= self.clock.now(), "the clock only moves forward"
        self.clock.advance(moment - self.clock.now())

    def run(self) -> ErasureOutcome:
        return self.erasure.run()

    def receipts(self) -> list[dict[str, Any]]:
        return [
            entry.details
            for entry in self.audit.store.entries.values()
            if entry.action == "erasure.receipt"
        ]

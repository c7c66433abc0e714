"""Review events: each decision, forwarding, information request and delivery, announced once it
happened, for whatever counts them (the statistics of Art. 83-84 add their counters here: one
:class:`~hashmatch.reports.ports.ReviewEvents` implementation wired in the composition root).

An event holds no personal data: ids, codes and flags only.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from hashmatch.reports.model import Report, Step
from hashmatch.reports.review_records import UnfoundedReason


class ReviewEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    step: Step
    at: AwareDatetime
    report_id: str
    urgent: bool
    databases: tuple[str, ...]
    reasons: tuple[UnfoundedReason, ...] = ()
    member_state: str | None = None
    recipient: str | None = None
    # For the statistics: who filed it and when (time to decision), the match ids it cites
    # (false matches are counted against their indicators). Ids and a time: no personal data.
    provider: str | None = None
    filed_at: AwareDatetime | None = None
    match_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, report: Report, *, recipient: str | None = None) -> ReviewEvent:
        last = report.history[-1]
        decision = report.decision
        return cls(
            step=last.what,
            at=last.at,
            report_id=report.report_id,
            urgent=report.urgent,
            databases=report.databases,
            reasons=decision.reasons if decision else (),
            member_state=decision.member_state if decision else None,
            recipient=recipient,
            provider=report.provider,
            filed_at=report.filing.filed_at,
            match_ids=report.filing.details.match_ids,
        )


class NoReviewEvents:
    """Nobody listens (tests that count nothing; bootstrap wires reports.review_statistics)."""

    def publish(self, event: ReviewEvent) -> None:
        del event

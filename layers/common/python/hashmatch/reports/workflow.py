"""The report workflow: one table of every status, the steps out of it, and who may take each.

Everything that moves a report from one status to another asks :func:`step_from` first; a step
the table does not allow from the report's current status is an :class:`IllegalTransition`
(HTTP 409, naming the current status). The table is drawn in docs/review.md.

```
received --store (intake)--> stored
stored --request_information (reviewer)--> awaiting_provider --answer (provider)--> stored
stored --decide_unfounded (reviewer)--> unfounded
stored --decide_forward (reviewer)--> forwarded
stored --propose_forward (reviewer; four eyes)--> awaiting_confirmation
awaiting_confirmation --confirm (another reviewer)--> forwarded
awaiting_confirmation --decide_unfounded (another reviewer)--> unfounded
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from hashmatch.errors import Conflict
from hashmatch.reports.model import ReportStatus, Step


class Action(StrEnum):
    STORE = "store"
    REQUEST_INFORMATION = "request_information"
    ANSWER = "answer"
    DECIDE_UNFOUNDED = "decide_unfounded"
    DECIDE_FORWARD = "decide_forward"
    PROPOSE_FORWARD = "propose_forward"
    CONFIRM = "confirm"


class Actor(StrEnum):
    """Who may take a step."""

    INTAKE = "intake"  # the intake function
    REVIEWER = "reviewer"  # any reviewer not kept out by another's claim
    SECOND_REVIEWER = "second_reviewer"  # a reviewer other than the one who decided
    PROVIDER = "provider"  # the organisation that filed the report


@dataclass(frozen=True)
class Transition:
    action: Action
    source: ReportStatus
    target: ReportStatus
    actor: Actor
    step: Step  # what the history entry says


_S = ReportStatus
TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.STORE, _S.RECEIVED, _S.STORED, Actor.INTAKE, Step.STORED),
    Transition(
        Action.REQUEST_INFORMATION,
        _S.STORED,
        _S.AWAITING_PROVIDER,
        Actor.REVIEWER,
        Step.INFORMATION_REQUESTED,
    ),
    Transition(
        Action.ANSWER, _S.AWAITING_PROVIDER, _S.STORED, Actor.PROVIDER, Step.INFORMATION_PROVIDED
    ),
    Transition(
        Action.DECIDE_UNFOUNDED, _S.STORED, _S.UNFOUNDED, Actor.REVIEWER, Step.DECIDED_UNFOUNDED
    ),
    Transition(Action.DECIDE_FORWARD, _S.STORED, _S.FORWARDED, Actor.REVIEWER, Step.FORWARDED),
    Transition(
        Action.PROPOSE_FORWARD,
        _S.STORED,
        _S.AWAITING_CONFIRMATION,
        Actor.REVIEWER,
        Step.FORWARD_PROPOSED,
    ),
    Transition(
        Action.CONFIRM,
        _S.AWAITING_CONFIRMATION,
        _S.FORWARDED,
        Actor.SECOND_REVIEWER,
        Step.FORWARDED,
    ),
    # The second reviewer disagrees: the report is manifestly unfounded after all.
    Transition(
        Action.DECIDE_UNFOUNDED,
        _S.AWAITING_CONFIRMATION,
        _S.UNFOUNDED,
        Actor.SECOND_REVIEWER,
        Step.DECIDED_UNFOUNDED,
    ),
)

# status -> {action: transition}: the table as the code reads it (every status has an entry).
WORKFLOW: Mapping[ReportStatus, Mapping[Action, Transition]] = MappingProxyType(
    {
        status: MappingProxyType({t.action: t for t in TRANSITIONS if t.source is status})
        for status in ReportStatus
    }
)
# Reviewers claim (lease) reports they are about to decide or confirm.
CLAIMABLE: frozenset[ReportStatus] = frozenset({_S.STORED, _S.AWAITING_CONFIRMATION})
# Forwarding a report whose matches are all in these databases needs a second reviewer.
FOUR_EYES_DATABASES = frozenset({"new", "solicitation"})


class IllegalTransition(Conflict):
    """The step is not allowed from the report's current status (HTTP 409)."""

    code = "illegal-transition"
    title = "Not allowed in the report's current status"

    def __init__(
        self, report_id: str, status: ReportStatus, what: str, allowed: Iterable[ReportStatus]
    ) -> None:
        when = " or ".join(sorted(s.value for s in allowed)) or "never"
        super().__init__(
            f"report {report_id} is {status.value}: {what} is allowed only when it is {when}",
            errors=[{"loc": ["report", "status"], "msg": status.value}],
        )
        self.status = status


def step_from(report_id: str, status: ReportStatus, action: Action) -> Transition:
    """The transition ``action`` makes from ``status``; IllegalTransition if there is none."""
    transition = WORKFLOW[status].get(action)
    if transition is None:
        sources = [t.source for t in TRANSITIONS if t.action is action]
        raise IllegalTransition(report_id, status, action.value, sources)
    return transition


def check_claimable(report_id: str, status: ReportStatus) -> None:
    if status not in CLAIMABLE:
        raise IllegalTransition(report_id, status, "a claim", CLAIMABLE)


def needs_second_reviewer(databases: Iterable[str]) -> bool:
    """Four eyes: every match in the new or solicitation databases (or no match known)."""
    return set(databases) <= FOUR_EYES_DATABASES

"""Human review (Art. 48): the workflow table, the queue, claims, decisions, four eyes,
information requests, feedback into indicators, and what the provider is shown."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from pydantic import ValidationError

from hashmatch.errors import Conflict, DependencyUnavailable, InvalidInput, NotFound
from hashmatch.indicators.model import IndicatorStatus
from hashmatch.reports.model import ReportStatus, Step
from hashmatch.reports.outbound import ForwardedReportMessage
from hashmatch.reports.ports import QueueQuery
from hashmatch.reports.review import ClaimHeld, OwnDecision
from hashmatch.reports.review_records import EUROPOL, DeliveryState
from hashmatch.reports.review_schemas import QueueEntry, ReviewReportView
from hashmatch.reports.schemas import ReportView
from hashmatch.reports.workflow import (
    TRANSITIONS,
    WORKFLOW,
    Action,
    IllegalTransition,
    step_from,
)
from tests.unit.retention_world import POLICY
from tests.unit.review_world import (
    ALICE,
    BOB,
    OTHER_PROVIDER,
    START,
    ReviewWorld,
    forward,
    unfounded,
)


@pytest.fixture
def world() -> ReviewWorld:
    return ReviewWorld()


def queue(
    world: ReviewWorld, status: ReportStatus = ReportStatus.STORED, **filters: str
) -> list[str]:
    page = world.review.queue(QueueQuery(status=status, limit=100, **filters))
    return [report.report_id for report in page.reports]


# -- the table ---------------------------------------------------------------------------------


def test_the_workflow_table_has_an_entry_for_every_status_and_final_ones_allow_nothing():
    assert set(WORKFLOW) == set(ReportStatus)
    assert dict(WORKFLOW[ReportStatus.FORWARDED]) == {}
    assert dict(WORKFLOW[ReportStatus.UNFOUNDED]) == {}
    assert {(t.source, t.action) for t in TRANSITIONS} == {
        (s, a) for s, actions in WORKFLOW.items() for a in actions
    }


def test_a_step_the_table_does_not_allow_is_a_409_naming_the_current_status():
    with pytest.raises(IllegalTransition) as refused:
        step_from("rp_" + "0" * 24, ReportStatus.FORWARDED, Action.DECIDE_UNFOUNDED)

    assert "is forwarded" in refused.value.detail
    assert refused.value.errors == [{"loc": ["report", "status"], "msg": "forwarded"}]


# -- the queue ---------------------------------------------------------------------------------


def test_the_queue_lists_urgent_reports_first_then_the_oldest(world):
    old = world.stored_report()
    world.later(timedelta(minutes=1))
    newer = world.stored_report()
    world.later(timedelta(minutes=1))
    urgent = world.stored_report(urgent=True)

    assert queue(world) == [urgent, old, newer]


def test_the_queue_filters_by_database_media_type_and_member_state(world):
    known_de = world.stored_report("known", suspected_member_state="DE")
    new_fr = world.stored_report("new", suspected_member_state="FR")

    assert queue(world, database="new") == [new_fr]
    assert queue(world, member_state="DE") == [known_de]
    assert queue(world, media_type="video") == []


def test_a_queue_entry_shows_its_age_and_who_holds_a_claim(world):
    report_id = world.stored_report()
    world.review.claim(ALICE, report_id)
    world.later(timedelta(minutes=5))

    entry = QueueEntry.of(world.report(report_id), world.clock.now())

    assert entry.age_seconds == 300
    assert entry.claimed_by == ALICE.client_id


def test_a_decided_report_leaves_the_queue(world):
    report_id = world.stored_report()

    world.review.decide(ALICE, report_id, unfounded("outside_scope"))

    assert queue(world) == []
    assert queue(world, ReportStatus.UNFOUNDED) == [report_id]


# -- reading a report --------------------------------------------------------------------------


def test_a_reviewer_reads_the_matches_and_the_cited_indicators_flagged_revoked(world):
    report_id = world.stored_report()
    (event,) = world.events.events.values()
    world.indicators.change_status(
        event.indicator_id,
        expected=IndicatorStatus.ACTIVE,
        status=IndicatorStatus.REVOKED,
        reason="assessment withdrawn",
        by="cl_" + "c" * 24,
        now=START,
    )

    detail = world.review.detail(ALICE, report_id)
    view = ReviewReportView.of(detail, world.clock.now())

    assert [m.indicator_id for m in view.matches] == [event.indicator_id]
    assert (view.matches[0].distance, view.matches[0].threshold) == (3, 31)
    (indicator,) = view.indicators
    assert indicator.revoked
    assert not indicator.suspended
    assert indicator.provenance[0].assessment_reference.startswith("BKA-2027-")


def test_every_read_of_a_report_by_a_reviewer_is_audited(world):
    report_id = world.stored_report()

    world.review.detail(ALICE, report_id)
    world.review.detail(BOB, report_id)

    reads = [e for e in world.audit.store.entries.values() if e.action == "report.read"]
    assert [(e.actor, e.targets) for e in reads] == [
        (ALICE.client_id, (report_id,)),
        (BOB.client_id, (report_id,)),
    ]


# -- claims ------------------------------------------------------------------------------------


def test_a_claim_is_a_lease_of_30_minutes_by_default(world):
    report_id = world.stored_report()

    claim = world.review.claim(ALICE, report_id)

    assert claim.until - claim.since == timedelta(minutes=30)
    assert world.actions()[-1] == "report.claimed"


def test_a_report_someone_else_holds_cannot_be_claimed_until_the_lease_runs_out(world):
    report_id = world.stored_report()
    world.review.claim(ALICE, report_id)

    with pytest.raises(ClaimHeld):
        world.review.claim(BOB, report_id)
    world.later(timedelta(minutes=31))
    claim = world.review.claim(BOB, report_id)

    assert claim.holder == BOB.client_id


def test_a_released_claim_lets_another_reviewer_decide(world):
    report_id = world.stored_report()
    world.review.claim(ALICE, report_id)

    assert world.review.release(ALICE, report_id)
    world.review.decide(BOB, report_id, unfounded("outside_scope"))

    assert world.report(report_id).status is ReportStatus.UNFOUNDED


def test_releasing_someone_elses_claim_is_refused(world):
    report_id = world.stored_report()
    world.review.claim(ALICE, report_id)

    with pytest.raises(ClaimHeld):
        world.review.release(BOB, report_id)


def test_a_decided_report_cannot_be_claimed(world):
    report_id = world.stored_report()
    world.review.decide(ALICE, report_id, unfounded("outside_scope"))

    with pytest.raises(IllegalTransition, match="is unfounded"):
        world.review.claim(BOB, report_id)


# -- deciding: unfounded -----------------------------------------------------------------------


def test_an_unfounded_decision_records_the_step_audits_it_and_sets_the_erasure_date(world):
    report_id = world.stored_report()

    decided = world.review.decide(ALICE, report_id, unfounded("outside_scope"))

    assert decided.status is ReportStatus.UNFOUNDED
    last = decided.history[-1]
    assert (last.step, last.by, last.at) == (Step.DECIDED_UNFOUNDED, ALICE.client_id, START)
    assert decided.erase_after == START + POLICY.unfounded_reports
    assert world.actions()[-1] == "report.unfounded"
    assert world.review_events.events[-1].step is Step.DECIDED_UNFOUNDED
    (notification,) = world.notifications.sent
    assert (notification.report_id, notification.status) == (report_id, ReportStatus.UNFOUNDED)


def test_the_provider_reads_the_reasons_but_never_the_internal_note(world):
    report_id = world.stored_report()
    world.review.decide(
        ALICE, report_id, unfounded("not_a_match", internal_note="looks like a holiday photo")
    )

    view = ReportView.of(world.report(report_id))

    assert [r.code for r in view.unfounded_reasons] == ["not_a_match"]
    assert view.unfounded_reasons[0].description.startswith("On inspection")
    assert "holiday" not in view.model_dump_json()


def test_an_unknown_reason_code_is_refused():
    with pytest.raises(ValidationError, match="reasons"):
        unfounded("looked_harmless")


def test_a_duplicate_names_the_report_it_repeats_and_only_an_own_one_is_shown(world):
    original = world.stored_report(principal=OTHER_PROVIDER)
    report_id = world.stored_report()

    with pytest.raises(ValidationError, match="duplicate_of"):
        unfounded("duplicate")
    world.review.decide(ALICE, report_id, unfounded("duplicate", duplicate_of=original))

    assert world.report(report_id).decision.duplicate_of == original
    assert ReportView.of(world.report(report_id)).duplicate_of is None  # another provider's


def test_an_unfounded_decision_saying_the_indicator_is_wrong_puts_it_on_the_list_once(world):
    first, second = world.stored_report(), world.stored_report()
    (indicator_id, other) = (e.indicator_id for e in world.events.events.values())
    world.indicators.dispute([other], report_id=first, now=START)  # as if once before

    world.review.decide(ALICE, first, unfounded("indicator_wrong"))
    world.indicators.dispute([indicator_id], report_id=first, now=START)  # a retry: no recount

    listed = world.indicators.needs_review(limit=10, cursor=None).indicators
    assert {i.id: i.disputes for i in listed} == {indicator_id: 1, other: 1}
    assert world.actions()[-1] == "indicators.flagged_for_review"
    world.review.decide(ALICE, second, unfounded("outside_scope"))
    assert world.indicators.items[other].disputes == 1  # no feedback for other reasons


# -- deciding: forward -------------------------------------------------------------------------


def test_forwarding_queues_one_message_per_recipient_holding_only_what_they_need(world):
    report_id = world.stored_report(suspected_member_state="DE")

    forwarded = world.review.decide(ALICE, report_id, forward("DE"))

    assert forwarded.status is ReportStatus.FORWARDED
    assert forwarded.erase_after == START + POLICY.forwarded_reports
    assert sorted(m.recipient for m in world.outbound.sent) == ["DE", EUROPOL]
    message = world.outbound.sent[0]
    ForwardedReportMessage.model_validate_json(message.model_dump_json())
    text = message.model_dump_json()
    assert "clear match" not in text
    assert ALICE.client_id not in text
    assert message.report.competent_member_state == "DE"
    assert {d.state for d in forwarded.outbound.deliveries.values()} == {DeliveryState.PENDING}


def test_forwarding_to_europol_only_when_jurisdiction_is_unclear(world):
    report_id = world.stored_report()

    world.review.decide(ALICE, report_id, forward(None, europol_only=True))

    assert [m.recipient for m in world.outbound.sent] == [EUROPOL]


def test_forwarding_needs_a_member_state_or_europol_only():
    with pytest.raises(ValidationError, match="member_state"):
        forward(None)
    with pytest.raises(ValidationError, match="EU Member State"):
        forward("US")


def test_do_not_inform_until_beyond_the_limit_is_refused_and_nothing_changes(world):
    report_id = world.stored_report()
    too_late = START + timedelta(days=549)

    with pytest.raises(InvalidInput) as refused:
        world.review.decide(ALICE, report_id, forward(do_not_inform_until=too_late))

    assert refused.value.errors[0]["loc"] == ["body", "do_not_inform_until"]
    assert world.report(report_id).status is ReportStatus.STORED
    assert world.outbound.sent == []
    assert world.notifications.sent == []


def test_the_provider_is_told_not_to_inform_until_the_date_once_forwarded(world):
    report_id = world.stored_report()
    until = START + timedelta(days=90)

    world.review.decide(ALICE, report_id, forward(do_not_inform_until=until))

    assert ReportView.of(world.report(report_id)).do_not_inform_until == until


def test_a_decision_on_a_report_someone_else_holds_is_409_and_changes_nothing(world):
    report_id = world.stored_report()
    world.review.claim(ALICE, report_id)

    with pytest.raises(ClaimHeld, match="claimed by"):
        world.review.decide(BOB, report_id, forward())

    assert world.report(report_id).status is ReportStatus.STORED
    assert world.outbound.sent == []


def test_a_second_decision_is_409_naming_the_status_and_changes_nothing(world):
    report_id = world.stored_report()
    world.review.decide(ALICE, report_id, unfounded("outside_scope"))
    before = world.report(report_id)

    with pytest.raises(IllegalTransition, match="is unfounded"):
        world.review.decide(BOB, report_id, forward())

    assert world.report(report_id) == before
    assert world.outbound.sent == []


def test_two_reviewers_deciding_at_once_one_wins_and_the_other_gets_409(world):
    report_id = world.stored_report()
    both_read = threading.Barrier(2)
    read = world.reports.get
    waited: set[str] = set()

    def get_then_wait(rid):
        # Each reviewer's first read waits for the other's: both decide on the same state.
        found = read(rid)
        name = threading.current_thread().name
        if name.startswith("reviewer") and name not in waited:
            waited.add(name)
            both_read.wait(timeout=5)
        return found

    world.reports.get = get_then_wait
    outcomes: dict[str, object] = {}

    def decide(name, principal, decision):
        try:
            outcomes[name] = world.review.decide(principal, report_id, decision).status
        except Conflict as error:
            outcomes[name] = error

    threads = [
        threading.Thread(target=decide, args=("a", ALICE, forward()), name="reviewer-a"),
        threading.Thread(
            target=decide, args=("b", BOB, unfounded("outside_scope")), name="reviewer-b"
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [o for o in outcomes.values() if isinstance(o, ReportStatus)]
    losers = [o for o in outcomes.values() if isinstance(o, IllegalTransition)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert world.report(report_id).status is winners[0]
    assert f"is {winners[0].value}" in losers[0].detail


def test_a_queue_that_refuses_the_forwarded_report_fails_the_decision_and_changes_nothing(world):
    report_id = world.stored_report()
    world.outbound.refusing = True

    with pytest.raises(DependencyUnavailable):
        world.review.decide(ALICE, report_id, forward())

    assert world.report(report_id).status is ReportStatus.STORED
    assert "report.forwarded" not in world.actions()


# -- four eyes ---------------------------------------------------------------------------------


def test_forwarding_a_report_matching_only_new_material_waits_for_a_second_reviewer(world):
    report_id = world.stored_report("new", "solicitation")

    proposed = world.review.decide(ALICE, report_id, forward())

    assert proposed.status is ReportStatus.AWAITING_CONFIRMATION
    assert world.outbound.sent == []
    assert ReportView.of(proposed).status is ReportStatus.STORED  # not forwarded yet
    assert queue(world, ReportStatus.AWAITING_CONFIRMATION) == [report_id]


def test_a_report_with_a_known_match_among_new_ones_is_forwarded_at_once(world):
    report_id = world.stored_report("new", "known")

    assert world.review.decide(ALICE, report_id, forward()).status is ReportStatus.FORWARDED


def test_nobody_confirms_their_own_decision(world):
    report_id = world.stored_report("new")
    world.review.decide(ALICE, report_id, forward())

    with pytest.raises(OwnDecision):
        world.review.confirm(ALICE, report_id)

    assert world.report(report_id).status is ReportStatus.AWAITING_CONFIRMATION


def test_a_second_reviewers_confirmation_forwards_the_report(world):
    report_id = world.stored_report("new")
    world.review.decide(ALICE, report_id, forward("FR"))
    world.later(timedelta(hours=2))

    confirmed = world.review.confirm(BOB, report_id)

    assert confirmed.status is ReportStatus.FORWARDED
    assert (confirmed.decision.decided_by, confirmed.decision.confirmed_by) == (
        ALICE.client_id,
        BOB.client_id,
    )
    assert sorted(m.recipient for m in world.outbound.sent) == ["FR", EUROPOL]
    assert confirmed.erase_after == START + timedelta(hours=2) + POLICY.forwarded_reports
    assert [s.what for s in confirmed.history][-2:] == [Step.FORWARD_PROPOSED, Step.FORWARDED]


def test_a_second_reviewer_who_disagrees_decides_the_proposal_unfounded(world):
    report_id = world.stored_report("new")
    world.review.decide(ALICE, report_id, forward())

    with pytest.raises(OwnDecision):
        world.review.decide(ALICE, report_id, unfounded("outside_scope"))
    decided = world.review.decide(BOB, report_id, unfounded("not_a_match"))

    assert decided.status is ReportStatus.UNFOUNDED
    assert [(s.what, s.by) for s in decided.history][-2:] == [
        (Step.FORWARD_PROPOSED, ALICE.client_id),
        (Step.DECIDED_UNFOUNDED, BOB.client_id),
    ]
    assert world.outbound.sent == []


def test_only_a_proposed_forwarding_can_be_confirmed(world):
    report_id = world.stored_report()

    with pytest.raises(IllegalTransition, match="is stored"):
        world.review.confirm(BOB, report_id)


# -- information requests ----------------------------------------------------------------------


def test_an_information_request_makes_the_report_wait_and_the_answer_returns_it(world):
    report_id = world.stored_report()
    request_id = world.ask(report_id)

    assert queue(world) == []
    open_request = ReportView.of(world.report(report_id)).information_request
    assert open_request is not None
    assert open_request.request_id == request_id
    answered = world.answer(report_id, request_id)

    assert answered.status is ReportStatus.STORED
    assert queue(world) == [report_id]
    assert [s.what for s in answered.history] == [
        Step.FILED,
        Step.STORED,
        Step.INFORMATION_REQUESTED,
        Step.INFORMATION_PROVIDED,
    ]
    assert world.actions()[-2:] == ["report.information_requested", "report.information_provided"]


def test_a_provider_cannot_answer_for_another_providers_report(world):
    report_id = world.stored_report()
    request_id = world.ask(report_id)

    with pytest.raises(NotFound):
        world.answer(report_id, request_id, principal=OTHER_PROVIDER)

    assert world.report(report_id).status is ReportStatus.AWAITING_PROVIDER


def test_answering_a_report_that_waits_for_nothing_is_409(world):
    report_id = world.stored_report()

    with pytest.raises(IllegalTransition, match="is stored"):
        world.answer(report_id, "ir_" + "0" * 24)


def test_answering_another_request_than_the_open_one_is_refused(world):
    report_id = world.stored_report()
    world.ask(report_id)

    with pytest.raises(InvalidInput):
        world.answer(report_id, "ir_" + "0" * 24)


def test_a_report_waiting_for_the_provider_cannot_be_decided(world):
    report_id = world.stored_report()
    world.ask(report_id)

    with pytest.raises(IllegalTransition, match="is awaiting_provider"):
        world.review.decide(ALICE, report_id, unfounded("outside_scope"))


def test_free_text_with_control_characters_is_refused(world):
    with pytest.raises(ValidationError, match="control characters"):
        unfounded("outside_scope", internal_note="fine\x1b[31m red")

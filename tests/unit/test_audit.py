"""The audit log: a hash chain that detects editing, deleting and reordering, never forks, pages,
and keeps verifying after old entries are erased behind a sealed checkpoint; services record
every state change into it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from hashmatch.access.model import Role
from hashmatch.access.service import ClientService
from hashmatch.audit.anchors import AuditAnchoring
from hashmatch.audit.model import GENESIS_DIGEST, AnchorKind, AuditEntry
from hashmatch.clock import FixedClock
from hashmatch.errors import DependencyUnavailable, InvalidInput
from tests.factories import CURATOR, in_new_organisation, pdq_hex, submission
from tests.fakes import (
    HmacCheckpointSealer,
    InMemoryAnchorStore,
    InMemoryAuditLog,
    InMemoryClientStore,
    InMemoryIndicatorStore,
    InMemoryOrganisationStore,
    curation_service,
)

START = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def audit(clock: FixedClock) -> InMemoryAuditLog:
    return InMemoryAuditLog(clock)


@pytest.fixture
def sealer() -> HmacCheckpointSealer:
    return HmacCheckpointSealer()


@pytest.fixture
def anchors() -> InMemoryAnchorStore:
    return InMemoryAnchorStore()


def fill(audit: InMemoryAuditLog, count: int) -> None:
    for number in range(count):
        audit.record("indicator.read", actor=CURATOR, role="curator", targets=[f"ind_{number}"])


def tamper(audit: InMemoryAuditLog, seq: int, **changes: object) -> None:
    audit.store.entries[seq] = audit.store.entries[seq].model_copy(update=changes)


def test_each_entry_carries_the_digest_of_the_one_before(audit):
    fill(audit, 3)

    entries = audit.store.entries

    assert entries[1].prev_digest == GENESIS_DIGEST
    assert entries[2].prev_digest == entries[1].digest
    assert entries[3].prev_digest == entries[2].digest


def test_the_digest_is_the_sha256_of_canonical_json():
    entry = AuditEntry(
        seq=1,
        at=datetime(2027, 1, 1, tzinfo=UTC),
        actor="a",
        role="r",
        action="x",
        prev_digest=GENESIS_DIGEST,
    )

    assert entry.canonical() == (
        b'{"action":"x","actor":"a","at":"2027-01-01T00:00:00.000000Z","details":{},'
        b'"prev_digest":"' + GENESIS_DIGEST.encode() + b'","role":"r","seq":1,"targets":[]}'
    )


def test_an_untouched_chain_verifies(audit, sealer):
    fill(audit, 5)

    result = audit.verify(sealer)

    assert result.ok
    assert result.entries_checked == 5
    assert result.head_seq == 5


@pytest.mark.parametrize("seq", [1, 3, 4])
def test_editing_an_entry_is_detected_at_the_next_link(audit, sealer, seq):
    fill(audit, 5)
    tamper(audit, seq, actor="cl_someone_else")

    result = audit.verify(sealer)

    assert not result.ok
    assert result.broken_at == seq + 1


def test_deleting_an_entry_is_detected_and_named(audit, sealer):
    fill(audit, 5)
    del audit.store.entries[3]

    result = audit.verify(sealer)

    assert not result.ok
    assert result.broken_at == 3
    assert "entry 3 is missing" in (result.problem or "")


def test_reordering_two_entries_is_detected(audit, sealer):
    fill(audit, 5)
    second, third = audit.store.entries[2], audit.store.entries[3]
    audit.store.entries[2] = third.model_copy(update={"seq": 2})
    audit.store.entries[3] = second.model_copy(update={"seq": 3})

    result = audit.verify(sealer)

    assert not result.ok
    assert result.broken_at == 2


def test_concurrent_appends_never_fork_the_chain(audit, sealer):
    # Given eight writers appending at once
    def write() -> None:
        fill(audit, 25)

    writers = [threading.Thread(target=write) for _ in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    # Then every entry has its own number, and the chain is one line
    assert sorted(audit.store.entries) == list(range(1, 201))
    assert audit.verify(sealer).ok


def test_an_append_that_loses_the_race_is_built_on_the_winners_entry(audit, sealer):
    fill(audit, 1)
    stale_head = audit.store.entries[1]
    real_last = audit.store.last
    calls = {"n": 0}

    def last_once_stale() -> AuditEntry | None:
        calls["n"] += 1
        if calls["n"] == 1:
            fill_other()  # another writer appends between our read and our put
            return stale_head
        return real_last()

    def fill_other() -> None:
        audit.store.last = real_last
        fill(audit, 1)
        audit.store.last = last_once_stale

    audit.store.last = last_once_stale
    entry = audit.record("client.created", actor="operator", role="operator")

    assert entry.seq == 3
    assert entry.prev_digest == audit.store.entries[2].digest
    assert audit.verify(sealer).ok


def test_pages_follow_the_next_cursor_to_the_end(audit):
    fill(audit, 7)

    first = audit.page(1, 3)
    second = audit.page(first.next or 0, 3)
    third = audit.page(second.next or 0, 3)

    assert [e.seq for e in (*first.entries, *second.entries, *third.entries)] == list(range(1, 8))
    assert third.next is None


def test_a_page_larger_than_allowed_is_refused(audit):
    with pytest.raises(InvalidInput):
        audit.page(1, 501)


def test_erasing_old_entries_leaves_a_checkpoint_and_the_rest_verifies(
    audit, clock, sealer, anchors
):
    fill(audit, 4)
    clock.advance(timedelta(days=10))
    fill(audit, 3)

    erased = audit.erase_before(START + timedelta(days=1), sealer, anchors=anchors)

    result = audit.verify(sealer)
    assert erased == 4
    assert result.ok
    assert result.checkpoint_seq == 4
    assert result.first_seq == 5


def test_a_forged_checkpoint_is_detected(audit, clock, sealer, anchors):
    fill(audit, 4)
    clock.advance(timedelta(days=10))
    fill(audit, 3)
    audit.erase_before(START + timedelta(days=1), sealer, anchors=anchors)
    checkpoint = audit.store.saved_checkpoint
    assert checkpoint is not None
    # Someone deletes entry 5 too and moves the checkpoint past it without the key
    del audit.store.entries[5]
    audit.store.saved_checkpoint = checkpoint.model_copy(
        update={"through_seq": 5, "digest": "f" * 64}
    )

    result = audit.verify(sealer)

    assert not result.ok
    assert "seal" in (result.problem or "")


def test_an_erasure_interrupted_after_its_checkpoint_is_finished_by_the_next(
    audit, clock, sealer, anchors
):
    fill(audit, 4)
    clock.advance(timedelta(days=10))
    fill(audit, 3)
    real_delete = audit.store.delete

    def failing_delete(seqs: object) -> None:
        raise DependencyUnavailable("throttled")

    audit.store.delete = failing_delete
    with pytest.raises(DependencyUnavailable):
        audit.erase_before(START + timedelta(days=1), sealer, anchors=anchors)
    verified_meanwhile = audit.verify(sealer).ok
    audit.store.delete = real_delete

    audit.erase_before(START + timedelta(days=1), sealer, anchors=anchors)

    assert verified_meanwhile
    assert min(audit.store.entries) == 5


def rewrite_consistently(audit: InMemoryAuditLog, seq: int, **changes: object) -> None:
    """Edit entry ``seq`` and recompute every later link, as someone who can write the table
    (and knows the format) would: the chain itself still verifies."""
    entries = audit.store.entries
    previous = entries[seq].prev_digest
    for number in sorted(n for n in entries if n >= seq):
        update = {"prev_digest": previous, **(changes if number == seq else {})}
        entries[number] = entries[number].model_copy(update=update)
        previous = entries[number].digest


def test_a_consistent_rewrite_verifies_as_a_chain_but_contradicts_its_anchor(
    audit, clock, sealer, anchors
):
    # Given a chain whose head (entry 3) was anchored, and two entries after it
    fill(audit, 3)
    anchoring = AuditAnchoring(audit, anchors, clock)
    anchored = anchoring.anchor_head()
    fill(audit, 2)

    # When entry 2 is rewritten and every later digest recomputed
    rewrite_consistently(audit, 2, targets=("ind_forged",))

    # Then the chain alone verifies, and against the anchors it fails at entry 3, naming it
    assert (anchored.seq, anchored.written) == (3, True)
    assert audit.verify(sealer).ok
    result = audit.verify(sealer, anchors.all())
    assert not result.ok
    assert result.broken_at == 3
    assert "anchors/00000000000000000003-" in (result.problem or "")
    assert "rewritten after that anchor was written" in (result.problem or "")


def test_an_untouched_chain_verifies_against_every_anchor(audit, clock, sealer, anchors):
    anchoring = AuditAnchoring(audit, anchors, clock)
    for _ in range(3):
        fill(audit, 2)
        anchoring.anchor_head()
    again = anchoring.anchor_head()  # the head has not moved: nothing new is written

    result = audit.verify(sealer, anchors.all())

    assert result.ok
    assert (result.anchors_checked, result.latest_anchor_seq) == (3, 6)
    assert again.written is False


def test_removing_entries_from_the_end_is_caught_by_a_later_anchor(audit, clock, sealer, anchors):
    # The one edit a hash chain cannot see by itself: its newest entries deleted.
    fill(audit, 5)
    AuditAnchoring(audit, anchors, clock).anchor_head()
    del audit.store.entries[5]
    del audit.store.entries[4]

    result = audit.verify(sealer, anchors.all())

    assert audit.verify(sealer).ok
    assert not result.ok
    assert "records entry 5, but the chain ends at entry 3" in (result.problem or "")


def test_erasure_anchors_its_checkpoint_and_the_head_before_deleting(audit, clock, sealer, anchors):
    fill(audit, 4)
    clock.advance(timedelta(days=10))
    fill(audit, 3)
    audit.store.delete = _refuse

    with pytest.raises(DependencyUnavailable):
        audit.erase_before(START + timedelta(days=1), sealer, anchors=anchors)

    assert sorted(anchors.kinds.values()) == [AnchorKind.CHECKPOINT, AnchorKind.HEAD]
    assert [a.seq for a in anchors.all()] == [4, 7]
    assert len(audit.store.entries) == 7  # nothing deleted yet, both anchors already written


def test_a_chain_rewritten_before_its_erasure_contradicts_the_checkpoint_anchor(
    audit, clock, sealer, anchors
):
    # Given entries anchored, then rewritten consistently, then erased behind a checkpoint
    fill(audit, 4)
    AuditAnchoring(audit, anchors, clock).anchor_head()
    clock.advance(timedelta(days=10))
    fill(audit, 3)
    rewrite_consistently(audit, 2, actor="someone-else")
    audit.erase_before(START + timedelta(days=1), sealer, anchors=anchors)

    result = audit.verify(sealer, anchors.all())

    assert not result.ok
    assert "the chain was rewritten before it was erased" in (result.problem or "")


def _refuse(seqs: object) -> None:
    raise DependencyUnavailable("throttled")


# -- services record their changes ---------------------------------------------------------------


def test_curation_records_additions_status_changes_and_reads(audit, clock):
    service = curation_service(InMemoryIndicatorStore(), clock, audit=audit)
    result = service.add_batch(
        [submission(pdq_hex(1)), submission(pdq_hex(2))], submitted_by=CURATOR
    )
    first = result.items[0].indicator
    assert first is not None

    service.read(first.id, by=CURATOR)
    service.suspend(first.id, reason="check", by=CURATOR)
    service.reinstate(first.id, by=CURATOR)
    service.revoke(first.id, reason="withdrawn", by=CURATOR)

    assert audit.actions() == [
        "indicators.added",
        "indicator.read",
        "indicator.suspended",
        "indicator.reinstated",
        "indicator.revoked",
    ]
    assert len(audit.store.entries[1].targets) == 2  # one entry per batch


def test_an_unchanged_re_import_records_nothing(audit, clock):
    service = curation_service(InMemoryIndicatorStore(), clock, audit=audit)
    service.add_batch([submission(pdq_hex(1))], submitted_by=CURATOR)

    service.add_batch([submission(pdq_hex(1))], submitted_by=CURATOR)

    assert audit.actions() == ["indicators.added"]


def test_creating_and_revoking_a_client_is_recorded(audit, clock):
    service = ClientService(
        InMemoryClientStore(), clock, audit, organisations=InMemoryOrganisationStore()
    )
    created = service.create(
        role=Role.AUDITOR,
        organisation_id=in_new_organisation(service, "EU Centre"),
        purpose="audit",
        legal_basis="Art. 46",
        valid_for=timedelta(days=30),
    )

    service.revoke(created.client.client_id)

    assert audit.actions() == ["organisation.created", "client.created", "client.revoked"]
    assert audit.store.entries[2].targets == (created.client.client_id,)

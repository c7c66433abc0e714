"""Curation: adding with provenance, duplicates, per-item faults, import, status changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hashmatch.clock import FixedClock
from hashmatch.errors import Conflict, InvalidInput, NotFound
from hashmatch.indicators.model import Indicator, IndicatorStatus, indicator_id
from hashmatch.indicators.service import CuratorScope, IndicatorService, ItemOutcome, ItemResult
from tests.factories import CURATOR, pdq_hex, submission
from tests.fakes import InMemoryIndicatorStore, curation_service

START = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def store() -> InMemoryIndicatorStore:
    return InMemoryIndicatorStore()


@pytest.fixture
def service(store: InMemoryIndicatorStore) -> IndicatorService:
    return curation_service(store, FixedClock(START))


def add_one(service: IndicatorService, item: dict) -> ItemResult:
    return service.add_batch([item], submitted_by=CURATOR).items[0]


def indicator_of(result: ItemResult) -> Indicator:
    assert result.indicator is not None
    return result.indicator


def test_a_new_hash_becomes_an_active_indicator_with_its_provenance(service):
    result = add_one(service, submission(pdq_hex(1)))

    assert result.outcome is ItemOutcome.CREATED
    assert indicator_of(result).status is IndicatorStatus.ACTIVE
    (provenance,) = indicator_of(result).provenance
    assert (provenance.member_state, provenance.submitted_by) == ("DE", CURATOR)


def test_the_id_is_derived_from_type_value_and_database(service):
    value = pdq_hex(2)

    result = add_one(service, submission(value.upper()))

    assert indicator_of(result).id == indicator_id("pdq", value, "known")


def test_adding_a_hash_already_there_returns_it_and_appends_the_provenance(service, store):
    first = add_one(service, submission(pdq_hex(3), reference="A-1"))

    second = add_one(service, submission(pdq_hex(3), reference="B-2"))

    assert second.outcome is ItemOutcome.EXISTING
    assert indicator_of(second).id == indicator_of(first).id
    assert len(store.items) == 1
    refs = [p.assessment_reference for p in store.items[indicator_of(first).id].provenance]
    assert refs == ["A-1", "B-2"]


def test_the_same_hash_in_another_database_is_another_indicator(service, store):
    add_one(service, submission(pdq_hex(4), database="known"))

    result = add_one(service, submission(pdq_hex(4), database="new"))

    assert result.outcome is ItemOutcome.CREATED
    assert len(store.items) == 2


def test_resending_a_batch_changes_nothing(service, store):
    batch = [submission(pdq_hex(i)) for i in range(5)]
    service.add_batch(batch, submitted_by=CURATOR)
    writes = store.writes

    again = service.add_batch(batch, submitted_by=CURATOR)

    assert [r.outcome for r in again.items] == [ItemOutcome.EXISTING] * 5
    assert not any(r.provenance_added for r in again.items)
    assert store.writes == writes


def test_a_concurrent_create_of_the_same_hash_joins_the_winner(service, store):
    value = pdq_hex(5)
    original_create = store.create

    def create_lost_to_a_concurrent_add(indicator):
        # Another curator's add lands between our read and our conditional create.
        store.create = original_create
        winner = indicator.model_copy(update={"provenance": ()})
        original_create(winner)
        original_create(indicator)  # raises Conflict, as the conditional write would

    store.create = create_lost_to_a_concurrent_add

    result = add_one(service, submission(value))

    assert result.outcome is ItemOutcome.EXISTING
    assert len(store.items) == 1
    assert len(store.items[indicator_of(result).id].provenance) == 1


def test_bad_items_are_reported_with_index_and_field_and_good_ones_stored(service, store):
    items = [
        submission(pdq_hex(6)),
        submission("zz" * 32),
        submission(pdq_hex(7)[:-2]),
        submission(pdq_hex(8), database="unknown-db"),
        submission(pdq_hex(9), media_type="audio"),
    ]

    result = service.add_batch(items, submitted_by=CURATOR)

    outcomes = [r.outcome for r in result.items]
    assert outcomes == [ItemOutcome.CREATED] + [ItemOutcome.INVALID] * 4
    locs = [fault["loc"] for fault in result.faults()]
    assert locs == [
        ["items", 1, "hash"],
        ["items", 2, "hash"],
        ["items", 3, "database"],
        ["items", 4, "media_type"],
    ]
    assert len(store.items) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"provenance": {"member_state": "CH"}}, "member_state"),
        ({"hash_type": "sha512"}, "hash_type"),
        ({"quality": 20}, "quality"),
    ],
)
def test_invalid_fields_are_named(service, change, field):
    item = submission(pdq_hex(10))
    if "provenance" in change:
        item["provenance"].update(change["provenance"])
    else:
        item.update(change)

    result = add_one(service, item)

    assert result.outcome is ItemOutcome.INVALID
    assert result.errors[0]["loc"][-1] == field


def test_greece_may_be_written_el_and_is_stored_as_gr(service):
    item = submission(pdq_hex(11))
    item["provenance"]["member_state"] = "EL"

    result = add_one(service, item)

    assert indicator_of(result).provenance[0].member_state == "GR"


def test_an_empty_batch_is_refused(service):
    with pytest.raises(InvalidInput):
        service.add_batch([], submitted_by=CURATOR)


CSV_HEADER = (
    "hash_type,hash,database,media_type,authority,member_state,assessment_reference,assessed_at\n"
)


def csv_body(*values: str) -> str:
    rows = "".join(
        f"pdq,{v},known,image,Politie,NL,NL-{i},2026-02-01T00:00:00Z\n"
        for i, v in enumerate(values)
    )
    return CSV_HEADER + rows


def test_an_import_reports_bad_rows_by_line_and_stores_the_rest(service, store):
    body = csv_body(pdq_hex(20), "not-hex", pdq_hex(21))

    result = service.import_rows(body, "text/csv", submitted_by=CURATOR)

    assert [r.outcome for r in result.items] == [
        ItemOutcome.CREATED,
        ItemOutcome.INVALID,
        ItemOutcome.CREATED,
    ]
    assert result.items[1].errors[0]["loc"] == ["line", 3, "hash"]
    assert len(store.items) == 2


def test_rerunning_an_import_changes_nothing(service, store):
    body = csv_body(pdq_hex(22), pdq_hex(23))
    service.import_rows(body, "text/csv", submitted_by=CURATOR)
    before = dict(store.items)

    again = service.import_rows(body, "text/csv; charset=utf-8", submitted_by=CURATOR)

    assert {r.outcome for r in again.items} == {ItemOutcome.EXISTING}
    assert store.items == before


def test_a_json_lines_import_reads_one_submission_per_line(service, store):
    import json

    body = "\n".join(json.dumps(submission(pdq_hex(30 + i))) for i in range(3)) + "\n\n{oops\n"

    result = service.import_rows(body, "application/jsonl", submitted_by=CURATOR)

    assert result.count(ItemOutcome.CREATED) == 3
    assert result.items[-1].errors[0]["loc"] == ["line", 5]


def test_an_import_of_another_content_type_is_refused(service):
    with pytest.raises(InvalidInput):
        service.import_rows("x", "application/xml", submitted_by=CURATOR)


def test_a_csv_without_the_required_columns_is_refused(service):
    with pytest.raises(InvalidInput):
        service.import_rows("hash\nabc\n", "text/csv", submitted_by=CURATOR)


@pytest.fixture
def indicator(service):
    return indicator_of(add_one(service, submission(pdq_hex(40))))


def test_revoking_records_reason_time_and_curator(service, indicator):
    revoked = service.revoke(indicator.id, reason="court order 12/26", by=CURATOR)

    assert revoked.status is IndicatorStatus.REVOKED
    assert (revoked.status_reason, revoked.status_changed_by) == ("court order 12/26", CURATOR)
    assert revoked.status_changed_at == START


def test_revoking_twice_returns_the_revoked_indicator(service, indicator):
    service.revoke(indicator.id, reason="r", by=CURATOR)

    again = service.revoke(indicator.id, reason="other", by=CURATOR)

    assert again.status_reason == "r"


def test_a_revoked_indicator_cannot_be_suspended_or_reinstated(service, indicator):
    service.revoke(indicator.id, reason="r", by=CURATOR)

    with pytest.raises(Conflict):
        service.suspend(indicator.id, reason="s", by=CURATOR)
    with pytest.raises(Conflict):
        service.reinstate(indicator.id, by=CURATOR)


def test_a_suspended_indicator_can_be_reinstated(service, indicator):
    service.suspend(indicator.id, reason="re-verification", by=CURATOR)

    reinstated = service.reinstate(indicator.id, by=CURATOR)

    assert reinstated.status is IndicatorStatus.ACTIVE
    assert reinstated.status_reason is None


def test_a_suspended_indicator_can_be_revoked(service, indicator):
    service.suspend(indicator.id, reason="s", by=CURATOR)

    assert service.revoke(indicator.id, reason="r", by=CURATOR).status is IndicatorStatus.REVOKED


def test_adding_a_revoked_hash_again_does_not_reactivate_it(service, indicator):
    service.revoke(indicator.id, reason="r", by=CURATOR)

    result = add_one(service, submission(indicator.hash_value, reference="later"))

    assert result.outcome is ItemOutcome.EXISTING
    assert indicator_of(result).status is IndicatorStatus.REVOKED


@pytest.mark.parametrize("unknown", ["ind_" + "0" * 22, "nonsense", ""])
def test_an_unknown_id_is_not_found(service, unknown):
    with pytest.raises(NotFound):
        service.revoke(unknown, reason="r", by=CURATOR)


# -- curator scopes (issue 11, item 11) ---------------------------------------------------------

KNOWN_PDQ_ONLY = CuratorScope(frozenset({"known"}), frozenset({"pdq"}))


@pytest.mark.parametrize(
    "item",
    [submission(pdq_hex(60), database="new"), submission("0" * 31 + "1", hash_type="md5")],
)
def test_a_curator_adds_only_within_its_databases_and_hash_types(service, store, item):
    result = service.add_batch([item], submitted_by=CURATOR, scope=KNOWN_PDQ_ONLY)

    (outcome,) = result.items
    assert outcome.outcome is ItemOutcome.INVALID
    assert outcome.errors[0]["msg"].startswith("not-allowed")
    assert store.get_many([indicator_id(item["hash_type"], item["hash"], item["database"])]) == {}


def test_a_curator_neither_reads_nor_revokes_outside_its_scope(service):
    outside = indicator_of(add_one(service, submission(pdq_hex(61), database="new")))

    with pytest.raises(NotFound):
        service.read(outside.id, by=CURATOR, scope=KNOWN_PDQ_ONLY)
    with pytest.raises(NotFound):
        service.revoke(outside.id, reason="court order", by=CURATOR, scope=KNOWN_PDQ_ONLY)
    with pytest.raises(NotFound):
        service.suspend(outside.id, reason="review", by=CURATOR, scope=KNOWN_PDQ_ONLY)
    assert service.get(outside.id).status is IndicatorStatus.ACTIVE


def test_within_its_scope_a_curator_reads_and_revokes(service):
    inside = indicator_of(add_one(service, submission(pdq_hex(62))))

    assert service.read(inside.id, by=CURATOR, scope=KNOWN_PDQ_ONLY).id == inside.id
    revoked = service.revoke(inside.id, reason="court order", by=CURATOR, scope=KNOWN_PDQ_ONLY)
    assert revoked.status is IndicatorStatus.REVOKED


# -- the PDQ quality gate on indicators (issue 11, item 9) --------------------------------------


def test_an_all_zero_pdq_hash_is_refused_without_an_override(service):
    result = add_one(service, submission("0" * 64))

    assert result.outcome is ItemOutcome.INVALID
    assert result.errors[0]["loc"] == ["items", 0, "hash"]


def test_a_pdq_hash_below_the_quality_gate_is_refused_without_an_override(service):
    result = add_one(service, submission(pdq_hex(63), quality=30))

    assert result.outcome is ItemOutcome.INVALID
    assert result.errors[0]["loc"] == ["items", 0, "quality"]
    assert "quality_override" in result.errors[0]["msg"]


@pytest.mark.parametrize("item", [submission("0" * 64), submission(pdq_hex(64), quality=30)])
def test_an_override_accepts_it_and_is_kept_with_the_provenance(service, item):
    reason = "assessed material is a flat graphic; checked by hand"

    result = add_one(service, {**item, "quality_override": reason})

    assert result.outcome is ItemOutcome.CREATED
    assert indicator_of(result).provenance[0].quality_override == reason

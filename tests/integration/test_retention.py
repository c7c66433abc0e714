"""Retention and audit in-process on the template's own stores (moto): erase_expired's handler
erases what is due through the due-date indexes, honours a legal hold placed through the API,
writes its receipt into the audit log, and the chain verifies through the real adapter and KMS.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.erase_expired import app as erase_expired
from functions.manage_legal_holds import app as manage_legal_holds
from functions.publish_statistics import app as publish_statistics
from hashmatch import bootstrap
from hashmatch.access.model import Role
from hashmatch.adapters.aws import dynamodb_client
from hashmatch.adapters.dynamodb_audit import DynamoDBAuditStore
from hashmatch.audit.chain import ChainedAuditLog
from hashmatch.clock import CLOCK_OFFSET_VARIABLE, SystemClock
from hashmatch.errors import Conflict
from hashmatch.reports.review_requests import UnfoundedDecision
from tests.factories import CURATOR, a_filing, a_match_event, a_principal, pdq_hex, submission
from tests.integration.conftest import Deployment, api_event

PROVIDER = a_principal("a", Role.PROVIDER, "Example Hosting SA")
REVIEWER = a_principal("e", Role.REVIEWER, "EU Centre")
AUDITOR = a_principal("f", Role.AUDITOR, "EU Centre")
DAY = 86_400


@pytest.fixture(autouse=True)
def clock_at_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start from the real time (an earlier test may have left a clock offset behind)."""
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, "0")


def match_event() -> str:
    now = datetime.now(UTC)
    event = a_match_event(PROVIDER, now)
    bootstrap.match_event_store().put_many([event])
    return event.match_id


def unfounded_report() -> tuple[str, str]:
    match_id = match_event()
    now = datetime.now(UTC)
    filing = a_filing(PROVIDER, now, (match_id,))
    bootstrap.report_intake().take_in(filing)
    decision = UnfoundedDecision(outcome="manifestly_unfounded", reasons=("outside_scope",))
    bootstrap.review_service().decide(REVIEWER, filing.report_id, decision)
    return filing.report_id, match_id


def run_erasure(lambda_context: Any) -> dict[str, object]:
    result: dict[str, object] = erase_expired.lambda_handler({}, lambda_context)
    return result


def test_erase_expired_erases_what_is_due_and_skips_what_is_held(
    deployment: Deployment, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given data of several classes, a legal hold on one match event, and a first run today
    report_id, cited_id = unfounded_report()
    plain_id, held_id = match_event(), match_event()
    added = bootstrap.indicator_service().add_batch([submission(pdq_hex(11))], submitted_by=CURATOR)
    indicator = added.items[0].indicator
    assert indicator is not None
    bootstrap.indicator_service().revoke(indicator.id, reason="withdrawn", by=CURATOR)
    until = (datetime.now(UTC) + timedelta(days=200)).isoformat()
    hold = manage_legal_holds.lambda_handler(
        api_event(
            "POST",
            "/v1/legal-holds",
            principal=REVIEWER.to_context(),
            body=json.dumps(
                {
                    "target_class": "match_event",
                    "target_id": held_id,
                    "authority": "Parquet de Paris",
                    "reference": "PR-2027-118",
                    "until": until,
                }
            ),
        ),
        lambda_context,
    )
    assert hold["statusCode"] == 201, hold["body"]
    run_erasure(lambda_context)

    # When the clock passes every due date but the hold's end, and erase_expired runs
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, str(91 * DAY))
    outcome = run_erasure(lambda_context)

    # Then what was due is gone (with the report's match event), the held event stays
    events = bootstrap.match_event_store().get_many([cited_id, plain_id, held_id])
    assert outcome["finished"] is True
    assert outcome["counts"] == {
        "match_events": 2,
        "reports": 1,
        "indicator_provenance": 1,
        "audit_entries": 0,
    }  # no year's statistics are due: none was published
    assert outcome["skipped_on_hold"] == 1
    assert set(events) == {held_id}
    assert bootstrap.report_store().get(report_id) is None
    tombstone = bootstrap.indicator_store().get(indicator.id)
    assert tombstone is not None
    assert tombstone.provenance == ()
    verification = bootstrap.audit_log().verify(bootstrap.checkpoint_sealer())
    assert verification.ok, verification.problem


def test_the_audit_chain_through_dynamodb_names_an_edited_entry(
    deployment: Deployment, lambda_context: Any
) -> None:
    audit = bootstrap.audit_log()
    for number in range(4):
        audit.record("indicator.read", actor=CURATOR, role="curator", targets=[f"ind_{number}"])
    table = deployment.physical_id("AuditTable")

    dynamodb_client().update_item(
        TableName=table,
        Key={"chain": {"S": "entries"}, "seq": {"N": "2"}},
        UpdateExpression="SET actor = :someone",
        ExpressionAttributeValues={":someone": {"S": "cl_someone_else"}},
    )
    verification = audit.verify(bootstrap.checkpoint_sealer())

    assert not verification.ok
    assert verification.broken_at == 3
    page = publish_statistics.lambda_handler(
        api_event(
            "GET",
            "/v1/audit",
            principal=AUDITOR.to_context(),
            query={"from": "2", "limit": "2"},
        ),
        lambda_context,
    )
    body = json.loads(page["body"])
    assert [entry["seq"] for entry in body["entries"]] == [2, 3]
    assert body["next"] == 4


def test_old_entries_are_erased_behind_a_kms_sealed_checkpoint(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = bootstrap.audit_log()
    sealer = bootstrap.checkpoint_sealer()
    for number in range(3):
        audit.record("indicator.read", actor=CURATOR, role="curator", targets=[f"ind_{number}"])
    monkeypatch.setenv(CLOCK_OFFSET_VARIABLE, str(10 * DAY))
    audit.record("client.created", actor="operator", role="operator")

    erased = audit.erase_before(
        datetime.now(UTC) + timedelta(days=1), sealer, anchors=bootstrap.audit_anchors()
    )

    verification = audit.verify(sealer, bootstrap.audit_anchors().all())
    assert erased == 3
    assert verification.ok, verification.problem
    assert verification.checkpoint_seq == 3
    assert sealer.verify(b"forged", "AAAA") is False


def test_two_writers_on_the_real_table_never_fork_the_chain(deployment: Deployment) -> None:
    # Given two writers, the second holding a stale view of the head
    store = DynamoDBAuditStore(dynamodb_client(), deployment.physical_id("AuditTable"))
    first, second = ChainedAuditLog(store, SystemClock()), ChainedAuditLog(store, SystemClock())
    first.record("client.created", actor="operator", role="operator")
    stale = store.last()
    assert stale is not None
    first.record("client.revoked", actor="operator", role="operator")

    # When the second appends on the stale head, DynamoDB refuses the taken number
    with pytest.raises(Conflict):
        store.put_next(stale.model_copy(update={"seq": stale.seq + 1, "prev_digest": stale.digest}))
    entry = second.record("indicator.read", actor=CURATOR, role="curator")

    # Then its append is rebuilt on the real head, and the chain is one line
    assert entry.seq == 3
    assert first.verify(bootstrap.checkpoint_sealer()).ok

"""The audit chain anchored outside its table, in moto: the Object Lock bucket from the template,
anchor_audit's handler, and `hashmatch audit verify` catching a consistent rewrite of the table."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.anchor_audit import app as anchor_audit
from hashmatch import bootstrap
from hashmatch.adapters.aws import dynamodb_client, s3_client
from hashmatch.adapters.dynamodb_audit import _to_item
from hashmatch.audit.model import AuditEntry
from hashmatch_operators import audit_command
from tests.integration.conftest import Deployment

pytestmark = pytest.mark.usefixtures("deployment")


def record(count: int) -> None:
    for number in range(count):
        bootstrap.audit_log().record(
            "indicator.read", actor="cl_" + "c" * 24, role="curator", targets=[f"ind_{number}"]
        )


def rewrite_consistently(deployment: Deployment, seq: int, **changes: Any) -> None:
    """What someone allowed to PutItem on the audit table (and who knows the format) can do:
    edit one entry and write every later one again with recomputed links."""
    audit = bootstrap.audit_log()
    entries: list[AuditEntry] = list(audit.entries_from(seq))
    previous = entries[0].prev_digest
    for entry in entries:
        update = {"prev_digest": previous, **(changes if entry.seq == seq else {})}
        edited = entry.model_copy(update=update)
        dynamodb_client().put_item(
            TableName=deployment.physical_id("AuditTable"), Item=_to_item(edited)
        )
        previous = edited.digest


def verify_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `hashmatch audit verify` against these stores (the deployment is this process's)."""
    monkeypatch.setattr(audit_command, "use_deployment", lambda args: "in-process moto")
    code = audit_command.run_verify(argparse.Namespace(receipts=False, json=False))
    return code, capsys.readouterr().out


def test_a_consistent_rewrite_of_the_table_fails_verification_naming_the_anchor(
    deployment, lambda_context, capsys, monkeypatch
):
    # Given entries 1-4, the head anchored by the scheduled function, then two more entries
    record(4)
    anchored = anchor_audit.lambda_handler({}, lambda_context)
    record(2)

    # When entry 2 is rewritten in the table and every later entry's links recomputed
    rewrite_consistently(deployment, 2, actor="cl_" + "x" * 24)

    # Then the chain alone still verifies, but `hashmatch audit verify` fails at the anchor
    assert (anchored["seq"], anchored["written"]) == (4, True)
    assert bootstrap.audit_log().verify(bootstrap.checkpoint_sealer()).ok
    code, out = verify_command(capsys, monkeypatch)
    assert code == 1
    assert "chain BROKEN at entry 4" in out
    assert f"anchor anchors/{4:020d}-{anchored['digest']}" in out


def test_an_untouched_chain_verifies_against_its_anchors(lambda_context, capsys, monkeypatch):
    record(3)
    first = anchor_audit.lambda_handler({}, lambda_context)
    unchanged = anchor_audit.lambda_handler({}, lambda_context)
    record(1)
    anchor_audit.lambda_handler({}, lambda_context)

    code, out = verify_command(capsys, monkeypatch)

    assert (first["written"], unchanged["written"]) == (True, False)
    assert code == 0
    assert "2 anchor(s) agree, the latest at entry 4" in out


def test_an_anchor_cannot_be_deleted_or_overwritten_while_it_is_locked(deployment, lambda_context):
    record(1)
    anchor_audit.lambda_handler({}, lambda_context)
    bucket = deployment.physical_id("AuditAnchorBucket")
    (version,) = s3_client().list_object_versions(Bucket=bucket)["Versions"]

    with pytest.raises(ClientError) as refused:
        s3_client().delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    lock = s3_client().get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]

    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("COMPLIANCE", 1826)
    assert [a.seq for a in bootstrap.audit_anchors().all()] == [1]

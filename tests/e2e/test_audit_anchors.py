"""The audit chain's anchors on the local stack: the scheduled anchor_audit writes the head to the
template's Object Lock bucket, and `hashmatch audit verify` (the real command, reading the local
stack's state file) catches a consistent rewrite of the audit table, naming the anchor."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from hashmatch import bootstrap
from hashmatch.adapters.dynamodb_audit import _to_item
from hashmatch_client.cli.main import main as hashmatch
from hashmatch_devtools.localstack.stack import LocalStack


def put_entries(stack: LocalStack, entries: list[Any]) -> None:
    table = stack.resources["AuditTable"].physical_id
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint, region_name=stack.region)
    for entry in entries:
        dynamodb.put_item(TableName=table, Item=_to_item(entry))


def test_verify_names_the_anchor_a_consistent_rewrite_contradicts(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a few audit entries and the head anchored by the scheduled function
    audit = bootstrap.audit_log()
    for number in range(3):
        audit.record(
            "indicator.read", actor="cl_" + "e" * 24, role="curator", targets=[str(number)]
        )
    anchored = local_stack.run_schedule("AnchorAuditFunction")
    verify = ["audit", "verify", "--state-file", str(local_stack.state_file)]
    assert hashmatch(verify) == 0
    assert "anchor(s) agree" in capsys.readouterr().out

    # When the anchored entry is rewritten and its link recomputed (entries after it: none)
    head = audit.last()
    assert head is not None
    assert head.seq == anchored["seq"]
    original = [head]
    forged = head.model_copy(update={"targets": ("forged",)})
    try:
        put_entries(local_stack, [forged])
        status = hashmatch(verify)
        output = capsys.readouterr().out
    finally:
        put_entries(local_stack, original)  # later tests verify this chain too

    # Then verification fails at that entry and names the anchor object
    assert status == 1
    assert f"chain BROKEN at entry {anchored['seq']}" in output
    assert f"anchors/{anchored['seq']:020d}-{anchored['digest']}" in output

"""Retention on the local stack over HTTP: data of every class made through the API, the clock
moved to each due date up to 90 days, erase_expired run on demand, and the audit chain with its
receipts verified by `hashmatch audit verify` (a short version of `make retention-demo`)."""

from __future__ import annotations

import pytest

from hashmatch_client.cli.main import main as hashmatch
from hashmatch_devtools.localstack.stack import LocalStack
from hashmatch_devtools.retention_demo import SHORT_SCHEDULE, run_demo


def test_items_are_erased_as_the_clock_passes_their_due_dates_and_the_chain_verifies(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        outcomes = run_demo(local_stack, SHORT_SCHEDULE, out=lambda line: None)
        status = hashmatch(
            ["audit", "verify", "--receipts", "--state-file", str(local_stack.state_file)]
        )
    finally:
        local_stack.set_clock_offset(0)

    erased = [{k: n for k, n in outcome["counts"].items() if n} for outcome in outcomes]
    # day 0 (nothing), 29 (see below), 30 (the unfounded report and its match event), 89 (nothing),
    # 90 (the uncited match event, the revoked provenance, the forwarded report's outbound copy;
    # the held event skipped)
    # (day 29 also takes the probing sketches the demo's matches left, due a day after their
    # window: one per client and hour it matched in)
    assert erased[0] == erased[3] == {}
    assert set(erased[1]) == {"probing_sketches"}
    assert erased[2] == {"match_events": 1, "reports": 1}
    assert erased[4] == {"match_events": 1, "indicator_provenance": 1, "outbound_messages": 1}
    assert outcomes[4]["skipped_on_hold"] == 1
    output = capsys.readouterr().out
    assert status == 0
    assert output.count('"run_id"') == len(outcomes)  # one receipt per run
    assert "chain verified" in output

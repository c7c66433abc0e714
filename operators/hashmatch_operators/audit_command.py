"""`hashmatch audit verify`: recompute the audit log's hash chain and name the first broken link.

It reads the audit table directly (operator credentials, like `hashmatch clients`), not through
the API it audits: from the local stack's state file, or a deployed stack's Outputs
(--stack-name). The checkpoint's seal is checked with KMS (kms:Decrypt on the stack key), and
every anchor in the Object Lock bucket (s3:ListBucket) with the entry it names, so a table
rewritten consistently fails at the first anchor it contradicts.
"""

from __future__ import annotations

import argparse
import json
import sys

from hashmatch.errors import HashmatchError
from hashmatch_operators.deployment import (
    DeploymentNotFound,
    add_deployment_arguments,
    use_deployment,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="verify the hash-chained audit log")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify", help="recompute the chain (from its sealed checkpoint) and name any break"
    )
    verify.add_argument(
        "--receipts", action="store_true", help="also print every erasure receipt (JSON lines)"
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    add_deployment_arguments(verify)
    verify.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    """Exit 0: the chain verifies; 1: it is broken (named); 2: it could not be read."""
    try:
        description = use_deployment(args)
        print(f"using the {description}", file=sys.stderr)
        from hashmatch import bootstrap
        from hashmatch.audit.model import AuditAction

        audit = bootstrap.audit_log()
        if args.receipts:
            for entry in audit.entries_from(1):
                if entry.action == AuditAction.ERASURE_RECEIPT:
                    print(
                        json.dumps({"seq": entry.seq, "at": entry.at.isoformat(), **entry.details})
                    )
        result = audit.verify(bootstrap.checkpoint_sealer(), bootstrap.audit_anchors().all())
    except (DeploymentNotFound, HashmatchError) as error:
        print(f"hashmatch audit verify: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(result.model_dump_json())
    elif result.ok:
        start = f"checkpoint {result.checkpoint_seq}" if result.checkpoint_seq else "entry 1"
        print(
            f"chain verified: {result.entries_checked} entries from {start} to "
            f"{result.head_seq}; head digest {result.head_digest}; "
            f"{result.anchors_checked} anchor(s) agree"
            + (
                f", the latest at entry {result.latest_anchor_seq}"
                if result.anchors_checked
                else ""
            )
        )
    else:
        print(f"chain BROKEN at entry {result.broken_at}: {result.problem}")
    return 0 if result.ok else 1

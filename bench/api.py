"""Handler time of POST /v1/match: 1,000 PDQ hashes against 1M indicators, in-process on moto.

    .venv/bin/python -m bench.api                      # 1M indicators, 30 timed batches
    .venv/bin/python -m bench.api --indicators 200000 --repeats 10

The template's stores are created in an in-process moto from template.yaml; a snapshot of N
random PDQ indicators is written where build_index would write it, and the indicators that the
queries will match are also stored in the table (the matcher confirms every candidate there).
Each batch holds 1,000 PDQ hashes, a tenth of them near (<= 8 bits from) a stored indicator.

Printed side by side, in the same run: the index search alone, the matcher (search + confirming
candidates against DynamoDB), and the whole handler (parsing, validation, authorizer context,
match events and counters written, response serialised) — so the overhead is visible. Goal:
handler median under 100 ms for the batch. (moto's in-process DynamoDB stands in for the real
one, whose calls take a few ms each.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    REGION,
    Context,
    flip,
    numbered_ids,
    pdq_snapshot,
    timed,
    use_moto_environment,
)

ROOT = Path(__file__).resolve().parents[1]
BATCH = 1000
MATCHING_SHARE = 0.1
NEAR_BITS = 8
PROVIDER = {
    "client_id": "cl_" + "b" * 24,
    "role": "provider",
    "organisation_id": "org_" + "b" * 24,
    "owner": "Benchmark Hosting SA",
    "databases": "known",
    "hash_types": "pdq",
    "principalId": "cl_" + "b" * 24,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    use_moto_environment()
    from moto import mock_aws

    with mock_aws():
        run(args)


def run(args: argparse.Namespace) -> None:
    from functions.match_hashes import app as match_hashes
    from hashmatch import bootstrap
    from hashmatch.matching.matcher import HashQuery
    from hashmatch_devtools.localstack.inprocess import provision_in_process

    stores = provision_in_process(ROOT / "template.yaml", region=REGION, stack_name="bench")
    os.environ.update(stores.environment)
    rng = np.random.default_rng(args.seed)
    matching = int(BATCH * MATCHING_SHARE)

    print(f"building {args.indicators:,} PDQ indicators ...", flush=True)
    planted = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)) for _ in range(matching)]
    planted_ids = add_to_table(planted)
    started = time.perf_counter()
    snapshot = random_snapshot(args.indicators, planted, planted_ids, rng)
    data = snapshot.to_bytes()
    bootstrap.snapshot_store().write(data, replaces=None)
    print(
        f"snapshot: {len(data) / 2**20:.0f} MiB, {len(data) / args.indicators:.0f} bytes/hash, "
        f"built and written in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    queries = [flip(value, int(rng.integers(0, NEAR_BITS + 1)), rng) for value in planted]
    queries += [bytes(rng.integers(0, 256, 32, dtype=np.uint8)) for _ in range(BATCH - matching)]
    body = json.dumps(
        {"items": [{"type": "pdq", "value": q.hex(), "quality": 100} for q in queries]}
    )
    event = api_event(body)
    # The handler's context is duck-typed: Lambda's own is no LambdaContext instance either.
    context: Any = Context()
    hash_queries = [
        HashQuery.parse("pdq", q.hex(), databases=frozenset({"known"})) for q in queries
    ]

    started = time.perf_counter()
    first = match_hashes.lambda_handler(event, context)  # cold: loads the snapshot
    cold_ms = (time.perf_counter() - started) * 1000
    answer = json.loads(first["body"])
    matched = sum(1 for item in answer["items"] if item["matches"])
    assert first["statusCode"] == 200, first["body"]
    assert matched == matching, f"expected {matching} matched items, got {matched}"

    matcher = bootstrap.matcher()
    loaded = matcher._current()  # the snapshot the warm handler uses
    words = [bytes.fromhex(q.hex()) for q in queries]
    search = timed(lambda: loaded.search("pdq", words, [31] * BATCH, max_matches=100), args.repeats)
    confirm = timed(lambda: matcher.search(hash_queries), args.repeats)
    handler = timed(lambda: match_hashes.lambda_handler(event, context), args.repeats)

    print()
    print(
        f"POST /v1/match, {BATCH} PDQ hashes ({matching} near a stored indicator), "
        f"{args.indicators:,} indicators, radius 31, {args.repeats} runs each (ms)"
    )
    print()
    print("| stage | median | p99 | share of handler median |")
    print("| --- | ---: | ---: | ---: |")
    handler_median = statistics.median(handler)
    for name, times in (
        ("index search only", search),
        ("matcher (search + confirm in DynamoDB)", confirm),
        ("whole handler", handler),
    ):
        median = statistics.median(times)
        p99 = sorted(times)[max(0, round(0.99 * len(times)) - 1)]
        print(f"| {name} | {median:.1f} | {p99:.1f} | {median / handler_median:.2f} |")
    print()
    print(f"cold first call (loads the snapshot from S3): {cold_ms:.0f} ms")
    overhead = handler_median - statistics.median(confirm)
    print(
        f"handler overhead over the matcher: {overhead:.1f} ms per batch "
        f"({overhead / BATCH * 1000:.0f} us per hash)"
    )
    verdict = "meets" if handler_median < 100 else "misses"
    print(f"goal: handler median under 100 ms -> {verdict} ({handler_median:.1f} ms)")


def add_to_table(values: list[bytes]) -> list[str]:
    """Store the indicators the queries will match (the matcher confirms candidates there)."""
    from hashmatch import bootstrap

    items = [
        {
            "hash_type": "pdq",
            "hash": value.hex(),
            "database": "known",
            "media_type": "image",
            "provenance": {
                "authority": "Benchmark authority",
                "member_state": "DE",
                "assessment_reference": f"BENCH-{number}",
                "assessed_at": "2026-01-01T00:00:00Z",
            },
        }
        for number, value in enumerate(values)
    ]
    result = bootstrap.indicator_service().add_batch(items, submitted_by="cl_" + "c" * 24)
    ids = [item.indicator.id for item in result.items if item.indicator is not None]
    assert len(ids) == len(values)
    return ids


def random_snapshot(
    size: int, planted: list[bytes], planted_ids: list[str], rng: np.random.Generator
) -> Any:
    """N random PDQ indicators, the planted ones at random rows under their table ids."""
    raw = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
    positions = rng.choice(size, size=len(planted), replace=False)
    raw[positions] = np.frombuffer(b"".join(planted), dtype=np.uint8).reshape(-1, 32)
    ids = numbered_ids(size)
    ids[positions] = [value.encode() for value in planted_ids]
    return pdq_snapshot(raw, ids)


def api_event(body: str) -> dict[str, Any]:
    return {
        "resource": "/v1/match",
        "path": "/v1/match",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/v1/match",
            "httpMethod": "POST",
            "stage": "bench",
            "requestId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": PROVIDER,
        },
        "body": body,
        "isBase64Encoded": False,
    }


if __name__ == "__main__":
    main()

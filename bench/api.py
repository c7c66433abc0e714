"""Handler time of POST /v1/match: 1,000 PDQ hashes against 1M indicators, in-process on moto.

    .venv/bin/python -m bench.api                      # 1M indicators, 30 timed batches
    .venv/bin/python -m bench.api --indicators 200000 --repeats 10

The template's stores are created in an in-process moto from template.yaml; a snapshot of N
random PDQ indicators is written where build_index would write it, and the indicators that the
queries will match are also stored in the table (the matcher confirms every candidate there).
Each batch holds 1,000 PDQ hashes with their quality, a tenth of them near (<= 8 bits from) a
stored indicator.

Printed, in the same run:

- the handler split: CPU time of each stage of the warm handler (parsing and validation, the
  index search, decoding the hits, confirming them, match events, counters, building and
  serialising the response), each without the AWS round trips inside it. A round trip is the
  time moto spends answering a request (its ``before-send`` hook): in Lambda that is the
  network and DynamoDB's side; botocore's own work (serialising the request, parsing the
  answer) stays in the stage, as it would in Lambda. Goal (issue 16): the handler's CPU time
  without the DynamoDB round trips under 40 ms median.
- the AWS calls of one batch, by operation, for batches with the same matching items and more
  or fewer non-matching ones: they must not grow with the non-matching items.
- side by side, wall time of the index search alone, the matcher and the whole handler (moto's
  in-process DynamoDB stands in for the real one, whose calls take a few ms each).

CPU times are ``time.process_time`` (this process only), so other load on a shared machine
slows the wall times more than the CPU split. The objects made during setup (moto's stores hold
millions) are frozen out of the garbage collector before the timed runs (``--no-freeze``: not).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import statistics
import time
import uuid
from collections import Counter, defaultdict
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
QUALITY = 90  # PDQ items must state their quality (the gate is 50)
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
    parser.add_argument(
        "--no-freeze",
        dest="freeze",
        action="store_false",
        help="leave the setup's objects (moto's) to the garbage collector during the runs",
    )
    args = parser.parse_args()

    use_moto_environment()
    from moto import mock_aws

    with mock_aws():
        run(args)


class Split:
    """CPU and wall time per stage, with the AWS round trips inside each stage set apart.

    ``wrap(owner, name, stage)`` times every call of ``owner.name`` (inclusive); moto's
    ``before-send`` hook is timed as the round trip and counted per ``service.Operation``.
    """

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)  # inclusive, seconds
        self.aws_cpu: dict[str, float] = defaultdict(float)  # round trips inside the stage
        self.calls: Counter[str] = Counter()
        self._aws_cpu_total = 0.0
        self._restore: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, name: str, stage: str) -> None:
        original = getattr(owner, name)
        split = self

        @functools.wraps(original)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            cpu, aws = time.process_time(), split._aws_cpu_total
            try:
                return original(*args, **kwargs)
            finally:
                split.cpu[stage] += time.process_time() - cpu
                split.aws_cpu[stage] += split._aws_cpu_total - aws

        self._restore.append((owner, name, original))
        setattr(owner, name, timed_call)

    def wrap_round_trips(self) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.__call__
        split = self

        def round_trip(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            # event_name: "before-send.<service>.<Operation>"
            split.calls[event_name.split(".", 1)[1]] += 1
            cpu = time.process_time()
            try:
                return original(stubber, event_name, request, **kwargs)
            finally:
                split._aws_cpu_total += time.process_time() - cpu

        self._restore.append((BotocoreStubber, "__call__", original))
        setattr(BotocoreStubber, "__call__", round_trip)  # noqa: B010

    def reset(self) -> None:
        self.cpu.clear()
        self.aws_cpu.clear()
        self.calls.clear()

    def net(self, stage: str) -> float:
        """The stage's CPU seconds without the round trips inside it."""
        return self.cpu[stage] - self.aws_cpu[stage]

    def undo(self) -> None:
        for owner, name, original in reversed(self._restore):
            setattr(owner, name, original)
        self._restore.clear()


# Stages, outermost first; each is timed inclusive, and the table subtracts what the stages
# inside it took (the "own" time), so the rows add up to the handler.
STAGES = (
    ("handler", "whole handler"),
    ("service", "MatchService.match"),
    ("matcher", "Matcher.search"),
    ("snapshot", "Snapshot.search"),
    ("index", "index search (kernel)"),
    ("confirm", "confirm: IndicatorStore.active_ids"),
    ("events", "match events: MatchEventStore.put_many"),
    ("counters", "counters: Statistics.queries_answered"),
    ("response", "response: match_response_body"),
)
ACROSS = (
    ("botocore", "across the stores' stages: botocore's side of the AWS calls"),
    ("validation", "&nbsp;&nbsp;of which botocore's parameter validation"),
)
PARENT = {
    "service": "handler",
    "response": "handler",
    "matcher": "service",
    "events": "service",
    "counters": "service",
    "snapshot": "matcher",
    "confirm": "matcher",
    "index": "snapshot",
}
OWN_NAMES = {
    "handler": "resolver: event, JSON parsing, pydantic validation, serialising, logging",
    "service": "service: parsing hashes, quality gate, events and answers built",
    "matcher": "matcher: grouping, merging hits, filtering by confirmation",
    "snapshot": "decoding hits (ids, databases, media types)",
}


def instrument(split: Split) -> None:
    from botocore.client import BaseClient
    from botocore.validate import ParamValidator

    from functions.match_hashes import app as match_hashes
    from hashmatch import bootstrap
    from hashmatch.index.snapshot import Snapshot, TypeTable
    from hashmatch.matching.matcher import Matcher
    from hashmatch.matching.service import MatchService

    service = bootstrap.match_service()
    split.wrap(match_hashes.app, "resolve", "handler")
    split.wrap(MatchService, "match", "service")
    split.wrap(Matcher, "search", "matcher")
    split.wrap(Snapshot, "search", "snapshot")
    split.wrap(TypeTable, "search_rows", "index")
    split.wrap(bootstrap.indicator_store(), "active_ids", "confirm")
    split.wrap(service._events, "put_many", "events")
    split.wrap(service._statistics, "queries_answered", "counters")
    split.wrap(match_hashes, "match_response_body", "response")
    # Across stages: botocore's side of every AWS call, and its parameter validation.
    split.wrap(BaseClient, "_make_api_call", "botocore")
    split.wrap(ParamValidator, "validate", "validation")
    split.wrap_round_trips()


def run(args: argparse.Namespace) -> None:
    from functions.match_hashes import app as match_hashes
    from hashmatch import bootstrap
    from hashmatch.index.kernel import choose_kernel
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
    del snapshot, data

    near = [flip(value, int(rng.integers(0, NEAR_BITS + 1)), rng) for value in planted]
    far = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)) for _ in range(BATCH - matching)]
    queries = near + far
    event = api_event(request_body(queries))
    # The handler's context is duck-typed: Lambda's own is no LambdaContext instance either.
    context: Any = Context()
    hash_queries = [
        HashQuery.parse("pdq", q.hex(), databases=frozenset({"known"})) for q in queries
    ]

    started = time.perf_counter()
    first = handle(match_hashes.lambda_handler, event, context)  # cold: loads the snapshot
    cold_ms = (time.perf_counter() - started) * 1000
    check_answer(first, matching)

    matcher = bootstrap.matcher()
    loaded = matcher._current()  # the snapshot the warm handler uses
    words = [bytes.fromhex(q.hex()) for q in queries]

    if args.freeze:
        # moto keeps every store's items as Python objects (millions, with the snapshot's S3
        # copy): without this, the collector's full passes over them land in random handler
        # runs (p90 ~300 ms CPU). A Lambda process has no moto; its long-lived objects are the
        # modules and the index's few arrays.
        gc.collect()
        gc.freeze()
    split = Split()
    instrument(split)
    try:
        per_run: list[dict[str, float]] = []
        for _ in range(args.repeats):
            split.reset()
            check_answer(handle(match_hashes.lambda_handler, event, context), matching)
            per_run.append(
                {stage: split.net(stage) * 1000 for stage, _ in STAGES + ACROSS}
                | {"aws": sum(split.aws_cpu[s] for s in ("handler",)) * 1000}
            )
        calls = {}
        for name, batch, expect in (
            (f"{matching} matching + {BATCH - matching} not", queries, matching),
            (f"{matching} matching only", near, matching),
            (
                f"{matching} matching + {4 * (BATCH - matching) // 9} not",
                near + far[:400],
                matching,
            ),
            (f"{BATCH - matching} not matching only", far, 0),
        ):
            split.reset()
            check_answer(
                handle(match_hashes.lambda_handler, api_event(request_body(batch)), context),
                expect,
            )
            calls[name] = dict(split.calls)
    finally:
        split.undo()

    search = timed(lambda: loaded.search("pdq", words, [31] * BATCH, max_matches=100), args.repeats)
    confirm = timed(lambda: matcher.search(hash_queries), args.repeats)
    handler = timed(lambda: handle(match_hashes.lambda_handler, event, context), args.repeats)

    print()
    print(
        f"POST /v1/match, {BATCH} PDQ hashes ({matching} near a stored indicator), "
        f"{args.indicators:,} indicators, radius 31, kernel {choose_kernel(None)}, "
        f"{args.repeats} runs, setup objects {'frozen' if args.freeze else 'not frozen'}"
    )
    print()
    print("Handler split: CPU ms per batch without the AWS round trips (moto's side)")
    print()
    print("| stage | median | p90 | share of handler median |")
    print("| --- | ---: | ---: | ---: |")
    handler_cpu = statistics.median(run["handler"] for run in per_run)
    for stage, title in STAGES:
        print(row(title, [run[stage] for run in per_run], handler_cpu))
        if stage in OWN_NAMES:
            inner = [s for s, parent in PARENT.items() if parent == stage]
            own = [run[stage] - sum(run[s] for s in inner) for run in per_run]
            print(row(f"&nbsp;&nbsp;of which {OWN_NAMES[stage]}", own, handler_cpu))
    for stage, title in ACROSS:
        print(row(title, [run[stage] for run in per_run], handler_cpu))
    print(
        row(
            "AWS round trips (excluded above; moto in-process)",
            [r["aws"] for r in per_run],
            handler_cpu,
        )
    )
    print()
    verdict = "meets" if handler_cpu < 40 else "MISSES"
    print(
        f"goal: handler CPU without the DynamoDB round trips under 40 ms median -> {verdict} "
        f"({handler_cpu:.1f} ms)"
    )
    print()
    print("AWS calls per batch (service.Operation: count)")
    print()
    print("| batch | calls | by operation |")
    print("| --- | ---: | --- |")
    for name, counted in calls.items():
        detail = ", ".join(f"{op} {n}" for op, n in sorted(counted.items()))
        print(f"| {name} | {sum(counted.values())} | {detail} |")
    dynamo = {
        name: sum(n for op, n in c.items() if op.startswith("dynamodb."))
        for name, c in calls.items()
    }
    first_two = list(dynamo.values())[:3]
    print()
    print(
        "DynamoDB calls do not grow with non-matching items -> "
        + ("holds" if len(set(first_two)) == 1 else "DOES NOT HOLD")
        + f" ({', '.join(str(n) for n in first_two)})"
    )
    print()
    print("Wall time (ms; moto in-process stands in for DynamoDB)")
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


def row(title: str, times: list[float], handler_median: float) -> str:
    median = statistics.median(times)
    p90 = sorted(times)[max(0, round(0.9 * len(times)) - 1)]
    return f"| {title} | {median:.1f} | {p90:.1f} | {median / handler_median:.2f} |"


def request_body(queries: list[bytes]) -> str:
    items = [{"type": "pdq", "value": q.hex(), "quality": QUALITY} for q in queries]
    return json.dumps({"items": items})


def check_answer(response: dict[str, Any], matching: int) -> None:
    assert response["statusCode"] == 200, response["body"]
    answer = json.loads(response["body"])
    matched = sum(1 for item in answer["items"] if item["matches"])
    assert matched == matching, f"expected {matching} matched items, got {matched}"


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


def handle(handler: Any, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One invocation with a request id of its own, as API Gateway gives each request (the
    batch is counted once per id: the same id again would be a retry)."""
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    answer: dict[str, Any] = handler(event, context)
    return answer


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

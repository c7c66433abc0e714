"""Cold start: a new process loads the index snapshot from S3 (a moto server) and answers.

    .venv/bin/python -m bench.cold_start                      # 1M and 10M PDQ, both strategies
    .venv/bin/python -m bench.cold_start --sizes 1000000 --repeats 3

This process builds a PDQ snapshot per size (26-byte ids, as build_index writes them), starts
``moto.server.ThreadedMotoServer`` on 127.0.0.1 and uploads it. Then, for each strategy, it
starts a fresh Python process that imports boto3 and hashmatch.index, reads the object, verifies
its sha256, and answers one PDQ query; the wall time from spawning that process to its answer is
the cold start. The child also reports its phases (imports, read + verify, first search).

Strategies: ``stream`` (one GET, read in 16 MB pieces and hashed as they arrive:
``Snapshot.from_stream``) and ``ranged`` (parallel ranged GETs: ``Snapshot.from_ranges``).
moto answers every GET, ranged or not, by copying the whole object, so ranged reads cost
O(object) each there; on S3 they are independent (docs/matching.md, "Cold start").
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from statistics import median

BUCKET = "hashmatch-cold-start"


def child(endpoint: str, key: str, strategy: str, workers: int, query_hex: str) -> None:
    """The cold process: everything from here is what a Lambda init would do."""
    started = time.perf_counter()
    import boto3

    from hashmatch.index import Snapshot

    imported = time.perf_counter()
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-central-1")
    size = int(s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"])
    if strategy == "stream":
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
        snapshot = Snapshot.from_stream(body.read, size)
    else:

        def read(offset: int, length: int) -> bytes:
            ranged = f"bytes={offset}-{offset + length - 1}"
            data: bytes = s3.get_object(Bucket=BUCKET, Key=key, Range=ranged)["Body"].read()
            return data

        part = -(-size // workers)
        snapshot = Snapshot.from_ranges(read, size, range_bytes=part, workers=workers)
    loaded = time.perf_counter()
    (result,) = snapshot.search("pdq", [bytes.fromhex(query_hex)], 31)
    answered = time.perf_counter()
    assert len(result) >= 1
    print(
        json.dumps(
            {
                "imports": imported - started,
                "read_verify": loaded - imported,
                "first_search": answered - loaded,
                "bytes": size,
                "kernel": snapshot.tables["pdq"].index.kernel,  # type: ignore[union-attr]
            }
        ),
        flush=True,
    )


def build_blob(size: int) -> tuple[bytes, str]:
    """A PDQ-only snapshot of ``size`` uniform hashes and one stored hash to query."""
    import numpy as np

    from bench.common import numbered_ids, pdq_snapshot

    rng = np.random.default_rng(size)
    raw = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
    snapshot = pdq_snapshot(raw, numbered_ids(size))
    return snapshot.to_bytes(), raw[size // 2].tobytes().hex()


def run(args: argparse.Namespace) -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    # Keep objects in memory (moto spills objects above ~5 MB to temporary files by default).
    os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(8 * 2**30))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-central-1")
    s3.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    lines = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            blob, query_hex = build_blob(size)
            key = f"snapshot-{size}.bin"
            s3.put_object(Bucket=BUCKET, Key=key, Body=blob)
            megabytes = len(blob) / 1e6
            del blob
            for strategy in args.strategies.split(","):
                runs = [
                    cold_start(endpoint, key, strategy, args.workers, query_hex)
                    for _ in range(args.repeats)
                ]
                total = median(r["total"] for r in runs)
                phases = {
                    p: median(r[p] for r in runs) for p in runs[0] if p not in ("total", "kernel")
                }
                lines.append(
                    f"| {size:,} | {megabytes:,.0f} MB | {strategy} | {total:.2f} s | "
                    f"{phases['startup']:.2f} s | {phases['imports']:.2f} s | "
                    f"{phases['read_verify']:.2f} s | {phases['first_search'] * 1000:.0f} ms | "
                    f"{phases['cpu']:.2f} s | {runs[0]['kernel']} |"
                )
                print(lines[-1], flush=True)
            s3.delete_object(Bucket=BUCKET, Key=key)
    finally:
        server.stop()
    print()
    print(
        "| N | snapshot | strategy | new process -> first answer (median) | process start | "
        "imports | read + sha256 + load | first search | its CPU time | kernel |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for line in lines:
        print(line)


def cold_start(
    endpoint: str, key: str, strategy: str, workers: int, query_hex: str
) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "bench.cold_start",
        "--child",
        endpoint,
        key,
        strategy,
        str(workers),
        query_hex,
    ]
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-central-1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        line = process.stdout.readline()  # the answer: the clock stops here, not at exit
        total = time.perf_counter() - started
        process.stdout.read()
    if process.returncode:
        raise RuntimeError(f"the cold process failed ({process.returncode})")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(line)
    report["total"] = total
    # The cold process's own CPU time (user + sys, from its start to its exit, so a little more
    # than up to the answer): what it costs on a core of its own, whatever else the machine
    # runs (the S3 server's work is not in it).
    report["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report["startup"] = total - report["imports"] - report["read_verify"] - report["first_search"]
    return report


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--strategies", default="stream,ranged")
    parser.add_argument("--workers", type=int, default=8, help="parallel ranged GETs")
    parser.add_argument("--repeats", type=int, default=3)
    run(parser.parse_args())


if __name__ == "__main__":
    main()

"""`make run` keeps its data: `hashmatch serve --demo` as a real process, an indicator added and a
report filed over HTTP, the process stopped with Ctrl-C (SIGINT) and started again: the same
keys still work, the indicator and the report are there, and the audit chain (with its anchors)
still verifies. `--fresh` starts empty.

The stacks run in child processes (a local stack is one per process, and the e2e package's own
stack runs in this one), each with a private state directory and free ports.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.factories import pdq_hex, submission

ROOT = Path(__file__).resolve().parents[2]
HASHMATCH = Path(sys.executable).parent / "hashmatch"
START_TIMEOUT = 120
API_LINE = re.compile(r"^\s+API:\s+(http://\S+)")


@contextmanager
def serve(state_directory: Path, *extra: str) -> Iterator[tuple[str, dict[str, str]]]:
    """`hashmatch serve --demo` in a child process: yields its API URL and the demo keys."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "HASHMATCH"))
    }
    arguments = ["serve", "--demo", "--port", "0", "--no-schedules"]
    process = subprocess.Popen(
        [str(HASHMATCH), *arguments, "--state-directory", str(state_directory), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        api_url, keys = _wait_until_served(process)
        # Keep reading what it prints, or a full pipe would block it.
        for stream in (process.stdout, process.stderr):
            threading.Thread(target=stream.read, daemon=True).start()  # type: ignore[union-attr]
        yield api_url, keys
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C, as a developer stops `make run`
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0


def _wait_until_served(process: subprocess.Popen[str]) -> tuple[str, dict[str, str]]:
    assert process.stdout is not None
    assert process.stderr is not None
    deadline = time.monotonic() + START_TIMEOUT
    api_url = None
    for line in process.stdout:
        found = API_LINE.match(line)
        api_url = found.group(1) if found else api_url
        if "Press Ctrl-C to stop" in line or time.monotonic() > deadline:
            break
    assert api_url, "the local stack did not start"
    # The demo keys are printed to stderr as one JSON line (the request log goes there too).
    for line in process.stderr:
        if line.startswith("{") and '"provider"' in line:
            return api_url, json.loads(line)
        if time.monotonic() > deadline:
            break
    raise AssertionError("the local stack printed no demo keys")


def call(api_url: str, key: str, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method,
        api_url + path,
        headers={"Authorization": f"Bearer {key}"},
        json=body,
        timeout=60,
    )


def match(api_url: str, key: str, value: str) -> requests.Response:
    return call(
        api_url,
        key,
        "POST",
        "/v1/match",
        {"items": [{"type": "pdq", "value": value, "quality": 100}]},
    )


def report_stored(api_url: str, key: str, report_id: str) -> requests.Response:
    deadline = time.monotonic() + 30
    while True:  # intake takes the report from the queue within moments
        shown = call(api_url, key, "GET", f"/v1/reports/{report_id}")
        if shown.status_code == 200 or time.monotonic() > deadline:
            return shown
        time.sleep(0.5)


def test_an_indicator_and_a_report_survive_a_restart_and_fresh_starts_empty(tmp_path):
    value = pdq_hex(77)
    # Given a local stack where a curator added an indicator and a provider filed a report
    with serve(tmp_path) as (api_url, keys):
        added = call(
            api_url, keys["curator"], "POST", "/v1/indicators", {"items": [submission(value)]}
        )
        indicator_id = added.json()["items"][0]["id"]
        requests.post(f"{api_url}/_local/schedules/BuildIndexFunction", timeout=60)
        matched = match(api_url, keys["provider"], value)
        match_id = matched.json()["items"][0]["matches"][0]["match_id"]
        filed = call(
            api_url,
            keys["provider"],
            "POST",
            "/v1/reports",
            {
                "match_ids": [match_id],
                "content_ref": "upload-persist-1",
                "content_type": "image",
                "detected_at": "2026-01-02T03:04:05Z",
                "legal_basis": "Regulation (EU) 2021/1232",
            },
        )
        report_id = filed.json()["report_id"]
        first_read = report_stored(api_url, keys["provider"], report_id)

    # When the stack is stopped (above) and started again
    with serve(tmp_path) as (api_url, restored_keys):
        indicator = call(api_url, keys["curator"], "GET", f"/v1/indicators/{indicator_id}")
        report = call(api_url, keys["provider"], "GET", f"/v1/reports/{report_id}")
        rematched = match(api_url, keys["provider"], value)
        verified = subprocess.run(
            [str(HASHMATCH), "audit", "verify", "--state-file", str(tmp_path / "state.json")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )

    # Then the same keys work and both are there, and the chain still verifies
    assert (added.status_code, matched.status_code, filed.status_code) == (200, 200, 202)
    assert first_read.status_code == 200
    assert restored_keys == keys
    assert indicator.status_code == 200
    assert indicator.json()["id"] == indicator_id
    assert report.status_code == 200
    assert report.json()["status"] == "stored"
    assert rematched.json()["items"][0]["status"] == "matched"
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # And a fresh start forgets it all: the old keys are unknown
    with serve(tmp_path, "--fresh") as (api_url, fresh_keys):
        forgotten = call(api_url, keys["curator"], "GET", f"/v1/indicators/{indicator_id}")
    assert fresh_keys != keys
    assert forgotten.status_code == 401

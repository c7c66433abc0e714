"""One HTTPS POST with timeouts and no hidden retries (the callers retry with backoff and
record each attempt). A failure is a DeliveryFailed naming what went wrong, never the body."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3

from hashmatch.reports.outbound import DeliveryFailed

# Connect within 3 s, answer within 10 s: a recipient slower than that is retried later.
TIMEOUT = urllib3.Timeout(connect=3.0, read=10.0)
_MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # decoded JSON, or None


def http_pool() -> urllib3.PoolManager:
    """A pool that verifies TLS certificates (urllib3's default) and never retries itself."""
    return urllib3.PoolManager(retries=False, timeout=TIMEOUT)


def post(http: urllib3.PoolManager, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
    try:
        response = http.request(
            "POST",
            url,
            body=body,
            headers={"Content-Type": "application/json", **headers},
            preload_content=False,
            redirect=False,
        )
    except urllib3.exceptions.TimeoutError as error:
        raise DeliveryFailed("timed out") from error
    except urllib3.exceptions.HTTPError as error:
        raise DeliveryFailed(f"connection failed ({type(error).__name__})") from error
    try:
        raw = response.read(_MAX_ANSWER_BYTES)
    finally:
        response.release_conn()
    try:
        decoded = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        decoded = None
    return Answer(status=response.status, body=decoded)

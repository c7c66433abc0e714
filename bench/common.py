"""Helpers shared by the benchmarks."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

REGION = "eu-central-1"


class Context:
    """A Lambda context for handlers run in-process (they duck-type it, as Lambda's own)."""

    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:bench"
    memory_limit_in_mb = 2048
    aws_request_id = "bench"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def use_moto_environment(log_level: str = "WARNING") -> None:
    """Test credentials, the region and no endpoint: for moto in-process (``mock_aws``)."""
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": log_level,
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)


def timed(action: Callable[[], Any], repeats: int) -> list[float]:
    """Wall-clock milliseconds of each of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


def flip(value: bytes, bits: int, rng: np.random.Generator) -> bytes:
    """``value`` with ``bits`` distinct bits flipped: a near neighbour at exactly that distance."""
    array = bytearray(value)
    for bit in rng.choice(len(value) * 8, size=bits, replace=False):
        array[bit // 8] ^= 1 << (bit % 8)
    return bytes(array)


def pdq_snapshot(raw: np.ndarray, ids: np.ndarray) -> Any:
    """A version-1 snapshot holding only PDQ indicators: ``raw`` (n, 32) uint8 digests and
    their fixed-width ids, all in the `known` database and of media type `image` (code 0)."""
    from hashmatch.hashtypes import HASH_TYPES
    from hashmatch.index import Snapshot, TypeTable, encode_values
    from hashmatch.indicators.model import ID_WIDTH

    spec = HASH_TYPES["pdq"]
    size = len(raw)
    codes = np.zeros(size, dtype=np.uint8)
    table = TypeTable.build(spec, encode_values(spec, raw), ids, codes, codes.copy())
    return Snapshot(1, "bench", "2026-01-01T00:00:00Z", {"pdq": table}, id_width=ID_WIDTH)


def numbered_ids(size: int) -> np.ndarray:
    """Fixed-width indicator ids ind_000...0 to ind_<size-1>, as the snapshot stores them."""
    from hashmatch.indicators.model import ID_WIDTH

    return np.array([f"ind_{n:022x}".encode() for n in range(size)], dtype=f"S{ID_WIDTH}")

"""Helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


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

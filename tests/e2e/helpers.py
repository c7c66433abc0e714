"""What several e2e tests need: the shared photos (which are near duplicates of which), and
waiting for the local stack's background work (intake, deliveries) to show."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hashmatch_client.cli.main import main as hashmatch

SHARED_PHOTOS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "photos"


def shared_photos() -> tuple[list[str], set[frozenset[str]]]:
    """The plain photos' names, sorted, and the pairs that are near duplicates of each other."""
    if not SHARED_PHOTOS.is_dir():
        pytest.skip(f"shared photos not found at {SHARED_PHOTOS.resolve()}")
    with (SHARED_PHOTOS / "manifest.csv").open() as manifest:
        names = sorted(
            row["filename"]
            for row in csv.DictReader(manifest)
            if row["category"] == "photo" and not row["notes"]
        )
    with (SHARED_PHOTOS / "near_pairs.csv").open() as pairs:
        related = {frozenset((row["a"], row["b"])) for row in csv.DictReader(pairs)}
    return names, related


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    """Poll until ``condition`` is truthy and return its value; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def scan_and_report(
    endpoint: str, api_key: str, folder: Path, capsys: Any, *extra: str
) -> tuple[int, dict[str, Any]]:
    """`hashmatch scan FOLDER --report --json` as a provider: its exit status and summary."""
    capsys.readouterr()
    status = hashmatch(
        [
            "scan",
            str(folder),
            "--endpoint",
            endpoint,
            "--api-key",
            api_key,
            "--report",
            "--legal-basis",
            "Regulation (EU) 2021/1232",
            "--member-state",
            "DE",
            "--json",
            *extra,
        ]
    )
    # The handlers run in this process: their log and metric lines precede the document.
    printed = capsys.readouterr().out.splitlines()
    return status, json.loads("\n".join(printed[printed.index("{") :]))

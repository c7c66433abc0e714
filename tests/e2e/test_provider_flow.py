"""The provider's day over HTTP with the real client, on the local stack.

A curator adds indicators made from some of the shared photos (hashes only); a provider scans a
folder holding modified copies of those (re-encoded, resized, lightly cropped) and unrelated
photos; exactly the copies match; reports are filed; intake stores them; the provider reads
their status.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hashmatch import bootstrap
from hashmatch.access.model import Role
from hashmatch_client.cli.main import main as hashmatch_cli
from hashmatch_client.imaging import load_image
from hashmatch_client.sdk import HashmatchClient
from hashmatch_devtools.evaluation.transforms import apply_transformation
from hashmatch_devtools.localstack.stack import LocalStack
from tests.e2e.helpers import SHARED_PHOTOS, scan_and_report, shared_photos
from tests.factories import in_new_organisation

KNOWN_COUNT = 6
UNRELATED_COUNT = 6
MODIFICATIONS = ("jpeg_q70", "resize_0.5x", "light_crop")
# PDQ is crop-sensitive (docs/effectiveness.md): "lightly" means 1% of each side here.
LIGHT_CROP_PER_SIDE = 0.01


@pytest.fixture(scope="module")
def photos() -> tuple[list[Path], list[Path]]:
    names, related = shared_photos()
    known = names[:KNOWN_COUNT]
    unrelated = [
        name
        for name in names[KNOWN_COUNT:]
        if not any(frozenset((name, other)) in related for other in known)
    ][:UNRELATED_COUNT]
    return [SHARED_PHOTOS / n for n in known], [SHARED_PHOTOS / n for n in unrelated]


def key_for(role: Role) -> str:
    return (
        bootstrap.client_service()
        .create(
            role=role,
            organisation_id=in_new_organisation(bootstrap.client_service(), f"E2E {role.value}"),
            purpose="end-to-end test",
            legal_basis="test",
            valid_for=__import__("datetime").timedelta(days=1),
            databases=("known", "new", "solicitation"),
            hash_types=("pdq", "md5", "sha256"),
        )
        .api_key
    )


def add_indicators(endpoint: str, curator_key: str, paths: list[Path], reference: str) -> int:
    """`hashmatch indicators add` as a curator (with its default variants)."""
    return hashmatch_cli(
        [
            "indicators",
            "add",
            *map(str, paths),
            *("--database", "known", "--authority", "Bundeskriminalamt", "--member-state", "DE"),
            *("--assessment-reference", reference, "--assessed-at", "2026-11-01T10:00:00Z"),
            *("--endpoint", endpoint, "--api-key", curator_key),
        ]
    )


def modified_copies(known: list[Path], unrelated: list[Path], folder: Path) -> set[str]:
    folder.mkdir()
    copies = set()
    for number, original in enumerate(known):
        name = MODIFICATIONS[number % len(MODIFICATIONS)]
        image = load_image(original.read_bytes()).convert("RGB")
        if name == "light_crop":
            width, height = image.size
            dx, dy = round(width * LIGHT_CROP_PER_SIDE), round(height * LIGHT_CROP_PER_SIDE)
            image = image.crop((dx, dy, width - dx, height - dy))
        else:
            image = apply_transformation(image, name, seed=1, photo_key=original.name)
        target = folder / f"copy-{number}-{name}.png"
        image.save(target)
        copies.add(target.name)
    for original in unrelated:
        (folder / original.name).write_bytes(original.read_bytes())
    return copies


def test_exactly_the_modified_copies_match_and_their_reports_are_stored(
    local_stack: LocalStack, photos, tmp_path, capsys
):
    known, unrelated = photos
    endpoint = local_stack.api_url
    curator_key, provider_key = key_for(Role.CURATOR), key_for(Role.PROVIDER)

    added = add_indicators(endpoint, curator_key, known, "E2E-2026-1")
    assert added == 0
    local_stack.run_schedule("BuildIndexFunction")
    copies = modified_copies(known, unrelated, tmp_path / "uploads")

    status, summary = scan_and_report(endpoint, provider_key, tmp_path / "uploads", capsys)

    assert status == 1  # something matched
    matched = {Path(r["path"]).name for r in summary["results"] if r["matched"]}
    assert matched == copies
    report_ids = [r["report_id"] for r in summary["results"] if r["matched"]]
    assert len(report_ids) == KNOWN_COUNT
    # A provider learns how close each match is as a band, never the distance
    found = [m for r in summary["results"] for m in r.get("matches", [])]
    assert found
    assert {m["band"] for m in found} <= {"exact", "close", "near"}
    assert not any("distance" in m for m in found)

    provider = HashmatchClient(endpoint, provider_key)
    deadline = time.monotonic() + 60
    stored: dict[str, dict] = {}
    while time.monotonic() < deadline and len(stored) < len(report_ids):
        listing = provider.list_reports(status="stored")
        stored = {r["report_id"]: r for r in listing["reports"] if r["report_id"] in report_ids}
        time.sleep(0.2)
    assert set(stored) == set(report_ids)
    report = provider.get_report(report_ids[0])
    assert [step["status"] for step in report["history"]] == ["received", "stored"]
    # A re-scan of the same files with --report files nothing again (issue 11, item 7): the key
    # derives from each file's SHA-256 and the indicators it matched, not from the new match ids
    again, rescan = scan_and_report(endpoint, provider_key, tmp_path / "uploads", capsys)
    assert again == 1
    rescanned = [r for r in rescan["results"] if r["matched"]]
    assert sorted(r["report_id"] for r in rescanned) == sorted(report_ids)
    assert all(r.get("already_reported") for r in rescanned)
    listing = provider.list_reports(status="stored", limit=100)["reports"]
    assert len([r for r in listing if r["report_id"] in report_ids]) == len(report_ids)
    # The re-scan's own match events were cited by no report: erase them now rather than leave
    # them to later tests on this stack (tests/e2e/test_retention.py counts what erasure finds).
    leftover = [m["match_id"] for r in rescanned for m in r["matches"]]
    events = bootstrap.match_event_store()
    far_future = datetime.now(UTC) + timedelta(days=3650)
    assert all(events.delete_uncited(match_id, far_future) for match_id in leftover)


def scan_only(endpoint: str, api_key: str, folder: Path, capsys, *extra: str) -> dict:
    """`hashmatch scan FOLDER --json` (no reports) as a provider: its summary."""
    import json

    capsys.readouterr()
    hashmatch_cli(
        ["scan", str(folder), "--endpoint", endpoint, "--api-key", api_key, "--json", *extra]
    )
    printed = capsys.readouterr().out.splitlines()
    return json.loads("\n".join(printed[printed.index("{") :]))


def test_cropped_and_turned_copies_match_through_variants_only_with_augmented_scans(
    local_stack: LocalStack, photos, tmp_path, capsys
):
    # Given indicators uploaded with their variants (the default of indicators add)
    known, unrelated = photos
    endpoint = local_stack.api_url
    curator_key, provider_key = key_for(Role.CURATOR), key_for(Role.PROVIDER)
    added = add_indicators(endpoint, curator_key, known, "E2E-2026-17")
    assert added == 0
    local_stack.run_schedule("BuildIndexFunction")
    # and a folder of 5%-cropped and 4-degree-turned copies beside unrelated photos
    folder = tmp_path / "hard"
    folder.mkdir()
    copies = set()
    for number, original in enumerate(known):
        name = ("crop_5%", "rotate_4")[number % 2]
        image = load_image(original.read_bytes())
        copy = apply_transformation(image, name, seed=3, photo_key=original.name)
        copy.save(folder / f"copy-{number}.png")
        copies.add(f"copy-{number}.png")
    for original in unrelated:
        (folder / original.name).write_bytes(original.read_bytes())

    # When the provider scans it as before, and with --augmented
    plain = scan_only(endpoint, provider_key, folder, capsys)
    augmented = scan_only(endpoint, provider_key, folder, capsys, "--augmented")

    # Then the augmented scan finds more of the copies, through the agreement rule, and no
    # unrelated photo matches either way
    def matched(summary: dict) -> set[str]:
        return {Path(r["path"]).name for r in summary["results"] if r["matched"]}

    assert matched(plain) <= copies
    assert matched(augmented) <= copies
    assert len(matched(augmented)) > len(matched(plain))
    by_rule = [
        m
        for r in augmented["results"]
        for m in r.get("matches", [])
        if m.get("agreement_threshold") is not None
    ]
    assert by_rule
    assert all(m["agreement_threshold"] == 36 for m in by_rule)
    # Nothing cited these match events: erase them rather than leave them to later tests
    events = bootstrap.match_event_store()
    far_future = datetime.now(UTC) + timedelta(days=3650)
    for summary in (plain, augmented):
        for result in summary["results"]:
            for match in result.get("matches", []):
                assert events.delete_uncited(match["match_id"], far_future)

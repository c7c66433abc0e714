"""The SDK's retries and errors, and `hashmatch indicators add|import` against a fake API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from hashmatch.clock import FixedClock
from hashmatch.errors import InvalidInput
from hashmatch.indicators.api import batch_response, batch_status
from hashmatch_client.cli import indicators_command
from hashmatch_client.cli.main import main
from hashmatch_client.sdk import ApiError, HashmatchClient
from tests.factories import CURATOR, pdq_hex, submission
from tests.fakes import InMemoryIndicatorStore, curation_service

# -- SDK ---------------------------------------------------------------------------------------


def response(status: int, body: Any = None, headers: dict[str, str] | None = None):
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode() if body is not None else b""
    answer.headers.update(headers or {})
    return answer


class ScriptedSession:
    """Answers requests from a script, recording what was sent."""

    def __init__(self, *answers: requests.Response) -> None:
        self.headers: dict[str, str] = {}
        self.answers = list(answers)
        self.sent: list[tuple[str, str]] = []
        self.sent_headers: list[dict[str, str]] = []

    def request(self, method: str, url: str, **options: Any) -> requests.Response:
        self.sent.append((method, url))
        self.sent_headers.append(dict(options.get("headers") or {}))
        return self.answers.pop(0)


def client_with(session: ScriptedSession, sleeps: list[float]) -> HashmatchClient:
    return HashmatchClient(
        "https://api.example/dev/",
        "hm_key",
        session=session,  # type: ignore[arg-type]
        sleep=sleeps.append,
        jitter=lambda low, high: high,
    )


def test_the_sdk_retries_429_honouring_retry_after():
    session = ScriptedSession(response(429, {}, {"Retry-After": "7"}), response(200, {"id": "x"}))
    sleeps: list[float] = []

    answer = client_with(session, sleeps).get_indicator("x")

    assert answer == {"id": "x"}
    assert sleeps == [7.0]
    assert session.sent[0] == ("GET", "https://api.example/dev/v1/indicators/x")


def test_a_retried_match_batch_carries_the_same_idempotency_key_and_the_next_a_new_one():
    session = ScriptedSession(
        response(503, {}), response(200, {"items": []}), response(200, {"items": []})
    )
    client = client_with(session, [])

    client.match([{"type": "pdq", "value": pdq_hex(1)}])
    client.match([{"type": "pdq", "value": pdq_hex(1)}])

    first, retry, second = (h["Idempotency-Key"] for h in session.sent_headers)
    assert first == retry  # the service counts the retried batch once
    assert second != first


def test_the_sdk_backs_off_exponentially_on_5xx_then_gives_up():
    session = ScriptedSession(*(response(503, {"detail": "busy"}) for _ in range(5)))
    sleeps: list[float] = []

    with pytest.raises(ApiError) as raised:
        client_with(session, sleeps).get_indicator("x")

    assert raised.value.status == 503
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_the_sdk_raises_a_client_error_at_once_with_its_problem():
    problem = {"type": "urn:hashmatch:problem:not-found", "detail": "no indicator", "errors": []}
    session = ScriptedSession(response(404, problem))
    sleeps: list[float] = []

    with pytest.raises(ApiError) as raised:
        client_with(session, sleeps).revoke_indicator("x", "r")

    assert (raised.value.status, raised.value.problem["detail"]) == (404, "no indicator")
    assert sleeps == []


def test_the_sdk_sends_the_key_as_a_bearer_token():
    session = ScriptedSession()

    client_with(session, [])

    assert session.headers["Authorization"] == "Bearer hm_key"


# -- CLI ---------------------------------------------------------------------------------------


class ServiceBackedClient:
    """The SDK's indicator methods answered by the real service over in-memory fakes."""

    def __init__(self) -> None:
        self.store = InMemoryIndicatorStore()
        self.service = curation_service(self.store, FixedClock(datetime(2026, 6, 1, tzinfo=UTC)))
        self.requests = 0

    def add_indicators(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        self.requests += 1
        return self._answer(self.service.add_batch(items, submitted_by=CURATOR), "index")

    def import_indicators(self, body: str, content_type: str) -> dict[str, Any]:
        self.requests += 1
        result = self.service.import_rows(body, content_type, submitted_by=CURATOR)
        return self._answer(result, "line")

    @staticmethod
    def _answer(result: Any, position: Any) -> dict[str, Any]:
        try:
            batch_status(result)
        except InvalidInput as error:
            raise ApiError(422, {"detail": error.detail, "errors": error.errors}) from error
        return batch_response(result, position=position).model_dump(mode="json")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> ServiceBackedClient:
    fake = ServiceBackedClient()
    monkeypatch.setattr(indicators_command, "client_of", lambda args: fake)
    monkeypatch.setattr(indicators_command, "ROWS_PER_REQUEST", 2)
    return fake


def write_csv(path: Path, hashes: list[str]) -> Path:
    header = "hash_type,hash,database,media_type,authority,member_state,assessment_reference,"
    lines = [header + "assessed_at"]
    lines += [
        f"pdq,{h},known,image,Politie,NL,NL-{i},2026-02-01T00:00:00Z" for i, h in enumerate(hashes)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_sends_parts_and_reports_bad_rows_by_their_file_line(api, tmp_path, capsys):
    source = write_csv(tmp_path / "list.csv", [pdq_hex(1), pdq_hex(2), "bad", pdq_hex(3), "x"])

    status = main(["indicators", "import", str(source), "--no-progress"])

    assert status == 1
    bad = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(row["line"], row["errors"][0]["loc"]) for row in bad] == [
        (4, ["line", 4, "hash"]),
        (6, ["line", 6, "hash"]),
    ]
    assert (api.requests, len(api.store.items)) == (3, 3)


def test_rerunning_an_import_changes_nothing(api, tmp_path, capsys):
    source = write_csv(tmp_path / "list.csv", [pdq_hex(4), pdq_hex(5), pdq_hex(6)])
    main(["indicators", "import", str(source), "--no-progress"])
    before = dict(api.store.items)

    status = main(["indicators", "import", str(source), "--no-progress"])

    assert status == 0
    assert api.store.items == before
    assert "created 0, already there 3, invalid 0" in capsys.readouterr().err


def test_a_json_lines_import_is_read_by_its_suffix(api, tmp_path):
    source = tmp_path / "list.jsonl"
    source.write_text("\n".join(json.dumps(submission(pdq_hex(10 + i))) for i in range(3)))

    status = main(["indicators", "import", str(source), "--no-progress"])

    assert (status, len(api.store.items)) == (0, 3)


ADD_FLAGS = [
    "--database",
    "known",
    "--authority",
    "Bundeskriminalamt",
    "--member-state",
    "DE",
    "--assessment-reference",
    "BKA-1",
    "--assessed-at",
    "2026-03-01T10:00:00Z",
]


def small_photos(shared_data: Path, *names: str) -> list[str]:
    # Small photos keep the test fast; what matters is the upload, not the hashing.
    paths = [shared_data / "photos" / name for name in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"shared photos missing: {missing}")
    return [str(p) for p in paths]


def test_add_hashes_files_locally_and_uploads_only_hashes(api, shared_data, capsys):
    photos = small_photos(
        shared_data, "hugin-data__300px-Lamp_enfuse.jpg", "stellarium__Vegetation_Bark_Birch1.jpg"
    )

    status = main(["indicators", "add", *photos, *ADD_FLAGS])

    assert status == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted((r["hash_type"], r["result"]) for r in results) == [
        ("md5", "created"),
        ("md5", "created"),
        ("pdq", "created"),
        ("pdq", "created"),
    ]
    stored = {i.hash_value for i in api.store.items.values()}
    assert {r["path"] for r in results} == set(photos)
    assert all(len(value) in (32, 64) for value in stored)


def test_add_refuses_the_pdq_hash_of_a_flat_image_as_low_quality(api, shared_data, capsys):
    (flat,) = small_photos(shared_data, "stellarium__Concrete_White.jpg")

    status = main(["indicators", "add", flat, *ADD_FLAGS])

    assert status == 1
    results = {r["hash_type"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert results["pdq"]["errors"][0]["loc"] == ["items", 0, "quality"]
    assert results["md5"]["result"] == "created"

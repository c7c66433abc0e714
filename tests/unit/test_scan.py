"""Scanning: queries carry positions not paths, results map back to files, reports per file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from hashmatch_client.scan import KEY_REUSED_PROBLEM, ReportOptions, queries_of, scan
from hashmatch_client.sdk import ApiError

KNOWN = "f" * 64


class FakeApi:
    """Matches a pdq value equal to KNOWN; remembers what it was sent."""

    def __init__(
        self,
        *,
        refuse_reports: bool = False,
        refuse_match: bool = False,
        scan_number: int = 1,
        indicator_ref: str = "ir_" + "1" * 24,
        reported_before: str | None = None,
    ) -> None:
        self.scan_number = scan_number  # match ids are new on every scan
        self.indicator_ref = indicator_ref
        self.reported_before = reported_before
        self.batches: list[list[dict[str, Any]]] = []
        self.reports: list[tuple[dict[str, Any], str | None]] = []
        self.refuse_reports = refuse_reports
        self.refuse_match = refuse_match

    def match(self, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        if self.refuse_match:
            raise ApiError(401, {"message": "Unauthorized"})
        self.batches.append([dict(item) for item in items])
        answers = []
        for number, item in enumerate(items):
            hit = item["type"] == "pdq" and item["value"] == KNOWN
            matches = (
                [
                    {
                        "match_id": f"mt_{self.scan_number}_{len(self.batches)}_{number}",
                        "indicator_ref": self.indicator_ref,
                        "database": "known",
                        "media_type": "image",
                        "band": "exact",
                        "threshold": 31,
                    }
                ]
                if hit
                else []
            )
            answers.append({"type": item["type"], "ref": item.get("ref"), "matches": matches})
        return {"index_version": 7, "items": answers}

    def file_report(
        self, report: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        if self.refuse_reports:
            raise ApiError(503, {"detail": "queue down"})
        if self.reported_before:
            problem = {"type": KEY_REUSED_PROBLEM, "report_id": self.reported_before}
            raise ApiError(409, problem)
        self.reports.append((dict(report), idempotency_key))
        return {"report_id": f"rp_{len(self.reports)}", "status": "received"}


def record(path: str, pdq: str, sha256: str = "a" * 64) -> dict[str, Any]:
    return {"path": path, "pdq": pdq, "pdq_quality": 90, "md5": "0" * 32, "sha256": sha256}


RECORDS = [
    record("/home/alice/holiday/one.jpg", KNOWN),
    {"path": "/home/alice/broken.jpg", "error": "truncated image"},
    record("/home/alice/two.jpg", "0" * 64),
]


def test_queries_name_files_by_position_never_by_path():
    queries = queries_of(RECORDS, ["pdq", "md5"])

    assert [q["ref"] for q in queries] == ["0", "0", "2", "2"]
    assert all("alice" not in str(q) for q in queries)
    assert queries[0]["quality"] == 90


def test_matches_are_mapped_back_to_their_files():
    result = scan(RECORDS, ["pdq", "md5"], FakeApi())

    matched = [outcome.path.name for outcome in result.matched]
    assert matched == ["one.jpg"]
    assert result.index_version == 7
    assert [outcome.path.name for outcome in result.failed] == ["broken.jpg"]


def test_batches_hold_at_most_the_batch_size():
    api = FakeApi()

    scan(RECORDS, ["pdq", "md5"], api, batch_size=3)

    assert [len(batch) for batch in api.batches] == [3, 1]


def test_a_report_per_matched_file_cites_its_matches_and_sha256():
    api = FakeApi()
    options = ReportOptions(legal_basis="Reg. (EU) 2021/1232", suspected_member_state="DE")
    when = datetime(2026, 11, 29, tzinfo=UTC)

    result = scan(RECORDS, ["pdq"], api, report=options, now=lambda: when)

    ((body, key),) = api.reports
    assert body["match_ids"] == ["mt_1_1_0"]
    assert body["content_ref"] == "a" * 64
    assert body["detected_at"] == when.isoformat()
    assert key
    assert result.matched[0].report_id == "rp_1"


def test_a_rescan_of_the_same_content_and_indicator_gives_the_same_idempotency_key():
    first, second = FakeApi(scan_number=1), FakeApi(scan_number=2)
    options = ReportOptions(legal_basis="x")

    scan(RECORDS, ["pdq"], first, report=options)
    scan(RECORDS, ["pdq"], second, report=options)

    assert first.reports[0][0]["match_ids"] != second.reports[0][0]["match_ids"]
    assert first.reports[0][1] == second.reports[0][1]


def test_the_same_content_matching_another_indicator_gives_another_key():
    first, second = FakeApi(), FakeApi(indicator_ref="ir_" + "2" * 24)
    options = ReportOptions(legal_basis="x")

    scan(RECORDS, ["pdq"], first, report=options)
    scan(RECORDS, ["pdq"], second, report=options)

    assert first.reports[0][1] != second.reports[0][1]


def test_content_reported_by_an_earlier_scan_is_marked_so_not_failed():
    api = FakeApi(reported_before="rp_" + "9" * 24)

    result = scan(RECORDS, ["pdq"], api, report=ReportOptions("x"))

    (outcome,) = result.matched
    assert (outcome.report_id, outcome.already_reported) == ("rp_" + "9" * 24, True)
    assert outcome not in result.failed


def test_a_failed_filing_is_recorded_and_does_not_stop_the_scan():
    result = scan(RECORDS, ["pdq"], FakeApi(refuse_reports=True), report=ReportOptions("x"))

    assert result.matched[0].report_error is not None
    assert result.matched[0] in result.failed


@pytest.mark.parametrize("types", [["pdq"], ["pdq", "md5"]])
def test_a_refused_request_marks_its_files_failed(types):
    result = scan(RECORDS, types, FakeApi(refuse_match=True))

    assert result.request_errors
    assert {outcome.path.name for outcome in result.failed} == {
        "one.jpg",
        "broken.jpg",
        "two.jpg",
    }


# --- alternates (hashmatch scan --rotations / --trim-borders) -------------------------------


def test_a_records_alternates_go_with_its_query_of_that_type_only():
    # Given a record with PDQ alternates (rotations) and none for md5
    rotated = {**record("/p/one.jpg", "0" * 64), "alternates": {"pdq": [KNOWN, "1" * 64]}}

    # When its queries are built
    pdq_query, md5_query = queries_of([rotated], ["pdq", "md5"])

    # Then only the PDQ query carries them
    assert pdq_query["alternates"] == [KNOWN, "1" * 64]
    assert "alternates" not in md5_query


def test_batches_hold_at_most_the_api_hash_limit_counting_alternates():
    # Given 1,000 files with 8 PDQ alternates each (9 hashes per query)
    records = [
        {**record(f"/p/{n}.jpg", "0" * 64), "alternates": {"pdq": ["1" * 64] * 8}}
        for n in range(1000)
    ]
    api = FakeApi()

    # When scanned with the default batch size
    scan(records, ["pdq"], api)

    # Then no request holds more than 4,000 hashes and every query is sent once
    hashes = [sum(1 + len(item.get("alternates", [])) for item in batch) for batch in api.batches]
    assert max(hashes) <= 4000
    assert [len(batch) for batch in api.batches] == [444, 444, 112]

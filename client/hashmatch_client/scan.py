"""Scanning a folder: hash locally, match in batches, optionally report what matched.

Only hashes leave the machine. Each query's ``ref`` is the file's position in this scan (not
its path, which may name people); results are mapped back to files locally. A report cites the
file's SHA-256 as its content reference: stable, opaque, and something the provider can look up.
Records hashed with ``--rotations``/``--trim-borders`` carry alternates: each query sends them
beside its value, and batches are cut so that no request holds more hashes than the API takes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import requests

from hashmatch.matching.limits import (
    MAX_ALTERNATES_PER_ITEM,
    MAX_HASHES_PER_REQUEST,
    MAX_ITEMS_PER_REQUEST,
)
from hashmatch_client.records import quality_field
from hashmatch_client.sdk import ApiError

REPORTABLE_CONTENT_TYPE = "image"


class MatchApi(Protocol):
    """What a scan needs of the API (HashmatchClient implements it)."""

    def match(self, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]: ...

    def file_report(
        self, report: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]: ...


@dataclass
class FileOutcome:
    path: Path
    sha256: str | None = None
    error: str | None = None
    matches: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    report_id: str | None = None
    report_error: str | None = None
    already_reported: bool = False  # an earlier scan reported this content and indicators

    @property
    def matched(self) -> bool:
        return bool(self.matches)

    def to_json_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"path": str(self.path), "matched": self.matched}
        for name in ("error", "report_id", "report_error"):
            if getattr(self, name) is not None:
                record[name] = getattr(self, name)
        if self.already_reported:
            record["already_reported"] = True
        if self.matches:
            record["matches"] = self.matches
        if self.rejections:
            record["rejections"] = self.rejections
        return record


@dataclass(frozen=True)
class ReportOptions:
    legal_basis: str
    suspected_member_state: str | None = None
    urgent: bool = False
    removed: bool = False
    also_reported_to: tuple[str, ...] = ()


@dataclass
class ScanResult:
    files: list[FileOutcome]
    index_version: int | None = None
    request_errors: list[str] = field(default_factory=list)

    @property
    def matched(self) -> list[FileOutcome]:
        return [outcome for outcome in self.files if outcome.matched]

    @property
    def failed(self) -> list[FileOutcome]:
        """Files that could not be hashed, matched or reported."""
        return [outcome for outcome in self.files if outcome.error or outcome.report_error]


def queries_of(records: Sequence[Mapping[str, Any]], types: Sequence[str]) -> list[dict[str, Any]]:
    """One query per hashed file and hash type; ``ref`` is the file's position.

    A record's ``alternates`` of that type (at most the API's 8) go with the query.
    """
    queries = []
    for position, record in enumerate(records):
        if "error" in record:
            continue
        for hash_type in types:
            if hash_type not in record:
                continue
            query: dict[str, Any] = {
                "type": hash_type,
                "value": record[hash_type],
                "ref": str(position),
            }
            if record.get(quality_field(hash_type)) is not None:
                query["quality"] = record[quality_field(hash_type)]
            alternates = record.get("alternates", {}).get(hash_type)
            if alternates:
                query["alternates"] = list(alternates[:MAX_ALTERNATES_PER_ITEM])
            queries.append(query)
    return queries


def hash_count(query: Mapping[str, Any]) -> int:
    """Hashes a query costs the service: its value and each alternate."""
    return 1 + len(query.get("alternates", ()))


def batches(
    items: Sequence[dict[str, Any]],
    size: int = MAX_ITEMS_PER_REQUEST,
    max_hashes: int = MAX_HASHES_PER_REQUEST,
) -> Iterable[list[dict[str, Any]]]:
    """Consecutive batches of at most ``size`` items and ``max_hashes`` hashes each."""
    batch: list[dict[str, Any]] = []
    hashes = 0
    for item in items:
        cost = hash_count(item)
        if batch and (len(batch) >= size or hashes + cost > max_hashes):
            yield batch
            batch, hashes = [], 0
        batch.append(item)
        hashes += cost
    if batch:
        yield batch


def scan(
    records: Sequence[Mapping[str, Any]],
    types: Sequence[str],
    api: MatchApi,
    *,
    report: ReportOptions | None = None,
    batch_size: int = MAX_ITEMS_PER_REQUEST,
    on_batch: Callable[[int], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ScanResult:
    """Match hashed files (records of `hashmatch hash`) and file a report per matched file."""
    outcomes = [
        FileOutcome(
            path=Path(record["path"]), sha256=record.get("sha256"), error=record.get("error")
        )
        for record in records
    ]
    result = ScanResult(files=outcomes)
    for batch in batches(queries_of(records, types), batch_size):
        try:
            answer = api.match(batch)
        except (ApiError, requests.RequestException) as error:
            # The SDK already retried what is worth retrying: record it and go on.
            result.request_errors.append(str(error))
            for query in batch:
                outcomes[int(query["ref"])].error = f"matching failed: {error}"
            continue
        result.index_version = answer.get("index_version", result.index_version)
        for query, item in zip(batch, answer["items"], strict=True):
            outcome = outcomes[int(query["ref"])]
            for match in item.get("matches", []):
                outcome.matches.append({"type": query["type"], **match})
            if item.get("rejection"):
                outcome.rejections.append({"type": query["type"], **item["rejection"]})
        if on_batch is not None:
            on_batch(len(batch))
    if report is not None:
        for outcome in result.matched:
            _file_report(api, outcome, report, now())
    return result


KEY_REUSED_PROBLEM = "urn:hashmatch:problem:idempotency-key-reused"


def report_key(content_ref: str, matches: list[dict[str, Any]]) -> str:
    """One key per content and set of matched indicators, whatever the match ids: a retried
    filing, or a re-scan of the same file against the same indicators, is the same report."""
    indicators = sorted({str(match.get("indicator_ref") or match["match_id"]) for match in matches})
    text = "report:" + content_ref + ":" + ",".join(indicators)
    return hashlib.sha256(text.encode()).hexdigest()


def _file_report(
    api: MatchApi, outcome: FileOutcome, options: ReportOptions, detected_at: datetime
) -> None:
    match_ids = sorted({match["match_id"] for match in outcome.matches})
    content_ref = outcome.sha256 or hashlib.sha256(str(outcome.path).encode()).hexdigest()
    body = {
        "match_ids": match_ids,
        "content_ref": content_ref,
        "content_type": REPORTABLE_CONTENT_TYPE,
        "detected_at": detected_at.isoformat(),
        "urgent": options.urgent,
        "suspected_member_state": options.suspected_member_state,
        "legal_basis": options.legal_basis,
        "removed": options.removed,
        "also_reported_to": list(options.also_reported_to),
    }
    key = report_key(content_ref, outcome.matches)
    try:
        outcome.report_id = api.file_report(body, idempotency_key=key)["report_id"]
    except ApiError as error:
        if error.problem_type == KEY_REUSED_PROBLEM and error.report_id:
            # This content and these indicators were reported before (an earlier scan).
            outcome.report_id, outcome.already_reported = error.report_id, True
        else:
            outcome.report_error = str(error)
    except requests.RequestException as error:
        # One failed filing must not stop the others; the exit status says it failed.
        outcome.report_error = str(error)

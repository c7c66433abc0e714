"""Reading an import body (CSV or JSON lines) into raw submissions, each with its line number.

Rows are only split and shaped here; validation is the Submission model's, so an import row and
an API batch item are checked by exactly the same rules.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hashmatch import json_text
from hashmatch.errors import InvalidInput

CSV_COLUMNS: tuple[str, ...] = (
    "hash_type",
    "hash",
    "database",
    "media_type",
    "authority",
    "member_state",
    "assessment_reference",
    "assessed_at",
)
OPTIONAL_CSV_COLUMNS: tuple[str, ...] = ("quality",)
_PROVENANCE_COLUMNS = ("authority", "member_state", "assessment_reference", "assessed_at")

CSV_MEDIA_TYPES = frozenset({"text/csv"})
# One JSON object per line. (application/json is one document: the API refuses it here.)
JSONL_MEDIA_TYPES = frozenset(
    {"application/jsonl", "application/x-ndjson", "application/x-jsonlines"}
)
_CSV_BODY = {
    "type": "string",
    "minLength": 1,
    "description": "A header line naming the columns "
    + ",".join(CSV_COLUMNS)
    + " (and optionally quality), then one row per indicator",
    # The header, then at least one row that is not blank.
    "pattern": "^" + ",".join(CSV_COLUMNS) + "(,quality)?\\r?\\n\\s*\\S",
}
_JSONL_START = "^\\s*\\{"
_JSONL_BODY = {
    "type": "string",
    "minLength": 1,
    "description": "One JSON object per line, each an item of POST /v1/indicators",
    "pattern": _JSONL_START,
}
# The import's body per media type, as the OpenAPI document describes it.
IMPORT_BODIES = {
    **{media_type: _CSV_BODY for media_type in CSV_MEDIA_TYPES},
    **{media_type: _JSONL_BODY for media_type in JSONL_MEDIA_TYPES},
}


@dataclass(frozen=True)
class RawRow:
    """One row of an import: its 1-based line in the body, and the submission or why not."""

    line: int
    item: dict[str, Any] | None
    fault: str | None = None


def read_rows(body: str, content_type: str) -> Iterator[RawRow]:
    """Rows of a CSV (with a header line) or JSON lines body; blank lines are skipped."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in CSV_MEDIA_TYPES:
        return _csv_rows(body)
    if media_type in JSONL_MEDIA_TYPES:
        return _jsonl_rows(body)
    raise InvalidInput(
        f"unsupported import content type {media_type!r}: use text/csv or application/jsonl",
        errors=[{"loc": ["header", "content-type"], "msg": "text/csv or application/jsonl"}],
    )


def _csv_rows(body: str) -> Iterator[RawRow]:
    # newline="": the csv module reads line breaks itself (a lone \r is one too).
    reader = csv.reader(io.StringIO(body, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise InvalidInput(
            f"the CSV header is not CSV: {error}", errors=[{"loc": ["line", 1], "msg": str(error)}]
        ) from error
    columns = [name.strip().lower() for name in header or []]
    missing = [name for name in CSV_COLUMNS if name not in columns]
    unknown = [name for name in columns if name not in CSV_COLUMNS + OPTIONAL_CSV_COLUMNS]
    if missing or unknown:
        raise InvalidInput(
            "the CSV header must name the columns " + ",".join(CSV_COLUMNS),
            errors=[{"loc": ["line", 1], "msg": f"missing {missing}, unknown {unknown}"}],
        )
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:  # a malformed row is that row's fault, not the file's
            yield RawRow(reader.line_num, None, f"not CSV: {error}")
            continue
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(columns):
            yield RawRow(line, None, f"expected {len(columns)} fields, found {len(values)}")
            continue
        row = dict(zip(columns, values, strict=True))
        item: dict[str, Any] = {k: v for k, v in row.items() if k not in _PROVENANCE_COLUMNS}
        quality = item.pop("quality", "").strip()
        if quality:
            # CSV has no types: a quality is an integer written in digits, anything else is kept
            # as text so the row is refused with the field named.
            item["quality"] = int(quality) if quality.isdecimal() and len(quality) < 4 else quality
        item["provenance"] = {k: row[k] for k in _PROVENANCE_COLUMNS}
        yield RawRow(line, item)


def _jsonl_rows(body: str) -> Iterator[RawRow]:
    if not re.match(_JSONL_START, body):
        raise InvalidInput(
            "JSON lines hold one JSON object per line; this body does not start with one",
            errors=[{"loc": ["line", 1], "msg": "not a JSON object"}],
        )
    for line, text in enumerate(body.splitlines(), start=1):
        if not text.strip():
            continue
        try:
            item = json_text.parse(text)
        except json_text.UnacceptableJson as error:
            yield RawRow(line, None, str(error))
            continue
        if not isinstance(item, dict):
            yield RawRow(line, None, "each line must be a JSON object")
            continue
        yield RawRow(line, item)

"""`hashmatch indicators add|import`: upload indicators (hashes only) with their provenance.

``add`` hashes files on this machine (the material never leaves it) and uploads the hashes with
the provenance given as flags. ``import`` uploads a CSV or JSON lines file of hashes in parts of
at most 500 rows, with a progress bar. Both print one JSON line per hash or bad row on stdout and
a summary on stderr. Exit status: 0 if every hash was stored or already there, 1 if any row was
invalid or any file could not be hashed, 2 on a usage or connection error.

Re-running either changes nothing: indicator ids derive from the hash and database, and the same
assessment is never recorded twice.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashmatch.errors import HashmatchError
from hashmatch.hashtypes import get_hash_type
from hashmatch_client.cli.connection import UsageError, add_connection_arguments, client_of

EXIT_OK = 0
EXIT_SOME_INVALID = 1
EXIT_ERROR = 2
ROWS_PER_REQUEST = 500
DEFAULT_TYPES = ("pdq", "md5")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("indicators", help="add or import indicators (curators)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser(
        "add",
        help="hash files locally and upload their hashes with provenance",
        description="Hash FILEs on this machine and upload only the hashes, with provenance.",
    )
    add.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add.add_argument("--database", required=True, choices=["known", "new", "solicitation"])
    add.add_argument("--media-type", default="image", choices=["image", "video"])
    add.add_argument("--authority", required=True, help="the submitting authority or court")
    add.add_argument("--member-state", required=True, help="ISO 3166-1 alpha-2, e.g. DE")
    add.add_argument("--assessment-reference", required=True, help="the decision's reference")
    add.add_argument(
        "--assessed-at", required=True, help="when it was assessed, ISO 8601 with time zone"
    )
    add.add_argument(
        "--types",
        default=",".join(DEFAULT_TYPES),
        help="comma-separated hash types to upload (default: pdq,md5)",
    )
    add_connection_arguments(add, role="curator")
    add.set_defaults(func=run_add)

    imports = actions.add_parser(
        "import",
        help="upload a CSV or JSON lines file of indicators",
        description=(
            "CSV columns: hash_type,hash,database,media_type,authority,member_state,"
            "assessment_reference,assessed_at[,quality]. JSON lines: one object per line, as "
            "an item of POST /v1/indicators."
        ),
    )
    imports.add_argument("file", type=Path, metavar="FILE")
    imports.add_argument(
        "--format", choices=["csv", "jsonl"], help="default: from the file's suffix"
    )
    imports.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_connection_arguments(imports, role="curator")
    imports.set_defaults(func=run_import)


# -- add ---------------------------------------------------------------------------------------


def run_add(args: argparse.Namespace) -> int:
    from hashmatch_client.imaging import hash_file  # PIL only for this command
    from hashmatch_client.sdk import ApiError

    try:
        types = [get_hash_type(name).name for name in args.types.split(",") if name.strip()]
        client = client_of(args)
    except (HashmatchError, UsageError) as error:
        print(f"hashmatch indicators add: {error}", file=sys.stderr)
        return EXIT_ERROR
    provenance = {
        "authority": args.authority,
        "member_state": args.member_state,
        "assessment_reference": args.assessment_reference,
        "assessed_at": args.assessed_at,
    }
    items: list[dict[str, Any]] = []
    sources: list[tuple[str, str]] = []
    failed = 0
    for path in args.files:
        try:
            hashed = hash_file(path, types)
        except (HashmatchError, OSError) as error:
            _emit({"path": str(path), "error": str(error)})
            failed += 1
            continue
        for name, value in hashed.hashes.items():
            item: dict[str, Any] = {
                "hash_type": name,
                "hash": value,
                "database": args.database,
                "media_type": args.media_type,
                "provenance": provenance,
            }
            if name in hashed.qualities:
                item["quality"] = hashed.qualities[name]
            items.append(item)
            sources.append((str(path), name))
    totals = _Totals(failed=failed)
    try:
        for start in range(0, len(items), ROWS_PER_REQUEST):
            answer = _send_batch(client, items[start : start + ROWS_PER_REQUEST])
            for result in answer["items"]:
                path, name = sources[start + int(result["index"])]
                totals.count(result)
                _emit({"path": path, "hash_type": name, **_without_index(result)})
    except ApiError as error:
        print(f"hashmatch indicators add: {error}", file=sys.stderr)
        return EXIT_ERROR
    totals.report()
    return totals.exit_status()


def _send_batch(client: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    from hashmatch_client.sdk import ApiError

    try:
        answer: dict[str, Any] = client.add_indicators(items)
    except ApiError as error:
        if error.status != 422 or not error.errors:
            raise
        # Every item was invalid: the problem lists them; present them like per-item results.
        return {"items": _invalid_items(error.errors, "index", len(items))}
    return answer


# -- import ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    body: str
    content_type: str
    lines: list[int]  # the file's line number of each row of the part, in order
    first_row_line: int  # the line of the part's first row as the API will number it


def run_import(args: argparse.Namespace) -> int:
    from hashmatch_client.sdk import ApiError

    file_format = args.format or ("csv" if args.file.suffix.lower() == ".csv" else "jsonl")
    try:
        client = client_of(args)
        text = args.file.read_text(encoding="utf-8")
        parts = list(_csv_parts(text) if file_format == "csv" else _jsonl_parts(text))
    except (UsageError, OSError, UnicodeDecodeError, csv.Error) as error:
        print(f"hashmatch indicators import: {error}", file=sys.stderr)
        return EXIT_ERROR
    totals = _Totals()
    progress = _progress(sum(len(part.lines) for part in parts), disabled=args.no_progress)
    try:
        for part in parts:
            answer = _send_part(client, part)
            for result in answer["items"]:
                line = part.lines[int(result["line"]) - part.first_row_line]
                totals.count(result)
                if result["result"] == "invalid":
                    errors = [_relined(e, line) for e in result.get("errors", [])]
                    _emit({**result, "line": line, "errors": errors})
            progress.update(len(part.lines))
    except ApiError as error:
        print(f"hashmatch indicators import: {error}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        progress.close()
    totals.report()
    return totals.exit_status()


def _send_part(client: Any, part: _Part) -> dict[str, Any]:
    from hashmatch_client.sdk import ApiError

    try:
        answer: dict[str, Any] = client.import_indicators(part.body, part.content_type)
    except ApiError as error:
        if error.status != 422 or not error.errors:
            raise
        by_line: dict[int, list[dict[str, Any]]] = {}
        for fault in error.errors:
            loc = fault.get("loc") or []
            # A fault of the whole body (e.g. the CSV header) is not a row's: raise it as is.
            if len(loc) >= 2 and loc[0] == "line" and int(loc[1]) >= part.first_row_line:
                by_line.setdefault(int(loc[1]), []).append(fault)
        if not by_line:
            raise
        items = [
            {"line": line, "result": "invalid", "errors": faults}
            for line, faults in sorted(by_line.items())
        ]
        return {"items": items}
    return answer


def _csv_parts(text: str) -> Iterator[_Part]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return
    rows: list[tuple[int, list[str]]] = []
    for values in reader:
        if any(value.strip() for value in values):
            rows.append((reader.line_num, values))
    for start in range(0, len(rows), ROWS_PER_REQUEST):
        chunk = rows[start : start + ROWS_PER_REQUEST]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(values for _, values in chunk)
        # Rewritten one row per line, so the API numbers them 2, 3, ... after the header.
        yield _Part(buffer.getvalue(), "text/csv", [line for line, _ in chunk], 2)


def _jsonl_parts(text: str) -> Iterator[_Part]:
    rows = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    for start in range(0, len(rows), ROWS_PER_REQUEST):
        chunk = rows[start : start + ROWS_PER_REQUEST]
        body = "\n".join(line for _, line in chunk) + "\n"
        yield _Part(body, "application/jsonl", [n for n, _ in chunk], 1)


# -- output ------------------------------------------------------------------------------------


@dataclass
class _Totals:
    created: int = 0
    existing: int = 0
    invalid: int = 0
    failed: int = 0

    def count(self, result: dict[str, Any]) -> None:
        outcome = result.get("result")
        if outcome == "created":
            self.created += 1
        elif outcome == "existing":
            self.existing += 1
        else:
            self.invalid += 1

    def report(self) -> None:
        print(
            f"created {self.created}, already there {self.existing}, invalid {self.invalid}"
            + (f", files not hashed {self.failed}" if self.failed else ""),
            file=sys.stderr,
        )

    def exit_status(self) -> int:
        return EXIT_SOME_INVALID if self.invalid or self.failed else EXIT_OK


def _invalid_items(
    faults: Sequence[dict[str, Any]], position: str, count: int
) -> list[dict[str, Any]]:
    by_position: dict[int, list[dict[str, Any]]] = {i: [] for i in range(count)}
    for fault in faults:
        loc = fault.get("loc") or []
        if len(loc) >= 2 and isinstance(loc[1], int) and loc[1] in by_position:
            by_position[loc[1]].append(fault)
    return [
        {position: i, "result": "invalid", "errors": errors} for i, errors in by_position.items()
    ]


def _relined(fault: dict[str, Any], line: int) -> dict[str, Any]:
    loc = list(fault.get("loc") or [])
    if len(loc) >= 2 and loc[0] == "line":
        loc[1] = line
    return {**fault, "loc": loc}


def _without_index(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key not in ("index", "line")}


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")


class _NoProgress:
    def update(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, *, disabled: bool) -> Any:
    if disabled:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=total, unit="row", file=sys.stderr, desc="importing")

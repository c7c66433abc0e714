"""The fault matrix: what each component does when a store fails, as the fault-injection tests
observed it (tests/integration/test_faults.py).

The tests record one cell per (component, operation, fault) into ``fault_matrix.json`` when run
with HASHMATCH_RECORD_FAULTS=1 (``make fault-matrix``), and otherwise check that what they
observe is what the file says. ``python -m tests.fault_matrix`` renders the file into
docs/operations.md between the markers; tests/unit/test_fault_matrix_doc.py fails when the
document and the file differ. Nobody writes the table by hand.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "tests" / "integration" / "fault_matrix.json"
DOCUMENT = ROOT / "docs" / "operations.md"
START = "<!-- fault-matrix:start -->"
END = "<!-- fault-matrix:end -->"

THROTTLING = "throttling"
SERVICE_ERROR = "service error"
FAULTS = (THROTTLING, SERVICE_ERROR)
# The error code each store answers with, per kind of fault (injected at the boto3 method, so
# they reach our code as if botocore's own retries had given up).
CODES = {
    THROTTLING: {
        "DynamoDB": "ProvisionedThroughputExceededException",
        "S3": "SlowDown",
        "SQS": "RequestThrottled",
        "SQS (KMS)": "KmsThrottled",
        "KMS": "ThrottlingException",
    },
    SERVICE_ERROR: {
        "DynamoDB": "InternalServerError",
        "S3": "InternalError",
        "SQS": "InternalError",
        "SQS (KMS)": "KmsInvalidState",
        "KMS": "KMSInternalException",
    },
}
# Rows in this order (then by operation, in the order the tests record them).
COMPONENTS = (
    "authorize",
    "match_hashes",
    "file_reports",
    "intake_reports",
    "curate_indicators",
    "build_index",
    "erase_expired",
    "anchor_audit",
    "hashmatch audit verify",
)


@dataclass(frozen=True)
class Cell:
    component: str
    operation: str
    store: str
    fault: str
    observed: str

    @property
    def key(self) -> str:
        return " | ".join((self.component, self.operation, self.store, self.fault))


def load(path: Path = MATRIX) -> dict[str, Cell]:
    if not path.exists():
        return {}
    cells = [Cell(**item) for item in json.loads(path.read_text(encoding="utf-8"))]
    return {cell.key: cell for cell in cells}


def save(recorded: list[Cell], path: Path = MATRIX) -> None:
    """Merge what a run recorded into the file (a partial run updates its own cells; `make
    fault-matrix` starts from an empty file, so cells of removed tests go). Rows by component,
    then operations in the order first recorded, then kind of fault."""
    cells = list({**load(path), **{cell.key: cell for cell in recorded}}.values())
    first_seen: dict[tuple[str, str], int] = {}
    for cell in cells:
        first_seen.setdefault((cell.component, cell.operation), len(first_seen))
    ordered = sorted(
        cells,
        key=lambda cell: (
            COMPONENTS.index(cell.component),
            first_seen[(cell.component, cell.operation)],
            FAULTS.index(cell.fault),
        ),
    )
    path.write_text(
        json.dumps([asdict(cell) for cell in ordered], indent=1, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )


def render(cells: dict[str, Cell]) -> str:
    """The Markdown table: one row per operation, one column per kind of fault."""
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for cell in cells.values():
        row = rows.setdefault((cell.component, cell.operation, cell.store), {})
        row[cell.fault] = cell.observed
    lines = [
        "| component | operation (store) | "
        + " | ".join(f"{fault} ({_codes(fault)})" for fault in FAULTS)
        + " |",
        "| --- | --- | " + " | ".join("---" for _ in FAULTS) + " |",
    ]
    for (component, operation, store), observed in rows.items():
        cells_text = " | ".join(observed.get(fault, "not injected") for fault in FAULTS)
        lines.append(f"| {component} | {operation} ({store}) | {cells_text} |")
    return "\n".join(lines)


def _codes(fault: str) -> str:
    return ", ".join(f"{store}: `{code}`" for store, code in CODES[fault].items())


def with_matrix(document: str, cells: dict[str, Cell]) -> str:
    """The document with the rendered table between the markers."""
    before, rest = document.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{render(cells)}\n{END}{after}"


def main() -> None:
    cells = load()
    DOCUMENT.write_text(with_matrix(DOCUMENT.read_text(encoding="utf-8"), cells), "utf-8")
    print(f"{DOCUMENT.relative_to(ROOT)}: {len(cells)} cells from {MATRIX.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

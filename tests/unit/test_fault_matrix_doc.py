"""docs/operations.md's fault matrix is what the fault-injection tests recorded, rendered: never
edited by hand (`make fault-matrix` re-records and renders it)."""

from __future__ import annotations

from tests.fault_matrix import COMPONENTS, DOCUMENT, END, FAULTS, START, load, render


def test_the_documented_fault_matrix_is_the_recorded_one():
    document = DOCUMENT.read_text(encoding="utf-8")
    documented = document.split(START, 1)[1].split(END, 1)[0].strip()

    assert documented == render(load()), "stale: run `make fault-matrix`"


def test_every_component_meets_both_kinds_of_fault_on_every_operation():
    cells = load().values()
    operations = {(c.component, c.operation, c.store) for c in cells}

    assert {component for component, _, _ in operations} == set(COMPONENTS)
    for operation in operations:
        faults = {c.fault for c in cells if (c.component, c.operation, c.store) == operation}
        assert faults == set(FAULTS), operation


def test_the_matrix_covers_every_kind_of_store():
    stores = {cell.store.split(" ")[0] for cell in load().values()}

    assert stores == {"DynamoDB", "S3", "SQS", "KMS"}

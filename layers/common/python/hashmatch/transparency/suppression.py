"""Small-cell suppression: no published count can point at a person.

Primary: every count from 1 to ``threshold - 1`` is shown as "<threshold" (0 is shown: it points
at nobody). Secondary: a suppressed count must not be recoverable by subtraction, so wherever a
published sum and its parts have exactly one suppressed member (the sum or one part), the
smallest other member is suppressed too, and so on until no such sum is left.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

DEFAULT_THRESHOLD = 5

Cell = TypeVar("Cell", bound=Hashable)


def rule(threshold: int) -> str:
    return (
        f'Every count from 1 to {threshold - 1} is shown as "<{threshold}" (0 is shown as 0). '
        "Where a total and its parts would leave exactly one such count to be worked out by "
        "subtraction, the next smallest count of that total is shown the same way. Changes "
        "from the previous year are not given for a suppressed count."
    )


def suppressed(
    values: Mapping[Cell, int],
    sums: Sequence[tuple[Cell, Sequence[Cell]]],
    threshold: int,
) -> set[Cell]:
    """The cells to show as "<threshold": ``sums`` lists each published (total, parts)."""
    hidden = {cell for cell, value in values.items() if 0 < value < threshold}
    changed = bool(hidden)
    while changed:
        changed = False
        for total, parts in sums:
            group = [total, *parts]
            if sum(1 for cell in group if cell in hidden) != 1:
                continue
            shown = [cell for cell in group if cell not in hidden]
            if not shown:
                continue
            # The smallest non-zero part first, then zeros, the total last (it is most useful).
            pick = min(shown, key=lambda c: (c == total, values[c] == 0, values[c], repr(c)))
            hidden.add(pick)
            changed = True
    return hidden

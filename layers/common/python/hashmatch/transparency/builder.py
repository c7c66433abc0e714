"""Building the year's report from its counters: every figure, suppressed, with the change.

:data:`FIGURES` is the one list of the report's figures: which counters each sums, how it is
broken down and which article asks for it (docs/transparency.md is written from it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from hashmatch.statistics.model import DECISION_HOURS_BOUNDS, INDICATORS_ACTIVE, MORE_THAN_LAST
from hashmatch.statistics.query import PeriodCounts
from hashmatch.transparency.model import (
    AuditHead,
    ErrorRates,
    Figure,
    Histogram,
    PreviousYear,
    Row,
    Shown,
    Suppression,
    TransparencyReport,
)
from hashmatch.transparency.suppression import rule, suppressed

CONTEXT = "context"
REPORTS_PER_INDICATOR = "reports_per_indicator"
REPORTS_PER_INDICATOR_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1", 1, 1),
    ("2", 2, 2),
    ("3-5", 3, 5),
    ("6-10", 6, 10),
    ("more than 10", 11, None),
)


@dataclass(frozen=True)
class FigureSpec:
    id: str
    title: str
    articles: tuple[str, ...]
    dimension: str
    breakdown: tuple[str, ...] = ()
    where: Mapping[str, str] = field(default_factory=dict)
    # The rows come from another dimension and need not add up to the total (reasons).
    rows_dimension: str | None = None
    # Figures that share this figure's total (the same reports, broken down another way).
    same_total_as: str | None = None
    note: str | None = None
    # Counted from this year's tallies of reports per indicator, not from daily counters.
    from_tallies: bool = False


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "indicators_active",
        "Indicators in the databases at the end of the year",
        ("Art. 83(3)(a)",),
        INDICATORS_ACTIVE,
        ("database", "media_type"),
    ),
    FigureSpec(
        "indicators_added",
        "Indicators added, by database and submitting Member State",
        ("Art. 83(3)(a)", "Art. 83(3)(b)"),
        "indicator_changes",
        ("database", "member_state"),
        where={"change": "added"},
    ),
    FigureSpec(
        "indicators_suspended",
        "Indicators suspended",
        ("Art. 83(3)(a)",),
        "indicator_changes",
        ("database",),
        where={"change": "suspended"},
    ),
    FigureSpec(
        "indicators_revoked",
        "Indicators revoked",
        ("Art. 83(3)(a)",),
        "indicator_changes",
        ("database",),
        where={"change": "revoked"},
    ),
    FigureSpec(
        "queries",
        "Hashes checked, by hash type and outcome",
        (CONTEXT,),
        "queries",
        ("hash_type", "outcome"),
    ),
    FigureSpec(
        "matches",
        "Matches, by database (known, new material, solicitation) and media type",
        ("Art. 83(3)(d)",),
        "matches",
        ("database", "media_type"),
    ),
    FigureSpec(
        "reports_received",
        "Reports received, by provider",
        ("Art. 83(3)(c)",),
        "reports_received",
        ("provider",),
    ),
    FigureSpec(
        "reports_by_member_state",
        "Reports received, by the Member State the provider suspected",
        ("Art. 83(3)(c)",),
        "reports_received",
        ("suspected_member_state",),
        same_total_as="reports_received",
    ),
    FigureSpec(
        "reports_by_provider_and_member_state",
        "Reports received, by provider and suspected Member State",
        ("Art. 83(3)(c)",),
        "reports_received",
        ("provider", "suspected_member_state"),
        same_total_as="reports_received",
    ),
    FigureSpec(
        "reports_by_content",
        "Reports received, by content type and urgency",
        ("Art. 83(3)(d)",),
        "reports_received",
        ("content_type", "urgency"),
        same_total_as="reports_received",
    ),
    FigureSpec(
        "repeat_reports",
        "Reports citing an indicator an earlier report of the year cited",
        ("Art. 83(3)(h)",),
        "repeat_reports",
    ),
    FigureSpec(
        REPORTS_PER_INDICATOR,
        "Indicators cited by reports, by how many reports of the year cited each",
        ("Art. 83(3)(h)",),
        REPORTS_PER_INDICATOR,
        ("reports",),
        from_tallies=True,
    ),
    FigureSpec(
        "reports_forwarded",
        "Reports forwarded, by the Member State forwarded to",
        ("Art. 83(3)(c)", "Art. 83(3)(d)"),
        "decisions",
        ("member_state",),
        where={"outcome": "forwarded"},
        note="europol_only: forwarded to Europol alone (jurisdiction unclear)",
    ),
    FigureSpec(
        "reports_unfounded",
        "Reports found manifestly unfounded, by reason",
        ("Art. 83(3)(e)",),
        "decisions",
        ("reason",),
        where={"outcome": "unfounded"},
        rows_dimension="unfounded_reasons",
        note="A decision may give several reasons: the rows need not add up to the total",
    ),
    FigureSpec(
        "false_matches",
        "False matches (indicators cited by reports found unfounded as not a match)",
        ("Art. 83(3)(e)", CONTEXT),
        "false_matches",
        ("database",),
    ),
    FigureSpec(
        "information_requests",
        "Requests for information put to providers",
        (CONTEXT,),
        "information_requests",
    ),
    FigureSpec(
        "forwarding",
        "Deliveries of forwarded reports, by recipient and outcome",
        (CONTEXT,),
        "forwarding",
        ("recipient", "outcome"),
    ),
    FigureSpec(
        "erasures",
        "Items erased at the end of their retention period, by data class",
        (CONTEXT,),
        "erasures",
        ("data_class",),
    ),
)


@dataclass(frozen=True)
class ReportInputs:
    year: int
    counts: PeriodCounts
    tallies: Mapping[str, int]  # indicator id -> reports of the year citing it
    error_rates: ErrorRates
    generated_at: datetime
    status: Literal["draft", "published"]
    threshold: int
    previous: TransparencyReport | None
    previous_digest: str | None
    audit_head: AuditHead | None
    notes: Sequence[str] = ()
    # Counters name a provider by its organisation id; the report names it for people.
    provider_names: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Draft:
    """Figures as exact numbers, before suppression: (figure id, row key) -> count."""

    values: dict[tuple[str, tuple[str, ...]], int] = field(default_factory=dict)
    sums: list[tuple[tuple[str, tuple[str, ...]], list[tuple[str, tuple[str, ...]]]]] = field(
        default_factory=list
    )


def build_report(inputs: ReportInputs) -> TransparencyReport:
    draft = _Draft()
    totals: dict[str, tuple[str, tuple[str, ...]]] = {}
    rows_of: dict[str, list[tuple[str, ...]]] = {}
    for spec in FIGURES:
        total_cell = totals[spec.same_total_as] if spec.same_total_as else (spec.id, ())
        totals[spec.id] = total_cell
        if spec.from_tallies:
            breakdown = _reports_per_indicator(inputs.tallies)
            draft.values[total_cell] = len(inputs.tallies)
        else:
            draft.values[total_cell] = inputs.counts.total(spec.dimension, **spec.where)
            rows_source = spec.rows_dimension or spec.dimension
            where = {} if spec.rows_dimension else dict(spec.where)
            breakdown = _named(
                inputs.counts.by(rows_source, *spec.breakdown, **where),
                spec.breakdown,
                inputs.provider_names,
            )
        if not spec.breakdown:
            breakdown = {}
        keys = list(breakdown) if spec.from_tallies else sorted(breakdown)
        rows_of[spec.id] = keys
        for key in keys:
            draft.values[(spec.id, key)] = breakdown[key]
        if keys and spec.rows_dimension is None:
            draft.sums.append((total_cell, [(spec.id, key) for key in keys]))
    _two_way_sums(draft, rows_of)
    histogram = inputs.counts.by("time_to_decision", "within_hours")
    decided_cell = ("time_to_decision", ())
    draft.values[decided_cell] = sum(histogram.values())
    buckets = [*(str(b) for b in DECISION_HOURS_BOUNDS), MORE_THAN_LAST]
    for bucket in buckets:
        draft.values[("time_to_decision", (bucket,))] = histogram.get((bucket,), 0)
    draft.sums.append((decided_cell, [("time_to_decision", (b,)) for b in buckets]))

    hidden = suppressed(draft.values, draft.sums, inputs.threshold)
    shown = _Shown(draft.values, hidden, inputs.threshold, inputs.previous)
    figures = [shown.figure(spec, totals[spec.id], rows_of[spec.id]) for spec in FIGURES]
    return TransparencyReport(
        status=inputs.status,
        year=inputs.year,
        period_from=date(inputs.year, 1, 1),
        period_to=date(inputs.year, 12, 31),
        generated_at=inputs.generated_at,
        suppression=Suppression(threshold=inputs.threshold, rule=rule(inputs.threshold)),
        previous_year=PreviousYear(
            year=inputs.year - 1,
            published=inputs.previous is not None,
            digest=inputs.previous_digest,
        ),
        audit_head=inputs.audit_head,
        figures=figures,
        time_to_decision=shown.histogram(buckets, histogram),
        error_rates=inputs.error_rates,
        notes=list(inputs.notes),
    )


def _reports_per_indicator(tallies: Mapping[str, int]) -> dict[tuple[str, ...], int]:
    """How many indicators were cited by 1, 2, 3-5, ... reports of the year (every bucket)."""
    return {
        (label,): sum(1 for n in tallies.values() if n >= low and (high is None or n <= high))
        for label, low, high in REPORTS_PER_INDICATOR_BUCKETS
    }


def _named(
    breakdown: Mapping[tuple[str, ...], int],
    dimensions: Sequence[str],
    provider_names: Mapping[str, str],
) -> dict[tuple[str, ...], int]:
    """The rows with each provider's organisation id replaced by its name (an id without a
    known name stays as it is; two ids of one name are one row)."""
    if "provider" not in dimensions:
        return dict(breakdown)
    position = list(dimensions).index("provider")
    named: dict[tuple[str, ...], int] = {}
    for key, count in breakdown.items():
        values = list(key)
        values[position] = provider_names.get(values[position], values[position])
        named[tuple(values)] = named.get(tuple(values), 0) + count
    return named


def _two_way_sums(draft: _Draft, rows_of: Mapping[str, list[tuple[str, ...]]]) -> None:
    """The provider-by-Member-State table adds up, row by row, to the per-provider figure and,
    column by column, to the per-Member-State figure: both are published sums."""
    table = "reports_by_provider_and_member_state"
    for provider in rows_of["reports_received"]:
        parts = [(table, key) for key in rows_of[table] if key[0] == provider[0]]
        draft.sums.append((("reports_received", provider), parts))
    for state in rows_of["reports_by_member_state"]:
        parts = [(table, key) for key in rows_of[table] if key[1] == state[0]]
        draft.sums.append((("reports_by_member_state", state), parts))


class _Shown:
    def __init__(
        self,
        values: Mapping[tuple[str, tuple[str, ...]], int],
        hidden: set[tuple[str, tuple[str, ...]]],
        threshold: int,
        previous: TransparencyReport | None,
    ) -> None:
        self._values = values
        self._hidden = hidden
        self._threshold = threshold
        self._previous = previous

    def _shown(self, cell: tuple[str, tuple[str, ...]]) -> Shown:
        return f"<{self._threshold}" if cell in self._hidden else self._values[cell]

    def figure(
        self,
        spec: FigureSpec,
        total_cell: tuple[str, tuple[str, ...]],
        keys: Sequence[tuple[str, ...]],
    ) -> Figure:
        before = self._previous.figure(spec.id) if self._previous else None
        previous_rows = {tuple(r.key.values()): r.count for r in before.rows} if before else {}
        rows = []
        for key in keys:
            count = self._shown((spec.id, key))
            rows.append(
                Row(
                    key=dict(zip(spec.breakdown, key, strict=True)),
                    count=count,
                    **_change(count, previous_rows.get(key), self._previous is not None),
                )
            )
        count = self._shown(total_cell)
        return Figure(
            id=spec.id,
            title=spec.title,
            articles=list(spec.articles),
            count=count,
            breakdown_by=list(spec.breakdown),
            rows=rows,
            note=spec.note,
            **_change(count, before.count if before else None, self._previous is not None),
        )

    def histogram(self, buckets: Sequence[str], exact: Mapping[tuple[str, ...], int]) -> Histogram:
        rows = [
            Row(key={"within_hours": b}, count=self._shown(("time_to_decision", (b,))))
            for b in buckets
        ]
        return Histogram(
            id="time_to_decision",
            title="Time from receipt to decision (hours, upper bound of each bucket)",
            articles=["Art. 48", CONTEXT],
            count=self._shown(("time_to_decision", ())),
            rows=rows,
            median_within_hours=_quantile_bucket(buckets, exact, 0.5),
            p90_within_hours=_quantile_bucket(buckets, exact, 0.9),
        )


def _change(count: Shown, previous: Shown | None, published: bool) -> dict[str, object]:
    if not published:
        return {}
    if previous is None:
        previous = 0  # the previous report had no such row: nothing was counted
    change: dict[str, object] = {"previous": previous}
    if isinstance(count, int) and isinstance(previous, int):
        change["change"] = count - previous
        if previous:
            change["change_percent"] = round((count - previous) / previous * 100, 1)
    return change


def _quantile_bucket(
    buckets: Sequence[str], exact: Mapping[tuple[str, ...], int], quantile: float
) -> str | None:
    """The bucket holding the quantile of the decisions (exact counts; a bucket bound says
    nothing about anyone)."""
    total = sum(exact.values())
    if not total:
        return None
    running = 0
    for bucket in buckets:
        running += exact.get((bucket,), 0)
        if running >= quantile * total:
            return bucket
    return buckets[-1]

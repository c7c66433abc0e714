"""The Markdown report, and the folder it is written to with its plots, hashes and results.json."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hashmatch.hashtypes import MIN_PDQ_QUALITY
from hashmatch_devtools.evaluation.analysis import Evaluation
from hashmatch_devtools.evaluation.cache import HASHES_NAME, save_hashes
from hashmatch_devtools.evaluation.curves import (
    LOOSER_PRECISION_TARGET,
    PRECISION_TARGET,
    Curve,
    best_threshold,
    default_threshold,
    strict_threshold,
)
from hashmatch_devtools.evaluation.hashing import EVALUATED_TYPES
from hashmatch_devtools.evaluation.plots import write_plots
from hashmatch_devtools.evaluation.summary import summary

REPORT_NAME = "effectiveness.md"
RESULTS_NAME = "results.json"
HEADLINE_METHODS: tuple[str, ...] = (
    "pdq",
    "phash",
    "dhash",
    "pdq+dihedral",
    "pdq+rotations",
    "pdq+trim",
    "pdq+rotations+trim",
    "phash+trim",
    "dhash+trim",
)

# Thorn's perception benchmark (recall at >= 99.99% precision), as quoted in issue 7.
THORN_PUBLISHED: dict[str, str] = {
    "PDQ overall": "77.2%",
    "pHash overall": "82.0%",
    "PDQ crop 5%": "9.0%",
    "PDQ pad 20%": "1.3%",
    "PDQ rotate 4 degrees": "54.5%",
    "PDQ blur, JPEG, resize, gamma, watermark": ">= 99%",
}
# Our transformation matching each of Thorn's quoted figures (for the side-by-side table).
THORN_COUNTERPARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("PDQ overall", "pdq", ()),
    ("pHash overall", "phash", ()),
    ("PDQ crop 5%", "pdq", ("crop_5%",)),
    ("PDQ pad 20%", "pdq", ("pad_20%",)),
    ("PDQ rotate 4 degrees", "pdq", ("rotate_4",)),
    (
        "PDQ blur, JPEG, resize, gamma, watermark",
        "pdq",
        (
            "blur",
            "jpeg_q90",
            "jpeg_q70",
            "jpeg_q50",
            "jpeg_q30",
            "resize_0.5x",
            "resize_0.25x",
            "resize_2x",
            "gamma_0.6",
            "gamma_1.6",
            "watermark_text",
            "watermark_logo",
        ),
    ),
)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _rate(count: int, total: int) -> str:
    if not total:
        return "-"
    return f"{count} / {total:,} ({count / total:.2e})"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return [*lines, ""]


def render_markdown(evaluation: Evaluation, figures: Mapping[str, str]) -> str:
    """The report: setup, headline, per-transformation recall, false matches, improvements."""
    data = summary(evaluation)
    methods = data["methods"]
    curves = evaluation.curves
    names = evaluation.transformations
    n_photos = len(evaluation.photos)
    lines: list[str] = ["# Detection effectiveness report", ""]
    sample = (
        f"a seeded random sample of {n_photos} of the {data['photos_in_folder']} photos "
        f"(`--limit {evaluation.limit} --seed {evaluation.seed}`)"
        if evaluation.limit is not None and evaluation.limit < data["photos_in_folder"]
        else f"all {n_photos} decodable photos"
    )
    lines += [
        f"Folder `{evaluation.dataset.folder}`: {sample}; {len(names)} transformations; "
        f"originals shrunk to at most {evaluation.max_side} px on the longer side first; "
        f"seed {evaluation.seed}.",
        "",
        f"- Positive pairs (each modified copy against its own original): "
        f"{data['positive_pairs']:,}.",
        f"- Negative pairs (each modified copy against every other photo's original, related "
        f"pairs left out): {data['negative_pairs']:,}. Related pairs excluded (from the "
        f"manifest notes): {data['related_pairs_excluded']}"
        + ("" if evaluation.dataset.has_manifest else " (no manifest.csv: none known)")
        + ".",
        "- Recall = matched positive pairs / positive pairs. Precision = matched positive pairs "
        "/ (matched positive + matched negative pairs), over these pair counts. False-match "
        "rate = matched pairs of distinct, unrelated originals / such pairs.",
        f"- Runtime: hashing {evaluation.hashing_seconds:.0f} s with {evaluation.workers} "
        f"worker process(es) ({data['hash_computations']:,} PDQ/pHash/dHash computations plus "
        f"8 PDQ rotations/flips per image), analysis {evaluation.analysis_seconds:.1f} s.",
        f"- Hash fingerprint `{data['fingerprint'][:16]}` (same seed and photos, same "
        "fingerprint).",
        "",
    ]
    if evaluation.failed:
        lines += ["Files that could not be decoded (left out):", ""]
        lines += [f"- `{photo.key}`: {photo.error}" for photo in evaluation.failed]
        lines.append("")

    lines += ["## Headline", ""]
    lines += [
        "Each method at its default threshold, and at the threshold with the highest recall "
        "whose precision reaches 99.99% (and 99.9%); '-' when no threshold reaches it (some "
        "unrelated pair is closer than every threshold allows). `+rotations`: the query's 8 "
        "rotated/flipped images; `+dihedral`: pdqhash's one-pass dihedral mode; `+trim`: the "
        "query also hashed with its uniform border trimmed. The last row gates the PDQ "
        f"database on quality >= {MIN_PDQ_QUALITY} (see 'PDQ quality').",
        "",
    ]
    header = [
        "method",
        "default threshold",
        "recall at default",
        "precision at default",
        "false matches at default (copies vs others)",
        "false matches among originals at default",
        "threshold, recall at >= 99.99%",
        "threshold, recall at >= 99.9%",
    ]
    rows = []
    headline_curves = [(method, curves[method], True) for method in HEADLINE_METHODS]
    if evaluation.quality_gated is not None:
        headline_curves.append(("pdq, quality >= 50", evaluation.quality_gated, False))
    for label, curve, has_originals in headline_curves:
        default = default_threshold(curve.name)
        originals = (
            _rate(*evaluation.original_false_matches(label, default)) if has_originals else "-"
        )
        strict_cells = []
        for target in (PRECISION_TARGET, LOOSER_PRECISION_TARGET):
            threshold = best_threshold(curve, target)
            strict_cells.append(
                "-" if threshold is None else f"{threshold}: {_pct(curve.recall(threshold))}"
            )
        rows.append(
            [
                label,
                default,
                _pct(curve.recall(default)),
                f"{100 * curve.precision(default):.3f}%",
                _rate(curve.false_matches(default), curve.negative_pairs),
                originals,
                *strict_cells,
            ]
        )
    lines += _table(header, rows)

    lines += ["## Recall per transformation", ""]
    best: dict[str, int | None] = {}
    label_of: dict[str, str] = {}
    for method in EVALUATED_TYPES:
        best[method], label_of[method] = strict_threshold(curves[method])
    # Columns: each type at its default, each at its strict threshold when one exists, the
    # quality-gated PDQ at its strict threshold, and PDQ with both query-side improvements.
    columns: list[tuple[str, Curve, int]] = [
        (f"{m} <= {default_threshold(m)}", curves[m], default_threshold(m)) for m in EVALUATED_TYPES
    ]
    columns += [
        (f"{m} <= {threshold} ({label_of[m]})", curves[m], threshold)
        for m in EVALUATED_TYPES
        if (threshold := best[m]) is not None
    ]
    if evaluation.quality_gated is not None:
        gated_threshold, gated_label = strict_threshold(evaluation.quality_gated)
        if gated_threshold is not None:
            columns.append(
                (
                    f"pdq, quality >= 50, <= {gated_threshold} ({gated_label})",
                    evaluation.quality_gated,
                    gated_threshold,
                )
            )
    columns.append(("pdq+rotations+trim <= 31", curves["pdq+rotations+trim"], 31))
    rows = []
    for index, name in enumerate(names):
        row: list[object] = [name]
        row += [_pct(curve.recall_per_transformation(t)[index]) for _, curve, t in columns]
        rows.append(row)
    overall: list[object] = ["**overall**"]
    overall += [_pct(curve.recall(t)) for _, curve, t in columns]
    lines += _table(["transformation", *(label for label, _, _ in columns)], [*rows, overall])
    if "recall_per_transformation" in figures:
        lines += [f"![recall per transformation]({figures['recall_per_transformation']})", ""]

    lines += ["## Recall against false matches, per threshold", ""]
    for method in EVALUATED_TYPES:
        curve = curves[method]
        rows = []
        step = 4 if method == "pdq" else 1
        shown_set = {*range(0, int(curve.thresholds[-1]) + 1, step), default_threshold(method)}
        if (strictest := best[method]) is not None:
            shown_set.add(strictest)
        shown = sorted(shown_set)
        for threshold in shown:
            original_fm, original_pairs = evaluation.original_false_matches(method, threshold)
            rows.append(
                [
                    threshold,
                    _pct(curve.recall(threshold)),
                    f"{100 * curve.precision(threshold):.3f}%",
                    _rate(curve.false_matches(threshold), curve.negative_pairs),
                    _rate(original_fm, original_pairs),
                ]
            )
        lines += [f"### {method}", ""]
        lines += _table(
            [
                "threshold",
                "recall",
                "precision",
                "false matches, copies vs other originals",
                "false matches among originals",
            ],
            rows,
        )
    if "recall_vs_false_matches" in figures:
        lines += [f"![recall against false-match rate]({figures['recall_vs_false_matches']})", ""]

    lines += [
        "## False matches among originals, per category",
        "",
        "Pairs of distinct, unrelated originals with both photos in the category, at each "
        "type's default threshold and at its strict threshold (see the table above).",
        "",
    ]
    thresholds: dict[str, int] = {m: default_threshold(m) for m in EVALUATED_TYPES}
    strict = {f"{m}@{best[m]}": best[m] for m in EVALUATED_TYPES if best[m] is not None}
    default_rates = evaluation.category_rates(thresholds)
    strict_rates = evaluation.category_rates(
        {m: best[m] for m in EVALUATED_TYPES if best[m] is not None}  # type: ignore[misc]
    )
    header = ["category", "photos", "pairs"]
    header += [f"{m} <= {t}" for m, t in thresholds.items()]
    header += [f"{key.split('@')[0]} <= {t}" for key, t in strict.items()]
    rows = []
    for default_row, strict_row in zip(default_rates, strict_rates, strict=True):
        row = [default_row.category, default_row.photos, f"{default_row.pairs:,}"]
        row += [default_row.false_matches[m] for m in thresholds]
        row += [strict_row.false_matches[key.split("@")[0]] for key in strict]
        rows.append(row)
    lines += _table(header, rows)

    lines += _quality_markdown(evaluation)
    lines += _improvements_markdown(evaluation, methods, figures)
    lines += _thorn_markdown(evaluation)
    return "\n".join(lines)


def _quality_markdown(evaluation: Evaluation) -> list[str]:
    gated = evaluation.quality_gated
    low = sum(photo.pdq_quality < MIN_PDQ_QUALITY for photo in evaluation.photos)
    lines = [
        "## PDQ quality",
        "",
        f"{low} of {len(evaluation.photos)} originals have a PDQ quality below "
        f"{MIN_PDQ_QUALITY} (flat or dark images; upstream distrusts such hashes). Below, the "
        "same PDQ figures with those originals left out of the database (and their copies "
        "out of the queries).",
        "",
    ]
    if gated is None:
        return [*lines, "Fewer than 2 originals pass the gate.", ""]
    rows = []
    for label, curve in (("all originals", evaluation.curves["pdq"]), ("quality >= 50", gated)):
        best = best_threshold(curve)
        rows.append(
            [
                label,
                curve.positives.shape[0],
                _pct(curve.recall(31)),
                _rate(curve.false_matches(31), curve.negative_pairs),
                best if best is not None else "-",
                _pct(curve.recall(best)) if best is not None else "-",
            ]
        )
    header = ["PDQ database", "photos", "recall <= 31", "false matches <= 31"]
    header += ["threshold for 99.99%", "recall there"]
    return [*lines, *_table(header, rows)]


def _improvement_rows(
    evaluation: Evaluation, before: str, after: str, threshold_of: Callable[[str], int | None]
) -> list[list[object]]:
    rows: list[list[object]] = []
    b_curve, a_curve = evaluation.curves[before], evaluation.curves[after]
    b_t, a_t = threshold_of(before), threshold_of(after)
    if b_t is None or a_t is None:
        return rows
    b_recall = b_curve.recall_per_transformation(b_t)
    a_recall = a_curve.recall_per_transformation(a_t)
    for index, name in enumerate(evaluation.transformations):
        if abs(a_recall[index] - b_recall[index]) >= 0.005:
            rows.append([name, _pct(b_recall[index]), _pct(a_recall[index])])
    rows.append(["**overall**", _pct(b_curve.recall(b_t)), _pct(a_curve.recall(a_t))])
    rows.append(
        [
            "false matches, copies vs other originals",
            _rate(b_curve.false_matches(b_t), b_curve.negative_pairs),
            _rate(a_curve.false_matches(a_t), a_curve.negative_pairs),
        ]
    )
    b_fm, pairs = evaluation.original_false_matches(before, b_t)
    a_fm, _ = evaluation.original_false_matches(after, a_t)
    rows.append(["false matches among originals", _rate(b_fm, pairs), _rate(a_fm, pairs)])
    return rows


def _improvements_markdown(
    evaluation: Evaluation, methods: Mapping[str, Any], figures: Mapping[str, str]
) -> list[str]:
    lines = ["## Improvements (before / after)", ""]
    sections = [
        (
            "(a) PDQ: the 8 rotations/flips of the query, pdqhash's one-pass dihedral mode",
            "pdq",
            "pdq+dihedral",
            "What `hashmatch hash --dihedral` does today. Cost: 8 PDQ hashes per query from one "
            "pass (about the time of one hash), and 8 lookups per query. pdqhash derives the 7 "
            "others from the original's DCT; that is only exact when its downsampling filter "
            "is symmetric, which it is not for every image size (256 or 512 px sides, say), so "
            "a flipped copy can land tens of bits away.",
        ),
        (
            "(a) PDQ: the 8 rotations/flips of the query, each rotated image hashed",
            "pdq",
            "pdq+rotations",
            "The 8 rotated/flipped pixel images hashed one by one (exact). Cost: 8 PDQ hashes "
            "per query (8 times the hashing time) and 8 lookups.",
        ),
        (
            "(b) Uniform borders trimmed: pdq",
            "pdq",
            "pdq+trim",
            "When the query has a uniform border, it is also hashed with the border trimmed, "
            "and matches when either hash is within the threshold of the database hash (the "
            "database is hashed as always). Cost: a look at the outer lines of pixels (a few "
            "ms); for bordered queries only, one more hash and one more lookup.",
        ),
        ("(b) Uniform borders trimmed: phash", "phash", "phash+trim", ""),
        ("(b) Uniform borders trimmed: dhash", "dhash", "dhash+trim", ""),
        (
            "(a) and (b) together: pdq",
            "pdq",
            "pdq+rotations+trim",
            "The 8 rotated/flipped images of the query and its trimmed copy: 9 PDQ hashes per "
            "bordered query, 8 otherwise.",
        ),
    ]
    for title, before, after, cost in sections:
        lines += [f"### {title}", ""]
        if cost:
            lines += [cost, ""]
        for label, threshold_of in (
            ("at the default threshold", default_threshold),
            (
                "each at its own strict threshold (precision >= 99.99%, else >= 99.9%)",
                lambda m: strict_threshold(evaluation.curves[m])[0],
            ),
        ):
            b_t, a_t = threshold_of(before), threshold_of(after)
            lines += [f"{label.capitalize()} (before <= {b_t}, after <= {a_t}):", ""]
            rows = _improvement_rows(evaluation, before, after, threshold_of)
            lines += _table(["transformation", "before", "after"], rows) if rows else ["-", ""]
    if "improvements" in figures:
        lines += [f"![improvements]({figures['improvements']})", ""]

    lines += [
        "### (c) Two hash types combined",
        "",
        "Every pair of thresholds was tried; the best rule at each precision target is "
        "shown against the best single type. `and`: both distances within their thresholds "
        "(lets each threshold be looser); `or`: either within (needs each stricter). Cost: "
        "both hashes per query and per database entry, two lookups.",
        "",
    ]
    for target in (PRECISION_TARGET, LOOSER_PRECISION_TARGET):
        lines += _combination_rows(evaluation, target)
    return lines


def _combination_rows(evaluation: Evaluation, target: float) -> list[str]:
    singles = []
    for method in EVALUATED_TYPES:
        threshold = best_threshold(evaluation.curves[method], target)
        if threshold is not None:
            singles.append((evaluation.curves[method].recall(threshold), method, threshold))
    rows: list[list[object]] = []
    if singles:
        recall, method, threshold = max(singles)
        rows.append([f"best single: {method}", f"<= {threshold}", _pct(recall), ""])
    else:
        rows.append(["best single", "none reaches the target", "-", ""])
    rows += [
        [
            f"{c.types[0]} {c.rule} {c.types[1]}",
            f"<= {c.thresholds[0]}, <= {c.thresholds[1]}",
            _pct(c.recall),
            c.false_matches,
        ]
        for c in evaluation.combinations
        if c.target == target
    ]
    header = ["rule", "thresholds", f"recall at >= {100 * target:g}%", "false matches"]
    return [f"Precision >= {100 * target:g}%:", "", *_table(header, rows)]


def _thorn_markdown(evaluation: Evaluation) -> list[str]:
    lines = [
        "## Beside Thorn's perception benchmark",
        "",
        "Recall at precision >= 99.99% (ours also at >= 99.9%; PDQ with the database gated on "
        f"quality >= {MIN_PDQ_QUALITY} when that curve exists, as our service matches). "
        "Thorn's figures come from their own data set, transformation parameters and precision "
        "bookkeeping; ours from this folder and the transformations above, so only the "
        "pattern is comparable.",
        "",
    ]
    rows = []
    names = evaluation.transformations
    for label, method, transformations in THORN_COUNTERPARTS:
        curve = evaluation.curves[method]
        if method == "pdq" and evaluation.quality_gated is not None:
            curve = evaluation.quality_gated
        cells = []
        for target in (PRECISION_TARGET, LOOSER_PRECISION_TARGET):
            threshold = best_threshold(curve, target)
            if threshold is None:
                cells.append("-")
                continue
            if not transformations:
                cells.append(f"{_pct(curve.recall(threshold))} (<= {threshold})")
                continue
            per = curve.recall_per_transformation(threshold)
            values = [per[names.index(n)] for n in transformations if n in names]
            if not values:
                cells.append("-")
            elif len(values) == 1:
                cells.append(f"{_pct(values[0])} (<= {threshold})")
            else:
                cells.append(f"{_pct(min(values))} lowest (<= {threshold})")
        rows.append([label, THORN_PUBLISHED[label], *cells])
    header = ["figure", "Thorn (published)", "ours, >= 99.99%", "ours, >= 99.9%"]
    return [*lines, *_table(header, rows)]


def write_report(evaluation: Evaluation, out: Path) -> Path:
    """Markdown report, PNG plots and results.json in ``out`` (created); returns the report."""
    out.mkdir(parents=True, exist_ok=True)
    figures = write_plots(evaluation, out)
    report = out / REPORT_NAME
    report.write_text(render_markdown(evaluation, figures), encoding="utf-8")
    save_hashes([*evaluation.photos, *evaluation.failed], out / HASHES_NAME)
    (out / RESULTS_NAME).write_text(
        json.dumps(summary(evaluation), indent=2, sort_keys=True), encoding="utf-8"
    )
    return report

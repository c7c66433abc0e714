"""The published report's three forms, each made from the JSON alone (so a retried publication
renders the same bytes): the JSON itself, a CSV, and one self-contained HTML page.

The page has no scripts, fonts, images or links to anything: inline CSS and inline SVG charts
drawn here (one ``<svg class="chart" data-chart="...">`` per chart), every text escaped.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence

from hashmatch.statistics.query import safe_cell
from hashmatch.transparency.model import Figure, Row, Shown, TransparencyReport

JSON_NAME = "report.json"
CSV_NAME = "report.csv"
HTML_NAME = "report.html"
MAX_CHART_ROWS = 30
_BAR = "#2457a6"
_SUPPRESSED = "#a9bcdc"


def report_json(report: TransparencyReport) -> bytes:
    return (report.model_dump_json(by_alias=True, indent=2) + "\n").encode()


def report_csv(report: TransparencyReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "id", "key", "value", "previous", "change", "change_percent"])
    meta = {
        "schema": report.schema_,
        "status": report.status,
        "year": report.year,
        "generated_at": report.generated_at.isoformat(),
        "suppression_threshold": report.suppression.threshold,
        "audit_head_seq": report.audit_head.seq if report.audit_head else "",
        "audit_head_digest": report.audit_head.digest if report.audit_head else "",
        "previous_year_published": report.previous_year.published,
    }
    for name, value in meta.items():
        writer.writerow(["meta", name, "", value, "", "", ""])
    for figure in report.figures:
        writer.writerow(["figure", figure.id, "total", *_cells(figure)])
        for row in figure.rows:
            writer.writerow(["figure", figure.id, _key_text(row), *_cells(row)])
    histogram = report.time_to_decision
    writer.writerow(["time_to_decision", histogram.id, "total", histogram.count, "", "", ""])
    for row in histogram.rows:
        writer.writerow(["time_to_decision", histogram.id, _key_text(row), row.count, "", "", ""])
    writer.writerow(["time_to_decision", "median_within_hours", "", histogram.median_within_hours])
    writer.writerow(["time_to_decision", "p90_within_hours", "", histogram.p90_within_hours])
    for rates in report.error_rates.hash_types:
        section, prefix = "error_rates", f"{rates.hash_type}@{rates.threshold}"
        writer.writerow([section, prefix, "recall", rates.recall, "", "", ""])
        writer.writerow([section, prefix, "false_match_rate", rates.false_match_rate, "", "", ""])
        for item in rates.recall_per_transformation:
            key = f"transformation={item.transformation}"
            writer.writerow([section, prefix, key, item.recall, "", "", ""])
    return out.getvalue().encode()


def _cells(item: Figure | Row) -> list[object]:
    return [
        item.count,
        "" if item.previous is None else item.previous,
        "" if item.change is None else item.change,
        "" if item.change_percent is None else item.change_percent,
    ]


def _key_text(row: Row) -> str:
    return safe_cell("; ".join(f"{name}={value}" for name, value in row.key.items()))


# -- the page ------------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;
color:#1b1f24;background:#fff;line-height:1.45}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:1.7rem;margin:0 0 .3rem}h2{font-size:1.15rem;margin:2rem 0 .3rem}
.meta,.note,.articles{color:#4a5360;font-size:.9rem}
.status{display:inline-block;padding:2px 8px;border-radius:4px;background:#e6edf7;
font-weight:600;font-size:.85rem}
.status.draft{background:#fde9c8}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:1rem 0}
.card{border:1px solid #d5dbe3;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:1.4rem}
table{border-collapse:collapse;font-size:.88rem;margin:.5rem 0}
th,td{border-bottom:1px solid #e3e7ec;padding:3px 10px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{display:block;margin:.4rem 0}
code{font-size:.85rem;word-break:break-all}
"""


def report_html(report: TransparencyReport) -> bytes:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>hashmatch transparency report {report.year}</title>",
        f"<style>{_STYLE}</style></head><body><main>",
        _header(report),
        _cards(report),
    ]
    for figure in report.figures:
        parts.append(_figure(figure, report.suppression.threshold))
    parts.append(_histogram(report))
    parts.append(_error_rates(report))
    parts.append(_footer(report))
    parts.append("</main></body></html>")
    return "\n".join(parts).encode()


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _header(report: TransparencyReport) -> str:
    head = report.audit_head
    audit = (
        f"Audit chain head when made: entry {head.seq}, digest <code>{_e(head.digest)}</code>"
        if head
        else "Audit chain: empty when made"
    )
    previous = report.previous_year
    before = (
        f"Changes are against the published report for {previous.year}"
        + (f" (SHA-256 <code>{_e(previous.digest)}</code>)" if previous.digest else "")
        if previous.published
        else f"No report for {previous.year} was published: no changes are given"
    )
    return (
        f"<h1>Transparency report {report.year}</h1>"
        f'<p><span class="status {_e(report.status)}">{_e(report.status)}</span> '
        f"{_e(report.period_from)} to {_e(report.period_to)} &middot; generated "
        f"{_e(report.generated_at.isoformat(timespec='seconds'))} &middot; schema "
        f"{_e(report.schema_)}.{report.schema_minor}</p>"
        f'<p class="meta">Statistics of the EU Centre\'s hash matching service under COM(2022) '
        "209, Art. 83(3) and 84, without personal data. "
        f"{audit}. {before}.</p>"
        f'<p class="meta">Small cells: {_e(report.suppression.rule)}</p>'
    )


_CARD_FIGURES = (
    "indicators_active",
    "reports_received",
    "reports_forwarded",
    "reports_unfounded",
    "repeat_reports",
    "matches",
)


def _cards(report: TransparencyReport) -> str:
    cards = []
    for figure_id in _CARD_FIGURES:
        figure = report.figure(figure_id)
        cards.append(
            f'<div class="card" data-figure="{_e(figure.id)}">{_e(_short(figure.title))}'
            f"<b>{_e(figure.count)}</b>{_change_text(figure)}</div>"
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


def _short(title: str) -> str:
    return title.split(",")[0]


def _change_text(item: Figure | Row) -> str:
    if item.previous is None:
        return ""
    if item.change is None:
        return f'<span class="note">previous year {_e(item.previous)}</span>'
    sign = "+" if item.change > 0 else ""
    percent = f" ({sign}{item.change_percent}%)" if item.change_percent is not None else ""
    return f'<span class="note">{sign}{item.change}{percent} on {_e(item.previous)}</span>'


def _figure(figure: Figure, threshold: int) -> str:
    articles = ", ".join(figure.articles)
    parts = [
        f'<section id="{_e(figure.id)}"><h2>{_e(figure.title)}</h2>',
        f'<p class="articles">{_e(articles)} &middot; total <b>{_e(figure.count)}</b> '
        f"{_change_text(figure)}</p>",
    ]
    if figure.note:
        parts.append(f'<p class="note">{_e(figure.note)}</p>')
    rows = figure.rows
    if not rows and figure.count == 0:
        parts.append('<p class="note">Nothing was counted this year.</p>')
    if rows and any(row.count != 0 for row in rows):
        labels = [", ".join(row.key.values()) for row in rows[:MAX_CHART_ROWS]]
        scale = figure.count if isinstance(figure.count, int) else None
        values = [r.count for r in rows[:MAX_CHART_ROWS]]
        parts.append(_bar_chart(figure.id, labels, values, threshold, scale))
    if rows:
        parts.append(_table(figure.breakdown_by, rows))
    parts.append("</section>")
    return "".join(parts)


def _table(names: Sequence[str], rows: Sequence[Row]) -> str:
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    body = []
    for row in rows:
        cells = "".join(f"<td>{_e(v)}</td>" for v in row.key.values())
        previous = "" if row.previous is None else row.previous
        change = "" if row.change is None else f"{row.change:+d}"
        body.append(
            f'<tr>{cells}<td class="n">{_e(row.count)}</td><td class="n">{_e(previous)}</td>'
            f'<td class="n">{_e(change)}</td></tr>'
        )
    return (
        f"<table><thead><tr>{head}<th>count</th><th>previous year</th><th>change</th></tr>"
        f"</thead><tbody>{''.join(body)}</tbody></table>"
    )


def _bar_chart(
    chart_id: str,
    labels: Sequence[str],
    values: Sequence[Shown],
    threshold: int,
    scale: int | None,
) -> str:
    """Horizontal bars, one per row, against the figure's total when it is shown; a suppressed
    count is a pale bar of the largest it could be, marked "<N"."""
    numbers = [v if isinstance(v, int) else threshold - 1 for v in values]
    top = max([*numbers, scale or 0, 1])
    label_width, bar_width, row_height = 260, 560, 22
    height, width = row_height * len(values) + 8, label_width + bar_width + 70
    out = [
        f'<svg class="chart" data-chart="{_e(chart_id)}" role="img" width="{width}"'
        f' height="{height}" viewBox="0 0 {width} {height}" aria-label="{_e(chart_id)} chart">'
    ]
    for index, (label, value, number) in enumerate(zip(labels, values, numbers, strict=True)):
        y = 4 + index * row_height
        width = max(2, round(bar_width * number / top)) if number else 0
        color = _BAR if isinstance(value, int) else _SUPPRESSED
        out.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{_e(label[:40])}</text>"
        )
        if width:
            out.append(
                f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{width}" height="15" '
                f'fill="{color}"/>'
            )
        out.append(
            f'<text x="{label_width + width + 6}" y="{y + 15}" font-size="12">{_e(value)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _column_chart(
    chart_id: str, labels: Sequence[str], values: Sequence[float], *, percent: bool
) -> str:
    """Vertical columns (the histogram, recall per transformation), values from 0."""
    column, gap, plot_height, label_space = 26, 6, 160, 90
    width = len(values) * (column + gap) + 50
    height = plot_height + label_space
    top = 1.0 if percent else max([*values, 1.0])
    out = [
        f'<svg class="chart" data-chart="{_e(chart_id)}" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{_e(chart_id)} chart">',
        f'<line x1="40" y1="{plot_height}" x2="{width}" y2="{plot_height}" stroke="#8a94a3"/>',
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = 44 + index * (column + gap)
        bar = round(plot_height * value / top) if top else 0
        text = f"{value * 100:.0f}%" if percent else f"{value:g}"
        if bar:
            out.append(
                f'<rect class="bar" x="{x}" y="{plot_height - bar}" width="{column}" '
                f'height="{bar}" fill="{_BAR}"/>'
            )
        out.append(
            f'<text x="{x + column / 2}" y="{plot_height - bar - 3}" font-size="9" '
            f'text-anchor="middle">{_e(text)}</text>'
        )
        out.append(
            f'<text font-size="10" text-anchor="end" '
            f'transform="translate({x + column / 2 + 3},{plot_height + 8}) rotate(-60)">'
            f"{_e(label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _histogram(report: TransparencyReport) -> str:
    histogram = report.time_to_decision
    parts = [
        f'<section id="{_e(histogram.id)}"><h2>{_e(histogram.title)}</h2>',
        f'<p class="articles">{_e(", ".join(histogram.articles))} &middot; decisions '
        f"<b>{_e(histogram.count)}</b> &middot; median within "
        f"{_e(histogram.median_within_hours or '-')} h &middot; 90% within "
        f"{_e(histogram.p90_within_hours or '-')} h</p>",
    ]
    threshold = report.suppression.threshold
    values = [
        float(r.count) if isinstance(r.count, int) else threshold - 1.0 for r in histogram.rows
    ]
    if any(values):
        labels = [f"<= {r.key['within_hours']} h" for r in histogram.rows]
        parts.append(_column_chart(histogram.id, labels, values, percent=False))
        parts.append(_table(["within_hours"], histogram.rows))
    else:
        parts.append('<p class="note">No decision was counted this year.</p>')
    parts.append("</section>")
    return "".join(parts)


def _error_rates(report: TransparencyReport) -> str:
    rates = report.error_rates
    parts = [
        '<section id="error_rates"><h2>Error rates of the detection technology in force</h2>',
        f'<p class="meta">Evaluated on {_e(rates.evaluated_on)} on {_e(rates.dataset)}, with '
        f"<code>{_e(rates.command)}</code> (hashes fingerprint <code>{_e(rates.fingerprint)}"
        f"</code>). {_e(rates.note)}</p>",
        "<table><thead><tr><th>hash type</th><th>threshold</th><th>databases</th><th>recall</th>"
        "<th>false matches</th><th>false-match rate</th></tr></thead><tbody>",
    ]
    for item in rates.hash_types:
        parts.append(
            f"<tr><td>{_e(item.hash_type)}</td><td class='n'>{item.threshold}</td>"
            f"<td>{_e(', '.join(item.databases))}</td>"
            f"<td class='n'>{item.recall * 100:.1f}%</td>"
            f"<td class='n'>{item.false_matches} / {item.pairs:,}</td>"
            f"<td class='n'>{item.false_match_rate:.2e}</td></tr>"
        )
    parts.append("</tbody></table>")
    for item in rates.hash_types:
        parts.append(
            f"<h3>{_e(item.hash_type)} at distance &le; {item.threshold}: recall per "
            "transformation</h3>"
        )
        labels = [t.transformation for t in item.recall_per_transformation]
        values = [t.recall for t in item.recall_per_transformation]
        # One chart per type, unless databases match it at different thresholds.
        several = sum(1 for other in rates.hash_types if other.hash_type == item.hash_type) > 1
        chart_id = f"recall_{item.hash_type}" + (f"_{item.threshold}" if several else "")
        parts.append(_column_chart(chart_id, labels, values, percent=True))
    parts.append("</section>")
    return "".join(parts)


def _footer(report: TransparencyReport) -> str:
    notes = "".join(f"<li>{_e(note)}</li>" for note in report.notes)
    return (
        '<footer class="meta"><p>Every figure, where it is counted and which article asks for '
        "it: docs/transparency.md of the hashmatch repository. The same figures are published "
        f"as JSON and CSV.</p><ul>{notes}</ul></footer>"
    )

"""Two known years of activity on a local stack of their own, and their published reports.

``python -m hashmatch_devtools.transparency_demo`` (a subprocess: its own local stack, beside
the package's) drives, with the clock override, year 1 and year 2 through the API: indicators,
matches (one batch retried with its Idempotency-Key), reports (one message delivered twice,
repeat reports), decisions through the reviewer API (four eyes, an information request),
deliveries by forward_reports to fake recipients, erasures; the daily schedule publishes each
year. Here
every figure of year 2's published report is checked, with its change from year 1; the files
are scanned for every secret the run used; and the page is rendered in a real browser.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
U = "<5"  # a suppressed count


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("transparency")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for name in ("STATISTICS_TABLE", "AUDIT_TABLE", "TRANSPARENCY_BUCKET"):
        environment.pop(name, None)
    subprocess.run(
        [sys.executable, "-m", "hashmatch_devtools.transparency_demo", "--out", str(out)],
        cwd=PROJECT_ROOT,
        env=environment,
        check=True,
        timeout=900,
        capture_output=True,
    )
    seeded = json.loads((out / "seeded.json").read_text())
    first, second = seeded["years"]
    return {
        "out": out,
        "seeded": seeded,
        "first": first,
        "second": second,
        "reports": {
            year: json.loads((out / str(year) / "report.json").read_text())
            for year in seeded["years"]
        },
    }


def figures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {figure["id"]: figure for figure in report["figures"]}


def summary(figure: dict[str, Any]) -> tuple[Any, ...]:
    return (figure["count"], figure["previous"], figure["change"], figure["change_percent"])


def rows(figure: dict[str, Any]) -> dict[tuple[str, ...], Any]:
    return {tuple(row["key"].values()): row["count"] for row in figure["rows"]}


def test_every_figure_of_the_seeded_year_is_as_done(published):
    report = published["reports"][published["second"]]
    got = figures(report)

    # (count, previous year's count, change, change in %)
    assert summary(got["indicators_active"]) == (9, 6, 3, 50.0)
    assert rows(got["indicators_active"]) == {("known", "image"): U, ("new", "image"): U}
    assert summary(got["indicators_added"]) == (5, 6, -1, -16.7)
    assert rows(got["indicators_added"]) == {("new", "FR"): 5}
    assert summary(got["indicators_suspended"]) == (U, 0, None, None)
    assert summary(got["indicators_revoked"]) == (U, 0, None, None)
    # the retried batch counted once: 10 + 5 + 2 items
    assert summary(got["queries"]) == (17, 8, 9, 112.5)
    assert rows(got["queries"]) == {
        ("pdq", "matched"): 12,
        ("pdq", "no_match"): U,
        ("pdq", "rejected"): U,
    }
    assert summary(got["matches"]) == (12, 6, 6, 100.0)
    assert rows(got["matches"]) == {("known", "image"): U, ("new", "image"): U}
    # the message delivered twice counted once: 10 + 2 reports
    assert summary(got["reports_received"]) == (12, 6, 6, 100.0)
    # Beta's 2 reports are a small cell; with two providers Alpha's 10 would give them away
    assert rows(got["reports_received"]) == {("Alpha Hosting SA",): U, ("Beta Cloud BV",): U}
    assert rows(got["reports_by_member_state"]) == {("DE",): U, ("FR",): U}
    assert rows(got["reports_by_provider_and_member_state"]) == {
        ("Alpha Hosting SA", "DE"): U,
        ("Beta Cloud BV", "FR"): U,
    }
    assert rows(got["reports_by_content"]) == {("image", "normal"): U, ("image", "urgent"): U}
    # five of the six reports citing one indicator cited it after an earlier one
    assert summary(got["repeat_reports"]) == (5, 0, 5, None)
    assert summary(got["reports_per_indicator"]) == (7, 6, 1, 16.7)
    assert rows(got["reports_per_indicator"]) == {
        ("1",): U, ("2",): 0, ("3-5",): 0, ("6-10",): U, ("more than 10",): 0,
    }  # fmt: skip
    # five to Germany, Beta's urgent one to France after a second reviewer's confirmation
    assert summary(got["reports_forwarded"]) == (6, 5, 1, 20.0)
    assert rows(got["reports_forwarded"]) == {("DE",): U, ("FR",): U}
    assert summary(got["reports_unfounded"]) == (6, U, None, None)
    assert rows(got["reports_unfounded"]) == {
        ("indicator_wrong",): U,
        ("not_a_match",): U,
        ("outside_scope",): U,
    }
    # not_a_match and indicator_wrong: one false match against each cited (new) indicator
    assert summary(got["false_matches"]) == (U, 0, None, None)
    assert rows(got["false_matches"]) == {("new",): U}
    assert summary(got["information_requests"]) == (U, 0, None, None)
    # delivered by forward_reports: Europol 6, Germany 5, France 1
    assert summary(got["forwarding"]) == (12, 10, 2, 20.0)
    assert rows(got["forwarding"]) == {
        ("DE", "delivered"): U,
        ("FR", "delivered"): U,
        ("europol", "delivered"): 6,
    }
    # 5 forwarded reports of year 1 and 6 unfounded ones of year 2, with their 11 match events,
    # the retried batch's 5 uncited events, the 11 forwarded copies, the question's text, the
    # revoked indicator's provenance
    # and the probing sketches the demo's matches left (one per client and hour it matched in:
    # a small cell, 1 to 4 depending on where the hours fall)
    erased = rows(got["erasures"])
    assert erased.pop(("probing_sketches",)) == U
    count, *rest = summary(got["erasures"])
    assert 40 < count < 45
    assert rest == [U, None, None]
    assert erased == {
        ("indicator_provenance",): U,
        ("information_requests",): U,
        ("match_events",): 16,
        ("outbound_messages",): 11,
        ("reports",): 11,
    }
    assert set(got) == {
        "indicators_active", "indicators_added", "indicators_suspended", "indicators_revoked",
        "queries", "matches", "reports_received", "reports_by_member_state",
        "reports_by_provider_and_member_state", "reports_by_content", "repeat_reports",
        "reports_per_indicator", "reports_forwarded", "reports_unfounded", "false_matches",
        "information_requests", "forwarding", "erasures",
    }  # fmt: skip
    histogram = report["time_to_decision"]
    assert histogram["count"] == 12
    assert {r["key"]["within_hours"]: r["count"] for r in histogram["rows"] if r["count"]} == {
        "4": U,
        "48": U,
    }
    assert (histogram["median_within_hours"], histogram["p90_within_hours"]) == ("48", "48")


def test_the_first_year_is_what_the_second_compares_with(published):
    got = figures(published["reports"][published["first"]])

    assert summary(got["queries"]) == (8, None, None, None)
    assert rows(got["queries"]) == {("pdq", "matched"): U, ("pdq", "no_match"): U}
    assert rows(got["reports_received"]) == {("Alpha Hosting SA",): 6}
    assert rows(got["reports_forwarded"]) == {("DE",): 5}
    assert got["reports_unfounded"]["count"] == U
    assert rows(got["forwarding"]) == {("DE", "delivered"): 5, ("europol", "delivered"): 5}
    assert rows(got["indicators_active"]) == {("known", "image"): 6}
    assert published["reports"][published["first"]]["previous_year"]["published"] is False


def test_the_report_states_its_rule_error_rates_and_audit_head(published):
    report = published["reports"][published["second"]]
    publication = published["seeded"]["published"][str(published["second"])]

    assert report["schema"] == "hashmatch-transparency/1"
    assert report["status"] == "published"
    assert report["suppression"]["threshold"] == 5
    assert report["audit_head"] == publication["audit_head"]
    first_json = (published["out"] / str(published["first"]) / "report.json").read_bytes()
    assert report["previous_year"]["digest"] == hashlib.sha256(first_json).hexdigest()
    rates = {item["hash_type"]: item for item in report["error_rates"]["hash_types"]}
    assert {name: item["threshold"] for name, item in rates.items()} == {
        "dhash": 8,
        "pdq": 31,
        "phash": 8,
    }
    assert len(rates["pdq"]["recall_per_transformation"]) == 29
    assert report["error_rates"]["command"].startswith(".venv/bin/python bench/effectiveness.py")


def test_what_the_public_reads_is_what_was_published_and_audited(published):
    for year in (published["first"], published["second"]):
        folder = published["out"] / str(year)
        body = (folder / "report.json").read_bytes()
        digest = published["seeded"]["published"][str(year)]["sha256"]
        assert hashlib.sha256(body).hexdigest() == digest
        assert (folder / "public.json").read_bytes() == body
        assert (folder / "public.html").read_bytes() == (folder / "report.html").read_bytes()
        table = list(csv.DictReader(io.StringIO((folder / "report.csv").read_text())))
        queries = next(r for r in table if r["id"] == "queries" and r["key"] == "total")
        assert int(queries["value"]) == json.loads(body)["figures"][4]["count"]


def test_the_auditor_sees_the_repeat_and_the_retries_unsuppressed(published):
    table = list(
        csv.DictReader(
            io.StringIO(
                (published["out"] / str(published["second"]) / "statistics.csv").read_text()
            )
        )
    )

    def total(dimension: str, **match: str) -> int:
        return sum(
            int(r["count"])
            for r in table
            if r["dimension"] == dimension and all(r[k] == v for k, v in match.items())
        )

    assert total("repeat_reports") == 5
    # The auditor's counters name providers by organisation id (the published report by name).
    beta = published["seeded"]["organisations"]["Beta Cloud BV"]
    assert total("reports_received", provider=beta) == 2
    assert total("information_requests") == 1
    assert total("false_matches") == 2
    assert total("decisions", outcome="forwarded", member_state="FR") == 1
    assert total("queries", outcome="rejected", reason="invalid-hash") == 1
    assert total("queries") == 17


def test_no_secret_of_the_seeded_run_is_in_any_published_file(published):
    secrets = published["seeded"]["secrets"]
    assert len(secrets) > 50  # keys, client ids, content refs, hashes, notes, reasons, ids
    for year in (published["first"], published["second"]):
        folder = published["out"] / str(year)
        for name in ("report.json", "report.csv", "report.html", "public.json", "public.html"):
            text = (folder / name).read_text().lower()
            assert [secret for secret in secrets if secret.lower() in text] == [], name
        # The auditor's counters name indicators only in false_matches (by design; not published)
        text = (folder / "statistics.csv").read_text().lower()
        found = [secret for secret in secrets if secret.lower() in text]
        assert all(secret.startswith("ind_") for secret in found), found


# -- the page in a real browser ------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    # Nothing may be fetched: every host resolves to nowhere.
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
WIDTH = 1100
# Reads each chart's box after layout (only in the test's copy of the page: the page has none).
MEASURE = """<script>
const boxes = document.createElement("pre");
boxes.id = "chart" + "-boxes";
boxes.textContent = JSON.stringify({
  height: document.documentElement.scrollHeight,
  charts: [...document.querySelectorAll("svg.chart")].map((chart) => {
    const box = chart.getBoundingClientRect();
    return {id: chart.dataset.chart, x: box.x + scrollX, y: box.y + scrollY,
            w: box.width, h: box.height, bars: chart.querySelectorAll("rect.bar").length};
  }),
});
document.body.append(boxes);
</script>"""
BAR_COLOURS = ((0x24, 0x57, 0xA6), (0xA9, 0xBC, 0xDC))


def bar_pixels(region: Any) -> int:
    """Pixels of a bar's colour (either shade) in ``region``."""
    colours: list[tuple[int, tuple[int, int, int]]] = region.getcolors(maxcolors=1 << 22) or []
    return sum(
        count
        for count, colour in colours
        if any(
            sum(abs(a - b) for a, b in zip(colour, bar, strict=True)) < 40 for bar in BAR_COLOURS
        )
    )


def chromium(profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_the_page_draws_every_chart_in_a_real_browser(published, tmp_path):
    from PIL import Image

    page = published["out"] / str(published["second"]) / "report.html"
    measured = tmp_path / "measured.html"
    measured.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))

    # Where each chart is, once the browser has laid the page out
    dom = chromium(tmp_path / "p1", f"--window-size={WIDTH},2000", "--dump-dom", measured.as_uri())
    found = re.search(r'<pre id="chart-boxes">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    layout = json.loads(html.unescape(found.group(1)))
    charts = layout["charts"]
    expected = {
        f["id"] for f in published["reports"][published["second"]]["figures"]
        if any(r["count"] != 0 for r in f["rows"])
    } | {"time_to_decision", "recall_dhash", "recall_pdq", "recall_phash"}  # fmt: skip
    assert {chart["id"] for chart in charts} == expected

    # The page itself (no script), as the browser paints it
    shot = tmp_path / "page.png"
    chromium(
        tmp_path / "p2",
        f"--window-size={WIDTH},{layout['height']}",
        f"--screenshot={shot}",
        page.as_uri(),
    )
    image = Image.open(shot).convert("RGB")
    for chart in charts:
        box = (
            int(chart["x"]),
            int(chart["y"]),
            int(chart["x"] + chart["w"]),
            int(chart["y"] + chart["h"]),
        )
        painted = bar_pixels(image.crop(box))
        assert chart["bars"] >= 1, chart["id"]
        assert painted >= 20 * chart["bars"], (chart["id"], painted)

"""The settings compared, their figures on each half, and the Markdown report."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashmatch.hashtypes import HASH_TYPES, MAX_INDICATOR_HASHES
from hashmatch.index import AddIndicator, Snapshot, default_chunk_count
from hashmatch.index.bits import split_widths
from hashmatch.matching.limits import MAX_ALTERNATES_PER_ITEM
from hashmatch_client import imaging
from hashmatch_devtools.evaluation.augmentation.bank import (
    AUGMENTED,
    DIHEDRAL,
    ORIGINAL,
    STANDARD,
    TODAY_ALTERNATES,
    UNSEEN,
    VARIANTS,
    Bank,
)
from hashmatch_devtools.evaluation.augmentation.scoring import (
    MAX_SCORE,
    PRECISION_TARGET,
    TODAYS_GATES,
    Curve,
    Gates,
    HashCounts,
    Setting,
    accepted_indicators,
    best_threshold,
    build_curve,
    hash_counts,
    score_tensors,
)
from hashmatch_devtools.evaluation.dataset import Dataset, Photo

HALVES = ("tuning", "held_out", "full")
PDQ = HASH_TYPES["pdq"]
DEPLOYED_PDQ = PDQ.default_threshold
DEPLOYED_AGREEMENT = PDQ.default_agreement_threshold
WEAK_ROWS = ("crop_2%", "crop_5%", "crop_10%", "rotate_2", "rotate_4", "pad_5%", "pad_20%")
GOAL_RECALL, GOAL_GAP, GOAL_ROWS = 0.85, 0.03, {"crop_5%": 0.60, "rotate_4": 0.60, "pad_20%": 0.75}


@dataclass(frozen=True)
class Split:
    seed: int
    tuning: frozenset[str]
    held_out: frozenset[str]

    def half(self, name: str) -> frozenset[str] | None:
        return {"tuning": self.tuning, "held_out": self.held_out}.get(name)


def split_photos(photos: Sequence[Photo], seed: int) -> Split:
    """Each category's photos shuffled with ``seed``; the first half (rounded up) tunes."""
    by_category: dict[str, list[str]] = {}
    for photo in photos:
        by_category.setdefault(photo.category, []).append(photo.key)
    tuning: set[str] = set()
    held_out: set[str] = set()
    for category in sorted(by_category):
        keys = sorted(by_category[category])
        random.Random(f"{seed}\x00{category}").shuffle(keys)
        cut = (len(keys) + 1) // 2
        tuning.update(keys[:cut])
        held_out.update(keys[cut:])
    return Split(seed, frozenset(tuning), frozenset(held_out))


@dataclass(frozen=True)
class Entry:
    label: str
    idea: str
    setting: Setting
    threshold: int | None = None  # None: tuned on the tuning half


PLAIN = ("plain",)
V16 = VARIANTS
RULE = "pdq+dhash"
PER_HASH = Gates()
ITEM_ONLY = Gates(variants=False, alternates=False)

ENTRIES: tuple[Entry, ...] = (
    Entry("today: PDQ", "today", Setting(PLAIN, PLAIN, gates=TODAYS_GATES), DEPLOYED_PDQ),
    Entry(
        "today: rotations+trim",
        "today",
        Setting(PLAIN, TODAY_ALTERNATES, gates=TODAYS_GATES),
        DEPLOYED_PDQ,
    ),
    Entry(
        "today: rotations+trim, tuned",
        "today",
        Setting(PLAIN, TODAY_ALTERNATES, gates=TODAYS_GATES),
    ),
    Entry(
        "variants only (16, PDQ)", "variants", Setting(V16, TODAY_ALTERNATES, gates=TODAYS_GATES)
    ),
    Entry("alternates only (10, PDQ)", "alternates", Setting(PLAIN, AUGMENTED, gates=TODAYS_GATES)),
    Entry("rule only (pdq+dhash)", "rule", Setting(PLAIN, TODAY_ALTERNATES, RULE, TODAYS_GATES)),
    Entry(
        "variants + alternates (PDQ)",
        "variants+alternates",
        Setting(V16, AUGMENTED, gates=TODAYS_GATES),
    ),
    Entry("variants + alternates + rule", "rule", Setting(V16, AUGMENTED, RULE, ITEM_ONLY)),
    Entry("+ gates on variants, alternates: 16", "gates", Setting(V16, AUGMENTED, RULE, PER_HASH)),
    Entry(
        "deployed: 16 variants",
        "deployed",
        Setting(V16, AUGMENTED, RULE, PER_HASH),
        DEPLOYED_AGREEMENT,
    ),
    Entry("8 variants", "variant count", Setting(V16[:8], AUGMENTED, RULE, PER_HASH)),
    Entry(
        "deployed: 8 variants",
        "variant count",
        Setting(V16[:8], AUGMENTED, RULE, PER_HASH),
        DEPLOYED_AGREEMENT,
    ),
    Entry("4 variants", "variant count", Setting(V16[:4], AUGMENTED, RULE, PER_HASH)),
    Entry(
        "deployed: 4 variants",
        "variant count",
        Setting(V16[:4], AUGMENTED, RULE, PER_HASH),
        DEPLOYED_AGREEMENT,
    ),
)
DEPLOYED_LABEL = "deployed: 16 variants"
TODAY_DEPLOYED = ("today: PDQ", "today: rotations+trim")


@dataclass
class Result:
    entry: Entry
    threshold: int | None
    curves: dict[str, Curve]  # half -> standard transformations
    unseen: dict[str, Curve]  # half -> unseen transformations
    counts: HashCounts


def run_settings(bank: Bank, split: Split, entries: Sequence[Entry] = ENTRIES) -> list[Result]:
    tensors = score_tensors(bank, [entry.setting for entry in entries])
    results = []
    negative = (*STANDARD, ORIGINAL)
    for entry, scores in zip(entries, tensors, strict=True):
        indicators = accepted_indicators(bank, entry.setting.gates)
        maximum = MAX_SCORE[entry.setting.rule]

        def curve(half: str, positive: Sequence[str], scores: np.ndarray = scores) -> Curve:
            return build_curve(
                scores,
                bank,
                queries=bank.rows(split.half(half)),
                indicators=indicators,  # noqa: B023 - used at once, in this iteration
                positive=positive,
                negative=negative,
                max_threshold=maximum,  # noqa: B023
            )

        curves = {half: curve(half, STANDARD) for half in HALVES}
        unseen = {half: curve(half, UNSEEN) for half in HALVES}
        chosen = entry.threshold
        if chosen is None:
            chosen = best_threshold(curves["tuning"], PRECISION_TARGET)
        results.append(Result(entry, chosen, curves, unseen, hash_counts(bank, entry.setting)))
    return results


# -- costs beyond the counts --------------------------------------------------------------------


def index_bytes_per_indicator(hashes_per_indicator: float, indicators: int = 1_000_000) -> float:
    """Bytes of the PDQ index per indicator at ``indicators`` indicators: the per-row arrays
    of a real snapshot (codes, ids, database and media codes, dHash companions, variant
    numbers: their item sizes, read from a small one) plus the MIH tables the index would build
    for that many rows (a row number per chunk, and each chunk's fixed bucket offsets)."""
    sample = Snapshot.build(
        [
            AddIndicator(
                "pdq",
                bytes(range(32)),
                "0" * 26,
                "known",
                "image",
                companion=bytes(8),
                variants=((bytes(range(1, 33)), bytes(8)),),
            )
        ],
        version=1,
        watermark="",
        created_at="",
    ).tables["pdq"]
    extra = sample.rows_extra
    assert extra is not None
    per_row = (
        sample.codes.itemsize * sample.codes.shape[1]
        + sample.ids.itemsize
        + sample.database.itemsize
        + sample.media_type.itemsize
        + extra.nbytes // sample.size
    )
    rows = round(hashes_per_indicator * indicators)
    widths = split_widths(PDQ.bits, default_chunk_count(PDQ.bits, rows))
    tables = 4 * len(widths) * rows + 4 * sum(2**width + 1 for width in widths)
    return (per_row * rows + tables) / indicators


@dataclass(frozen=True)
class ClientTime:
    label: str
    seconds: float  # mean per photo


def client_times(photos: Sequence[Photo], count: int, seed: int) -> list[ClientTime]:
    """Mean seconds per photo of each client step, from the file's bytes (decode included),
    in this process, on a seeded sample."""
    if count <= 0 or not photos:
        return []
    sample = random.Random(seed).sample(list(photos), min(count, len(photos)))
    blobs = [photo.path.read_bytes() for photo in sample]
    steps: list[tuple[str, Callable[[bytes], object]]] = [
        ("query: PDQ (today)", lambda d: imaging.hash_bytes(d, ["pdq"])),
        (
            "query: rotations + trim (today's options)",
            lambda d: imaging.hash_bytes(d, ["pdq"], rotations=True, trim_borders=True),
        ),
        ("query: --augmented", lambda d: imaging.hash_bytes(d, ["pdq"], augmented=True)),
        ("indicator: 1 hash + companion", lambda d: imaging.indicator_hashes(d, 1)),
        ("indicator: 4 hashes", lambda d: imaging.indicator_hashes(d, 4)),
        ("indicator: 8 hashes", lambda d: imaging.indicator_hashes(d, 8)),
        ("indicator: 16 hashes", lambda d: imaging.indicator_hashes(d, 16)),
    ]
    times = []
    for label, step in steps:
        started = time.perf_counter()
        for blob in blobs:
            step(blob)
        times.append(ClientTime(label, (time.perf_counter() - started) / len(blobs)))
    return times


# -- Markdown -------------------------------------------------------------------------------------


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def precision_cell(curve: Curve, threshold: int | None) -> str:
    false = 0 if threshold is None else curve.false_matches(threshold)
    return f"{100 * curve.precision(threshold):.3f}% ({false} FM)"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _recall_rows(results: Sequence[Result], half: str, names: Sequence[str], unseen: bool) -> str:
    header = ["transformation", *(r.entry.label for r in results)]
    rows: list[list[object]] = []
    per = [
        (r.unseen if unseen else r.curves)[half].recall_per_transformation(r.threshold)
        for r in results
    ]
    for index, name in enumerate(names):
        rows.append([name, *(pct(values[index]) for values in per)])
    if not unseen:
        rows.append(["**overall**", *(pct(r.curves[half].recall(r.threshold)) for r in results)])
    return table(header, rows)


def render(
    dataset: Dataset,
    bank: Bank,
    split: Split,
    results: Sequence[Result],
    *,
    seed: int,
    max_side: int,
    cache: Path,
    hashed_records: int,
    hashing_seconds: float,
    timing_photos: int,
) -> tuple[str, list[str]]:
    by_label = {r.entry.label: r for r in results}
    deployed = by_label[DEPLOYED_LABEL]
    indicators = int(accepted_indicators(bank, deployed.entry.setting.gates).sum())
    memory = {
        round(r.counts.per_indicator_mean, 1): index_bytes_per_indicator(
            r.counts.per_indicator_mean
        )
        for r in results
    }
    parts = [
        "# Variants, alternates, the agreement rule and gates\n\n",
        "Written by `hashmatch evaluate PHOTOS_DIR --augmentation`.\n\n",
        f"{len(dataset.photos)} photos of `{dataset.folder}` (max side {max_side} px, copies "
        f"seeded {seed}; hash cache `{cache}`, {hashed_records} records hashed by this run in "
        f"{hashing_seconds:.0f} s). Split seed {split.seed}: {len(split.tuning)} tuning / "
        f"{len(split.held_out)} held-out photos, stratified by the manifest's category. "
        "Thresholds marked *tuned* are chosen on the tuning half only (highest recall at "
        "precision >= 99.99%) and applied unchanged to the held-out half and the full set; "
        "*deployed* rows use the thresholds in force (the registry's defaults, chosen from the "
        "tuning half with a margin: the highest threshold whose tuning false matches stay 0 up "
        "to 4 bits above it; PDQ "
        f"<= {DEPLOYED_PDQ} for queries without companions, PDQ + dHash <= "
        f"{DEPLOYED_AGREEMENT} where query and indicator both carry companions). Precision "
        f"counts every match against all {indicators} accepted originals of the set (the "
        "unmodified originals are queries too, as negatives). FM = false matches.\n\n",
        "Settings: *variants* are the client's `INDICATOR_VARIANTS` (the first N); *alternates* "
        f"`plain` + `AUGMENTED_ALTERNATES` ({len(AUGMENTED)} hashes per query at most), today's "
        f"are the {len(DIHEDRAL)} rotations/flips + `trim`; the *rule* is PDQ alone or PDQ + "
        "dHash of the same pair; *gates*: quality >= 50 on indicators and items (today), and on "
        "each variant and alternate. Rows marked not deployable score variants under PDQ alone, "
        "which the service does not do (variants answer queries with companions only): they "
        "measure the idea by itself.\n\n",
        "## Before and after, per idea\n\n",
    ]
    header = [
        "setting",
        "deployable",
        "hashes/indicator (mean, max)",
        "hashes/query = lookups (mean, max)",
        "PDQ index at 1M indicators",
        "threshold",
        "tuning FM at +1 / +3 / +5",
        "tuning recall",
        "tuning precision",
        "held-out recall",
        "held-out precision",
        "full recall",
        "full precision",
    ]
    rows = []
    for r in results:
        c = r.counts
        threshold = "-" if r.threshold is None else str(r.threshold)
        kind = "deployed" if r.entry.threshold is not None else "tuned"
        rows.append(
            [
                r.entry.label,
                "yes" if r.entry.setting.deployable else "no",
                f"{c.per_indicator_mean:.1f}, {c.per_indicator_max}",
                f"{c.per_query_mean:.1f}, {c.per_query_max}",
                f"{memory[round(c.per_indicator_mean, 1)] * 1e6 / 2**30:.2f} GiB",
                f"{r.entry.setting.rule} <= {threshold} ({kind})",
                _margin(r),
                pct(r.curves["tuning"].recall(r.threshold)),
                precision_cell(r.curves["tuning"], r.threshold),
                pct(r.curves["held_out"].recall(r.threshold)),
                precision_cell(r.curves["held_out"], r.threshold),
                pct(r.curves["full"].recall(r.threshold)),
                precision_cell(r.curves["full"], r.threshold),
            ]
        )
    parts.append(table(header, rows))
    shown = [by_label[label] for label in (*TODAY_DEPLOYED, DEPLOYED_LABEL)]
    parts += ["\n## Every transformation, held-out half (deployed thresholds)\n\n"]
    parts.append(_recall_rows(shown, "held_out", STANDARD, unseen=False))
    parts += ["\n## Every transformation, full set (deployed thresholds)\n\n"]
    parts.append(_recall_rows(shown, "full", STANDARD, unseen=False))
    parts += ["\n## Unseen transformations (never tuned on), held-out half and full set\n\n"]
    parts.append(_recall_rows(shown, "held_out", UNSEEN, unseen=True))
    parts.append("\n")
    parts.append(_recall_rows(shown, "full", UNSEEN, unseen=True))
    goals, headline = _goals(by_label, deployed)
    parts += ["\n## The goals (deployed configuration, registry thresholds)\n\n", goals]
    parts += ["\n## Client time\n\n", _client_time(dataset, timing_photos, seed)]
    parts += [
        "\n## Index memory\n\n",
        "The PDQ index's size at 1M indicators with the setting's mean hashes per indicator: the "
        "per-row arrays of a snapshot (PDQ codes, ids, database and media codes, dHash "
        "companions, variant numbers) and the MIH chunk tables the index builds for that many "
        "rows (before variants a row was 10 bytes smaller: no companion, no variant number): "
        + ", ".join(
            f"{hashes:g} hashes: {per * 1e6 / 2**30:.2f} GiB ({per:.0f} B per indicator)"
            for hashes, per in sorted(memory.items())
        )
        + ". `bench/augmented_index.py` measures size and speed at 1M indicators.\n",
    ]
    return "".join(parts), headline


def _margin(result: Result) -> str:
    """False matches on the tuning half just above the threshold: how much room is left."""
    if result.threshold is None:
        return "-"
    tuning = result.curves["tuning"]
    steps = (1, 3, 5)
    return " / ".join(
        str(tuning.false_matches(min(result.threshold + step, tuning.max_threshold)))
        for step in steps
    )


def _goals(by_label: dict[str, Result], deployed: Result) -> tuple[str, list[str]]:
    full, held = deployed.curves["full"], deployed.curves["held_out"]
    t = deployed.threshold
    names = list(STANDARD)
    per_full = dict(zip(names, full.recall_per_transformation(t), strict=True))
    rows: list[list[object]] = [
        [
            f">= {pct(GOAL_RECALL)} overall recall at >= 99.99% precision (full set)",
            f"{pct(full.recall(t))} at {precision_cell(full, t)}",
            "met"
            if full.recall(t) >= GOAL_RECALL and full.precision(t) >= PRECISION_TARGET
            else "missed",
        ],
        [
            "held-out half within 3 points of the full set",
            f"{pct(held.recall(t))} at {precision_cell(held, t)}",
            "met"
            if abs(held.recall(t) - full.recall(t)) <= GOAL_GAP
            and held.precision(t) >= PRECISION_TARGET
            else "missed",
        ],
    ]
    for name, goal in GOAL_ROWS.items():
        rows.append(
            [
                f"{name} >= {pct(goal)} (full set)",
                pct(per_full[name]),
                "met" if per_full[name] >= goal else "missed",
            ]
        )
    c = deployed.counts
    rows.append(
        [
            f"at most {MAX_INDICATOR_HASHES} hashes per indicator, "
            f"{MAX_ALTERNATES_PER_ITEM + 1} per query",
            f"max {c.per_indicator_max} / {c.per_query_max}",
            "met"
            if c.per_indicator_max <= MAX_INDICATOR_HASHES
            and c.per_query_max <= MAX_ALTERNATES_PER_ITEM + 1
            else "missed",
        ]
    )
    worse = []
    for label in TODAY_DEPLOYED:
        today = by_label[label]
        for half in ("full", "held_out"):
            for kind, names_of in (("curves", STANDARD), ("unseen", UNSEEN)):
                mine = getattr(deployed, kind)[half].recall_per_transformation(t)
                theirs = getattr(today, kind)[half].recall_per_transformation(today.threshold)
                worse += [
                    f"{name} ({half}: {pct(b)} vs {label} {pct(a)})"
                    for name, a, b in zip(names_of, theirs, mine, strict=True)
                    if b < a - 1e-9
                ]
    rows.append(
        [
            "no transformation worse than today at the deployed thresholds",
            "; ".join(worse) if worse else "none worse (both halves, standard and unseen)",
            "missed" if worse else "met",
        ]
    )
    plain = by_label["today: PDQ"].curves["full"].recall(DEPLOYED_PDQ)
    options = by_label["today: rotations+trim"].curves["full"].recall(DEPLOYED_PDQ)
    headline = [
        f"deployed: {pct(full.recall(t))} full at {precision_cell(full, t)}, "
        f"held-out {pct(held.recall(t))} at {precision_cell(held, t)}",
        f"today (PDQ <= {DEPLOYED_PDQ}): {pct(plain)}; with rotations+trim {pct(options)}",
    ]
    return table(["goal", "figure", "status"], rows), headline


def _client_time(dataset: Dataset, count: int, seed: int) -> str:
    times = client_times(dataset.photos, count, seed)
    if not times:
        return "Not measured (--timing-photos 0).\n"
    reference = times[0].seconds
    rows = [[t.label, f"{1000 * t.seconds:.0f} ms", f"{t.seconds / reference:.1f}x"] for t in times]
    return (
        f"Mean per photo over a seeded sample of {min(count, len(dataset.photos))} photos at full "
        "size, from the file's bytes (decode included), one process; ratios against the plain "
        "PDQ query of the same run.\n\n" + table(["step", "time per photo", "vs PDQ"], rows)
    )

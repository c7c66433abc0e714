"""The augmentation report: indicator variants, query alternates, the agreement rule, gates.

``hashmatch evaluate PHOTOS_DIR --augmentation --out DIR`` writes ``augmentation.md``: each idea
of issue 17 before and after, with its costs, tuned on a seeded half of the photos and reported
on the other half (docs/effectiveness.md, "Variants and the agreement rule").

Protocol:

- The split: each manifest category's photos shuffled with ``split_seed``; the first half
  (rounded up) tunes, the rest is held out. The report states it.
- Indicators: every photo of the whole set whose own PDQ passes the quality gate, with the
  setting's variants. Queries: the modified copies of one half's photos (or all). Precision is
  counted against every original of the set, whichever half the queries come from; the
  unmodified originals are queries too, as negatives only (pairs of distinct originals).
- Thresholds are chosen on the tuning half only (the highest recall with precision >= 99.99%)
  and applied unchanged to the held-out half and the full set. The deployed configuration is
  also reported at the thresholds in force (the registry's defaults), untuned.
- Unseen transformations (crop 7%/15%, rotate 3/6, a white border, rotate then crop) are
  reported and never tuned on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hashmatch_devtools.evaluation.augmentation.bank import fill_cache, load_bank
from hashmatch_devtools.evaluation.augmentation.report import render, run_settings, split_photos
from hashmatch_devtools.evaluation.dataset import load_dataset

DEFAULT_SPLIT_SEED = 17


@dataclass(frozen=True)
class AugmentationRun:
    report: Path
    hashed_records: int
    hashing_seconds: float
    analysis_seconds: float
    headline: list[str]


def evaluate_augmentation(
    folder: Path,
    out: Path,
    *,
    cache: Path,
    seed: int = 0,
    split_seed: int = DEFAULT_SPLIT_SEED,
    max_side: int = 512,
    workers: int = 2,
    timing_photos: int = 12,
    progress: Callable[[int, int], None] | None = None,
) -> AugmentationRun:
    dataset = load_dataset(folder)
    started = time.perf_counter()
    computed = fill_cache(
        dataset, cache, seed=seed, max_side=max_side, workers=workers, progress=progress
    )
    hashing = time.perf_counter() - started
    started = time.perf_counter()
    bank = load_bank(dataset, cache)
    split = split_photos(dataset.photos, split_seed)
    results = run_settings(bank, split)
    text, headline = render(
        dataset,
        bank,
        split,
        results,
        seed=seed,
        max_side=max_side,
        cache=cache,
        hashed_records=computed,
        hashing_seconds=hashing,
        timing_photos=timing_photos,
    )
    out.mkdir(parents=True, exist_ok=True)
    report = out / "augmentation.md"
    report.write_text(text)
    return AugmentationRun(report, computed, hashing, time.perf_counter() - started, headline)

"""Detection effectiveness: how often modified copies are found, how often strangers match.

The method (docs/effectiveness.md explains it at length):

1. Every photo in a folder is decoded with :func:`hashmatch_client.imaging.load_image` and
   shrunk to at most ``max_side`` pixels (the "original", as a curator would have hashed it into
   an indicator database). Each transformation of :mod:`.transforms` makes a modified copy
   (the "query", as a provider would hash it). PDQ, pHash and dHash of originals and queries
   come from :func:`hashmatch_client.imaging.perceptual_hashes` and
   :func:`hashmatch_client.imaging.pdq_dihedral_hashes`; nothing here hashes on its own.
2. Positive pairs: each query against its own original. Negative pairs: each query against every
   original of another photo, except pairs the manifest says are related (stereo pairs, the
   same scene, a deliberate edit). A pair matches at threshold ``t`` when the Hamming distance is
   at most ``t``.
3. Recall = matched positive pairs / positive pairs (per transformation and overall).
   Precision = matched positive pairs / all matched pairs (positive and negative), i.e. the share
   of the matches a provider would see that are true; ``recall_at_precision`` is the highest
   recall over the thresholds whose precision is at least the target (99.99%).
   False-match rate = matched pairs of distinct, unrelated *originals* / such pairs, per category
   of the manifest (both photos in it) and over all pairs.
4. Improvements, measured the same way: the 8 PDQ rotations/flips of each query (a query matches
   when any of them is within the threshold), uniform borders trimmed before hashing (queries
   and originals alike), and two hash types combined (both within their thresholds, or either).

One module per step: ``dataset`` (photos, manifest, related pairs), ``transforms`` (modified
copies), ``hashing`` (worker processes), ``distances`` (packed Hamming distances, with numpy's
``bitwise_count``), ``curves`` (recall and precision per threshold), ``combinations`` (two hash
types together), ``analysis`` (every figure), ``summary`` (results.json), ``report`` and
``plots`` (the Markdown report), ``cache`` (hashes kept to re-analyse). :func:`evaluate` runs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hashmatch.errors import InvalidInput
from hashmatch_devtools.evaluation.analysis import Evaluation, analyse
from hashmatch_devtools.evaluation.cache import check_saved_hashes
from hashmatch_devtools.evaluation.dataset import load_dataset
from hashmatch_devtools.evaluation.hashing import (
    DEFAULT_MAX_SIDE,
    HashTask,
    PhotoHashes,
    hash_photos,
)
from hashmatch_devtools.evaluation.transforms import TRANSFORMATIONS


def evaluate(
    folder: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    workers: int = 2,
    max_side: int = DEFAULT_MAX_SIDE,
    transformations: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    precomputed: Sequence[PhotoHashes] | None = None,
    precomputed_seconds: float = 0.0,
) -> Evaluation:
    """Hash every photo of ``folder`` and its modified copies, then compute every figure.

    ``precomputed`` (from :func:`.cache.load_hashes`, written by an earlier run with the same seed,
    limit and max_side) skips the hashing; ``precomputed_seconds`` is that run's hashing time.
    """
    dataset = load_dataset(folder, limit=limit, seed=seed)
    names = tuple(transformations or (t.name for t in TRANSFORMATIONS))
    if precomputed is not None:
        hashed = check_saved_hashes(precomputed, dataset, names)
        hashing_seconds = precomputed_seconds
    else:
        tasks = [HashTask(photo.key, photo.path, seed, max_side, names) for photo in dataset.photos]
        started = time.perf_counter()
        hashed = hash_photos(tasks, workers=workers, progress=progress)
        hashing_seconds = time.perf_counter() - started
    evaluation = Evaluation(
        dataset=dataset,
        photos=[photo for photo in hashed if photo.error is None],
        failed=[photo for photo in hashed if photo.error is not None],
        transformations=names,
        seed=seed,
        max_side=max_side,
        workers=workers,
        limit=limit,
        hashing_seconds=hashing_seconds,
    )
    if len(evaluation.photos) < 2:
        raise InvalidInput("fewer than 2 photos could be decoded: nothing to evaluate")
    analyse(evaluation)
    return evaluation

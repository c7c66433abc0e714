"""Settings, their score tensors, and recall and precision per threshold.

A *setting* is what a deployment chooses: the variants stored per indicator, the alternates a
query carries, the rule that scores a (query hash, indicator hash) pair and the quality gates.
Its score tensor S[p, t, o] is the best score over every (alternate, variant) pair between copy
``t`` of photo ``p`` and indicator ``o``: a match on any hash of an indicator is one match of it,
as the service answers. A pair matches at threshold T when S <= T.

Rules, as the service applies them (docs/matching.md): ``pdq``, the PDQ distance; ``pdq+dhash``,
the agreement rule, the PDQ distance plus the dHash distance of the *same* pair of images (the
companions); under it an indicator's own hash still matches within PDQ's threshold (31), as
without companions (such pairs score 0: admitted at every agreement threshold). Under ``pdq``
the service matches queries against the indicators' own hashes only (a query without
companions never meets a variant); a setting may still score variants under ``pdq`` to
measure the idea on its own (``deployable`` says whether the service can run it).

Counted as ``hashmatch evaluate`` counts: positives are each copy against its own indicator;
negatives each copy (and each unmodified original) against every *other* indicator of the whole
set, related pairs left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hashmatch.hashtypes import HASH_TYPES, MIN_PDQ_QUALITY
from hashmatch_devtools.evaluation.augmentation.bank import Bank

NO_MATCH = np.iinfo(np.uint16).max
PRECISION_TARGET = 0.9999
RULES = ("pdq", "pdq+dhash")
MAX_SCORE = {"pdq": 63, "pdq+dhash": 63}  # the registry's maxima (PDQ, agreement)
PDQ_THRESHOLD = HASH_TYPES["pdq"].default_threshold


@dataclass(frozen=True)
class Gates:
    """PDQ quality gates (>= 50). The service refuses an indicator below the gate and rejects
    an item whose value is below it; the client leaves out variants and alternates below it."""

    indicators: bool = True
    variants: bool = True
    items: bool = True
    alternates: bool = True

    @property
    def label(self) -> str:
        on = [n for n in ("indicators", "variants", "items", "alternates") if getattr(self, n)]
        return "quality >= 50 on " + ", ".join(on) if on else "no gate"


TODAYS_GATES = Gates(variants=False, alternates=False)  # today's client sends every alternate


@dataclass(frozen=True)
class Setting:
    variants: tuple[str, ...]
    alternates: tuple[str, ...]
    rule: str = "pdq"
    gates: Gates = field(default_factory=Gates)

    @property
    def deployable(self) -> bool:
        """Whether the service can run it: variants answer queries with companions only."""
        return self.rule == "pdq+dhash" or self.variants == ("plain",)


def usable_variants(bank: Bank, gates: Gates) -> np.ndarray:
    usable = bank.indicators.present.copy()
    if gates.variants:
        usable &= bank.indicators.quality >= MIN_PDQ_QUALITY
    return usable


def usable_alternates(bank: Bank, gates: Gates) -> np.ndarray:
    usable = bank.queries.present.copy()
    if gates.alternates:
        usable &= bank.queries.quality >= MIN_PDQ_QUALITY
    return usable


def accepted_queries(bank: Bank, gates: Gates) -> np.ndarray:
    """(photos, transformations): the item is not rejected (its value passes the gate)."""
    plain = bank.alternates.index("plain")
    accepted = bank.queries.present[:, :, plain].copy()
    if gates.items:
        accepted &= bank.queries.quality[:, :, plain] >= MIN_PDQ_QUALITY
    return accepted


def accepted_indicators(bank: Bank, gates: Gates) -> np.ndarray:
    plain = bank.variants.index("plain")
    if gates.indicators:
        return bank.indicators.quality[:, plain] >= MIN_PDQ_QUALITY
    return np.ones(len(bank.keys), dtype=bool)


def _pdq_distances(queries: np.ndarray, indicators: np.ndarray) -> np.ndarray:
    result = np.zeros((queries.shape[0], indicators.shape[0]), dtype=np.uint16)
    for word in range(queries.shape[1]):
        result += np.bitwise_count(queries[:, word, None] ^ indicators[None, :, word])
    return result


def score_tensors(bank: Bank, settings: Sequence[Setting]) -> list[np.ndarray]:
    """S[p, t, o] of every setting, in one pass over the (alternate, variant) pairs."""
    n, t = len(bank.keys), len(bank.transformations)
    best = [np.full((n, t, n), NO_MATCH, dtype=np.uint16) for _ in settings]
    pairs = sorted({(a, v) for s in settings for a in s.alternates for v in s.variants})
    gated = {
        gates: (usable_alternates(bank, gates), usable_variants(bank, gates))
        for gates in {s.gates for s in settings}
    }
    q, i = bank.queries, bank.indicators
    for alternate, variant in pairs:
        a, v = bank.alternates.index(alternate), bank.variants.index(variant)
        pdq = _pdq_distances(q.pdq[:, :, a].reshape(n * t, 4), i.pdq[:, v]).reshape(n, t, n)
        dhash = None
        for setting, tensor in zip(settings, best, strict=True):
            if alternate not in setting.alternates or variant not in setting.variants:
                continue
            if setting.rule == "pdq+dhash":
                if dhash is None:
                    dhash = np.bitwise_count(
                        q.dhash[:, :, a].reshape(n * t)[:, None] ^ i.dhash[None, :, v]
                    ).astype(np.uint16)
                    dhash = dhash.reshape(n, t, n)
                scores = pdq + dhash
                if variant == "plain":
                    scores[pdq <= PDQ_THRESHOLD] = 0
            else:
                scores = pdq.copy()
            alternates_ok, variants_ok = gated[setting.gates]
            scores[~alternates_ok[:, :, a]] = NO_MATCH
            scores[:, :, ~variants_ok[:, v]] = NO_MATCH
            np.minimum(tensor, scores, out=tensor)
    for setting, tensor in zip(settings, best, strict=True):
        tensor[~accepted_queries(bank, setting.gates)] = NO_MATCH
        tensor[:, :, ~accepted_indicators(bank, setting.gates)] = NO_MATCH
    return best


@dataclass(frozen=True)
class Curve:
    """Counts per threshold 0..max: ``positives`` (copies, positive transformations) hold each
    copy's score against its own indicator; ``negative_counts[s]`` the negative pairs at score s
    (the last bin: everything beyond the maximum)."""

    positives: np.ndarray
    negative_counts: np.ndarray
    negative_pairs: int
    max_threshold: int

    def true_matches(self, threshold: int) -> int:
        return int((self.positives <= threshold).sum())

    def false_matches(self, threshold: int) -> int:
        return int(self.negative_counts[: threshold + 1].sum())

    def recall(self, threshold: int | None) -> float:
        if threshold is None or not self.positives.size:
            return 0.0
        return float((self.positives <= threshold).mean())

    def recall_per_transformation(self, threshold: int | None) -> list[float]:
        if threshold is None:
            return [0.0] * self.positives.shape[1]
        values: list[float] = (self.positives <= threshold).mean(axis=0).tolist()
        return values

    def precision(self, threshold: int | None) -> float:
        if threshold is None:
            return 1.0
        true, false = self.true_matches(threshold), self.false_matches(threshold)
        return true / (true + false) if true + false else 1.0


def build_curve(
    scores: np.ndarray,
    bank: Bank,
    *,
    queries: np.ndarray,
    indicators: np.ndarray,
    positive: Sequence[str],
    negative: Sequence[str],
    max_threshold: int,
) -> Curve:
    """``queries``: photos whose copies are queries; ``indicators``: photos in the index
    (precision is counted against every original of the set)."""
    pos, neg = bank.transformation_index(positive), bank.transformation_index(negative)
    own = np.flatnonzero(queries & indicators)
    positives = scores[own][:, pos][np.arange(own.size), :, own]
    rows, columns = np.flatnonzero(queries), np.flatnonzero(indicators)
    block = scores[np.ix_(rows, np.asarray(neg, dtype=np.intp), columns)]
    mask = np.broadcast_to(bank.negatives[np.ix_(rows, columns)][:, None, :], block.shape)
    selected = np.minimum(block, max_threshold + 1)[mask]
    counts = np.bincount(selected.ravel(), minlength=max_threshold + 2)
    return Curve(positives, counts, int(selected.size), max_threshold)


def best_threshold(curve: Curve, target: float = PRECISION_TARGET) -> int | None:
    """The highest-recall threshold with precision >= target (ties: the lowest); None if none."""
    best, best_recall = None, -1.0
    for threshold in range(curve.max_threshold + 1):
        if curve.precision(threshold) >= target:
            recall = curve.recall(threshold)
            if recall > best_recall:
                best, best_recall = threshold, recall
    return best


@dataclass(frozen=True)
class HashCounts:
    per_indicator_mean: float
    per_indicator_max: int
    per_query_mean: float
    per_query_max: int


def _distinct(words: np.ndarray, usable: np.ndarray) -> np.ndarray:
    counts = np.zeros(words.shape[0], dtype=np.int32)
    for row in range(words.shape[0]):
        counts[row] = len({tuple(w) for w in words[row][usable[row]].tolist()})
    return counts


def hash_counts(bank: Bank, setting: Setting) -> HashCounts:
    """Distinct gated PDQ hashes per accepted indicator and per accepted standard query: what
    the index stores and what a query costs in lookups."""
    variants = [bank.variants.index(v) for v in setting.variants]
    indicators = accepted_indicators(bank, setting.gates)
    per_indicator = _distinct(
        bank.indicators.pdq[indicators][:, variants],
        usable_variants(bank, setting.gates)[indicators][:, variants],
    )
    alternates = [bank.alternates.index(a) for a in setting.alternates]
    accepted = accepted_queries(bank, setting.gates)
    n, t = accepted.shape
    words = bank.queries.pdq[:, :, alternates].reshape(n * t, len(alternates), 4)
    usable = usable_alternates(bank, setting.gates)[:, :, alternates].reshape(n * t, -1)
    keep = accepted.ravel()
    per_query = _distinct(words[keep], usable[keep])
    return HashCounts(
        float(per_indicator.mean()),
        int(per_indicator.max()),
        float(per_query.mean()),
        int(per_query.max()),
    )

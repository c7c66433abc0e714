"""Flood quarantine: an indicator whose matches flood is suspended pending a curator.

A signal that suddenly matches far more than it used to (a blank or lattice image that slipped
in, a hash of a meme, a wrong import) floods reviewers with false reports. Per indicator the
store keeps its matches in the current window and a baseline (the decayed average per window
before it; kept on the indicator's own item, so it lives and goes with the indicator). When the
count in a window reaches ``absolute``, or reaches ``minimum`` and exceeds ``factor`` times the
baseline, the indicator is suspended at once (the matcher confirms every candidate against the
store, so it stops matching from the next request on), put on the curators' re-verification
list, audited and counted (the ``IndicatorsQuarantined`` metric, which an alarm watches). The
curator then reinstates it (the baseline is raised to the count that tripped it, so the same
rate does not trip it again) or revokes it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import DependencyUnavailable
from hashmatch.indicators.ports import IndicatorStore, MatchTally
from hashmatch.observability import MetricName, logger, metrics
from hashmatch.statistics.counting import IndicatorEvent, Statistics
from hashmatch.statistics.model import IndicatorChange

QUARANTINE_ACTOR = "match_hashes"
SYSTEM_ROLE = "function"
QUARANTINE_REASON = "flood quarantine: matches far above this indicator's baseline"


@dataclass(frozen=True)
class FloodRule:
    """The template's Flood* Parameters."""

    window: timedelta = timedelta(hours=1)
    factor: float = 10.0
    minimum: int = 500
    absolute: int = 20_000
    decay: float = 0.8  # the baseline's weight on its past, per window
    # A warm matcher adds its matches up in memory and writes them at most this often (or at
    # once when one indicator reaches ``minimum``): one UpdateItem per indicator per interval,
    # not per request. A container that stops loses at most this much of its counts.
    flush_interval: timedelta = timedelta(seconds=10)

    def floods(self, tally: MatchTally) -> bool:
        if tally.count >= self.absolute:
            return True
        return tally.count >= self.minimum and tally.count > self.factor * tally.baseline


class FloodGuard:
    def __init__(
        self,
        store: IndicatorStore,
        audit: AuditLog,
        statistics: Statistics,
        clock: Clock,
        rule: FloodRule,
    ) -> None:
        self._store = store
        self._audit = audit
        self._statistics = statistics
        self._clock = clock
        self._rule = rule
        self._pending: Counter[str] = Counter()
        self._flushed_at: datetime | None = None

    def observe(self, matches: Mapping[str, int]) -> list[str]:
        """Count one request's matches per indicator; quarantine those that flood. Returns the
        ids this call quarantined."""
        self._pending.update(matches)
        if not self._pending:
            return []
        now = self._clock.now()
        due = self._flushed_at is None or now - self._flushed_at >= self._rule.flush_interval
        if not due and max(self._pending.values()) < self._rule.minimum:
            return []
        pending, self._pending, self._flushed_at = self._pending, Counter(), now
        window = int(now.timestamp() // self._rule.window.total_seconds())
        try:
            tallies = self._store.count_matches(pending, window=window, decay=self._rule.decay)
        except DependencyUnavailable:
            self._pending.update(pending)  # kept for the next flush
            raise
        quarantined = []
        for indicator_id, tally in sorted(tallies.items()):
            if not self._rule.floods(tally):
                continue
            quarantined_now = self._store.quarantine(
                indicator_id, reason=QUARANTINE_REASON, by=QUARANTINE_ACTOR, now=now
            )
            if quarantined_now is None:
                continue  # no longer active: a curator or another matcher acted first
            self._audit.record(
                AuditAction.INDICATOR_QUARANTINED,
                actor=QUARANTINE_ACTOR,
                role=SYSTEM_ROLE,
                targets=[indicator_id],
                details={
                    "from": "active",
                    "to": "suspended",
                    "matches_in_window": tally.count,
                    "baseline": round(tally.baseline, 2),
                    "window_minutes": int(self._rule.window.total_seconds() // 60),
                },
            )
            # Counted as a suspension (it stops being active), as a curator's would be.
            self._statistics.indicators_changed(
                [
                    IndicatorEvent(
                        indicator_id=indicator_id,
                        change=IndicatorChange.SUSPENDED,
                        at=now,
                        database=quarantined_now.database.value,
                        media_type=quarantined_now.media_type.value,
                        member_state=quarantined_now.provenance[0].member_state
                        if quarantined_now.provenance
                        else None,
                        active_change=-1,
                    )
                ]
            )
            metrics.add_metric(
                name=MetricName.INDICATORS_QUARANTINED, unit=MetricUnit.Count, value=1
            )
            logger.warning("indicator quarantined", extra={"indicator_id": indicator_id})
            quarantined.append(indicator_id)
        return quarantined


def rolled_baseline(baseline: float, last_count: int, windows_passed: int, decay: float) -> float:
    """The baseline after ``windows_passed`` (>= 1) windows: the last window's count folded in,
    then decayed once per idle window after it."""
    folded = decay * baseline + (1 - decay) * last_count
    return folded * decay ** max(0, windows_passed - 1)

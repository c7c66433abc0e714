"""The probing guard: vets each match request against the client's sketch.

Per client and window (``ProbingWindowMinutes``), the sketch (hashmatch.probing.sketch) counts
the distinct near-duplicates of matched content the client sent. When any cell reaches
``variant_limit`` (``ProbingVariantLimit``) the request is refused with 429 and Retry-After (the
end of the window), and every later request of the client until then; the crossing is audited
(``client.probing_detected``) and counted (``ProbingDetected``, which an alarm watches). At the
``suspend_after``-th detection within the retention (``ProbingSuspendAfter``, 2; 0: never) the
client's matching is suspended until an operator lifts it (``hashmatch clients
lift-probing-hold``): throttling alone would let a patient attacker learn a window's worth of
bits every window.

Why this limit: with exact distances a provider holding one matching image learns about one bit
of the indicator per query, and with bands one bit per query once it sits on a band edge; every
such query is a new near-duplicate of matched content. Re-uploads of one image send the same
hash, which sets the same fingerprint again and is not counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from hashmatch.access.model import Principal
from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import Conflict, Throttled
from hashmatch.hashtypes import MatchKind
from hashmatch.matching.service import HashQuery, ItemAnswer
from hashmatch.observability import MetricName, logger, metrics
from hashmatch.probing.ports import ClientWindow, ProbingStore

GUARD_ACTOR = "match_hashes"
GUARD_ROLE = "function"
SUSPENDED_RETRY_AFTER_SECONDS = 3600
_SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class ProbingRule:
    """The template's Probing* Parameters."""

    window: timedelta = timedelta(hours=1)
    variant_limit: int = 12
    suspend_after: int = 2  # detections (within ``retention``) that suspend; 0: never
    # How long a window's sketch is kept after the window ends (ProbingSketchRetentionDays).
    retention: timedelta = timedelta(days=1)


class ProbingGuard:
    def __init__(
        self, store: ProbingStore, audit: AuditLog, clock: Clock, rule: ProbingRule
    ) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._rule = rule

    def _window(self, now: datetime) -> int:
        return int(now.timestamp() // self._rule.window.total_seconds())

    def _window_end(self, window: int) -> datetime:
        seconds = (window + 1) * self._rule.window.total_seconds()
        return datetime.fromtimestamp(seconds, UTC)

    def admit(self, principal: Principal) -> ClientWindow:
        """The client's state for this request; Throttled if it is held back."""
        now = self._clock.now()
        state = self._store.load(principal.client_id, self._window(now))
        if state.suspended_at is not None:
            raise Throttled(
                "this client's matching is suspended after probing was detected; an operator "
                "must lift the suspension",
                retry_after_seconds=SUSPENDED_RETRY_AFTER_SECONDS,
            )
        if state.throttled_until is not None and state.throttled_until > now:
            raise _throttled(state.throttled_until, now)
        return state

    def record(
        self,
        principal: Principal,
        state: ClientWindow,
        queries: Sequence[HashQuery],
        spans: Sequence[tuple[int, int]],
        answers: Sequence[ItemAnswer],
    ) -> None:
        """Fold the request in (``spans``: each answer's slice of ``queries``); Throttled if it
        crossed the limit, before the request is answered."""
        now = self._clock.now()
        for _ in range(_SAVE_ATTEMPTS):
            most = _fold(state, queries, spans, answers)
            if most == 0:
                return  # nothing near a match: nothing to keep
            crossed = most >= self._rule.variant_limit
            if crossed:
                state.throttled_until = self._window_end(state.window)
            try:
                self._store.save(
                    state, erase_after=self._window_end(state.window) + self._rule.retention
                )
            except Conflict:
                # Another request of this client wrote first: fold this one into its state.
                state = self._store.load(principal.client_id, state.window)
                continue
            if crossed:
                self._detected(principal, state, most, now)
            return
        logger.warning("probing sketch not saved: contended", extra={"client": principal.client_id})

    def _detected(
        self, principal: Principal, state: ClientWindow, most: int, now: datetime
    ) -> None:
        metrics.add_metric(name=MetricName.PROBING_DETECTED, unit=MetricUnit.Count, value=1)
        logger.warning("probing detected", extra={"client": principal.client_id})
        self._audit.record(
            AuditAction.CLIENT_PROBING_DETECTED,
            actor=GUARD_ACTOR,
            role=GUARD_ROLE,
            targets=[principal.client_id],
            details={
                "organisation_id": principal.organisation_id,
                "near_duplicates": most,
                "limit": self._rule.variant_limit,
                "window_minutes": int(self._rule.window.total_seconds() // 60),
            },
        )
        strikes = self._store.strike(
            principal.client_id,
            now=now,
            forget_after=now + self._rule.retention,
            suspend_at=self._rule.suspend_after,
        )
        if self._rule.suspend_after and strikes == self._rule.suspend_after:
            self._audit.record(
                AuditAction.CLIENT_SUSPENDED,
                actor=GUARD_ACTOR,
                role=GUARD_ROLE,
                targets=[principal.client_id],
                details={"reason": "probing", "scope": "matching", "detections": strikes},
            )
        assert state.throttled_until is not None
        raise _throttled(state.throttled_until, now)


def _fold(
    state: ClientWindow,
    queries: Sequence[HashQuery],
    spans: Sequence[tuple[int, int]],
    answers: Sequence[ItemAnswer],
) -> int:
    by_type: dict[str, list[tuple[bytes, bool]]] = {}
    for (start, stop), answer in zip(spans, answers, strict=True):
        # Matched, or withheld by a negative indicator: either way it was near an indicator.
        near_match = bool(answer.nearest)
        for query in queries[start:stop]:
            if query.hash_type.kind is not MatchKind.HAMMING:
                continue  # an exact type has no near-duplicates to walk
            by_type.setdefault(query.hash_type.name, []).append((query.digest, near_match))
    most = 0
    for type_name, folded in by_type.items():
        if not state.sketch.has_matches and not any(matched for _, matched in folded):
            continue  # no match in this window yet: a miss cannot be near one
        most = max(most, state.sketch.observe_many(type_name, folded))
    return most


def _throttled(until: datetime, now: datetime) -> Throttled:
    seconds = max(1, int((until - now).total_seconds() + 0.999))
    return Throttled(
        "too many distinct near-duplicates of matched content from this client: matching is "
        f"paused for {seconds} s (docs/api.md, 'Probing')",
        retry_after_seconds=seconds,
    )

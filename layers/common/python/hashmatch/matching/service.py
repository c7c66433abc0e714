"""Provider matching: a batch of hashes in, matches out; a match event per match; counters.

Per item, one of: matches (possibly none) or a rejection (a type the client may not use, a
malformed hash or alternate, PDQ quality below the gate). An item may carry alternates (the
client's hashes of the rotated/flipped or border-trimmed image): it matches if its value or any
alternate is within the threshold; each indicator is answered once, at the smallest distance,
with ``via`` saying whether the value or an alternate got there. An item is counted once,
however many alternates it has. Queries without a match leave no record, only a counter. Match
events are stored before the answer is given, so a match id in an answer can always be cited by
a report; if storing fails the whole request fails with a retryable error.

Nothing is counted twice: the events are stored first and the counters added after, in one
transaction keyed by the request (its Idempotency-Key, else its request id). If either fails, the
events this request stored are deleted again (no answer ever showed their ids) and the request
fails with a retryable error, so the provider's retry counts its queries once and stores its
events once; a retry of a request that was answered (its answer lost) is counted once too.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from hashmatch.access.model import Principal
from hashmatch.clock import Clock
from hashmatch.errors import DependencyUnavailable, HashmatchError, InvalidInput
from hashmatch.hashtypes import HASH_TYPES, HashType, get_hash_type
from hashmatch.index import DATABASES, NEGATIVE_DATABASE, Hit
from hashmatch.matching.events import MatchEvent, new_match_id
from hashmatch.matching.limits import MAX_ALTERNATES_PER_ITEM
from hashmatch.matching.matcher import HashQuery, Matcher, QueryHits
from hashmatch.matching.ports import MatchEventStore
from hashmatch.observability import logger
from hashmatch.statistics.counting import MatchCount, QueryCount, Statistics
from hashmatch.statistics.model import NONE, QueryOutcome

VIA_VALUE = "value"
INDICATOR_REF_PREFIX = "ir_"
VIA_ALTERNATE = "alternate"


@dataclass(frozen=True)
class MatchItem:
    hash_type: str
    value: str
    ref: str | None = None
    quality: int | None = None
    alternates: tuple[str, ...] = ()
    # The same image's companion hash (PDQ: dHash) and one per alternate (or none at all).
    companion: str | None = None
    alternate_companions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemMatch:
    match_id: str
    database: str
    media_type: str
    distance: int
    threshold: int
    via: str = VIA_VALUE
    indicator_ref: str = ""
    companion_distance: int | None = None
    agreement_threshold: int | None = None


def indicator_ref(organisation_id: str, indicator_id: str) -> str:
    """The indicator as one organisation sees it: the same in every answer to that
    organisation, different for every other, and no way back to the indicator's id. It lets a
    provider tell that two matches are of one indicator (one report, not two)."""
    digest = hashlib.sha256(f"{organisation_id}:{indicator_id}".encode()).hexdigest()
    return INDICATOR_REF_PREFIX + digest[:24]


@dataclass(frozen=True)
class Rejection:
    code: str
    detail: str


@dataclass(frozen=True)
class ItemAnswer:
    hash_type: str
    ref: str | None
    matches: list[ItemMatch] = field(default_factory=list)
    thresholds: dict[str, int] = field(default_factory=dict)  # per database in scope
    truncated: bool = False
    quality_gate: int | None = None
    rejection: Rejection | None = None
    # per database in scope, when the item carried its companion (the agreement rule)
    agreements: dict[str, int] = field(default_factory=dict)
    # A negative indicator was within the threshold: every match was withheld.
    suppressed: bool = False
    # The smallest distance to each indicator matched, before any suppression (probing signals).
    nearest: dict[str, int] = field(default_factory=dict)

    @property
    def outcome(self) -> QueryOutcome:
        if self.rejection is not None:
            return QueryOutcome.REJECTED
        return QueryOutcome.MATCHED if self.matches else QueryOutcome.NO_MATCH


@dataclass(frozen=True)
class BatchAnswer:
    index_version: int
    items: list[ItemAnswer]


class MatchObserver(Protocol):
    """Sees each request's outcome after its matches are stored (flood quarantine)."""

    def observe(self, matches: Mapping[str, int]) -> list[str]:
        """``matches``: per indicator id, how many items of the request matched it."""


class QueryGuard(Protocol):
    """Vets each request before it is answered (probing detection: hashmatch.probing)."""

    def admit(self, principal: Principal) -> Any:
        """The client's state for this request; raise Throttled if it is held back now."""

    def record(
        self,
        principal: Principal,
        state: Any,
        queries: Sequence[HashQuery],
        spans: Sequence[tuple[int, int]],
        answers: Sequence[ItemAnswer],
    ) -> None:
        """Fold the request in (``spans``: each accepted item's slice of ``queries``, with its
        answer); raise Throttled if it crossed a limit (the answer is then withheld)."""


class MatchService:
    def __init__(
        self,
        matcher: Matcher,
        events: MatchEventStore,
        statistics: Statistics,
        clock: Clock,
        *,
        event_retention: timedelta,
        thresholds: Mapping[str, Mapping[str, int]] | None = None,
        agreement_thresholds: Mapping[str, Mapping[str, int]] | None = None,
        quality_required: bool = True,
        flood_guard: MatchObserver | None = None,
        query_guard: QueryGuard | None = None,
    ) -> None:
        self._flood_guard = flood_guard
        self._query_guard = query_guard
        self._matcher = matcher
        self._events = events
        self._statistics = statistics
        self._clock = clock
        self._event_retention = event_retention
        # Per database, per hash type; checked against each type's maximum here, so a bad
        # setting fails at start, not per item. A type a database does not name gets the
        # type's default.
        self._thresholds = checked_thresholds(thresholds or {})
        # The same for the agreement rule, per database and type with a companion.
        self._agreements = checked_agreement_thresholds(agreement_thresholds or {})
        # A hash of a gated type (PDQ) must state its quality, or the gate could be skipped by
        # leaving it out; the template's MatchRequiresQuality may relax this.
        self._quality_required = quality_required

    def match(
        self, principal: Principal, items: Sequence[MatchItem], *, request_key: str | None = None
    ) -> BatchAnswer:
        """``request_key`` names the request for counting (its Idempotency-Key, else its id):
        a retry with the same key is answered again but counted once."""
        guarded = self._query_guard.admit(principal) if self._query_guard is not None else None
        now = self._clock.now()
        results: list[ItemAnswer | None] = [None] * len(items)
        queries: list[HashQuery] = []
        # Per accepted item: its position and the slice of ``queries`` holding its value (first)
        # and its alternates.
        spans: list[tuple[int, int, int]] = []
        thresholds: dict[str, tuple[tuple[str, int], ...]] = {}  # per hash type, this client's
        for position, item in enumerate(items):
            rejection, item_queries = self._queries_for(principal, item, thresholds)
            if rejection is not None:
                results[position] = ItemAnswer(item.hash_type, item.ref, rejection=rejection)
            else:
                spans.append((position, len(queries), len(queries) + len(item_queries)))
                queries.extend(item_queries)
        answer = self._matcher.search(queries)
        events: list[MatchEvent] = []
        for position, start, stop in spans:
            item, hash_type = items[position], queries[start].hash_type
            value_answer = answer.results[start]
            if stop == start + 1 and not value_answer.hits:  # most items: one query, no match
                results[position] = ItemAnswer(
                    hash_type.name,
                    item.ref,
                    [],
                    _without_negatives(value_answer.thresholds),
                    agreements=_without_negatives(value_answer.agreements),
                    truncated=value_answer.truncated,
                    quality_gate=hash_type.min_quality,
                )
                continue
            merged = _merged(answer.results[start:stop])
            negatives = [pair for pair in merged if pair[0].database == NEGATIVE_DATABASE]
            merged = [pair for pair in merged if pair[0].database != NEGATIVE_DATABASE]
            nearest = {found.indicator_id: found.distance for found, _ in merged}
            if negatives:
                merged = []  # near a hash that must never match: no match, counted
            matches = []
            for found, via in merged:
                agreement = (
                    answer.results[start].agreements.get(found.database)
                    if found.companion_distance is not None
                    else None
                )
                event = MatchEvent(
                    match_id=new_match_id(),
                    provider=principal.organisation_id,
                    client_id=principal.client_id,
                    indicator_id=found.indicator_id,
                    database=found.database,
                    media_type=found.media_type,
                    hash_type=hash_type.name,
                    distance=found.distance,
                    threshold=answer.results[start].thresholds[found.database],
                    index_version=answer.index_version,
                    matched_at=now,
                    expires_at=now + self._event_retention,
                    via=via,
                    companion_distance=found.companion_distance,
                    agreement_threshold=agreement,
                )
                events.append(event)
                matches.append(
                    ItemMatch(
                        event.match_id,
                        found.database,
                        found.media_type,
                        found.distance,
                        event.threshold,
                        via,
                        indicator_ref(principal.organisation_id, found.indicator_id),
                        found.companion_distance,
                        agreement,
                    )
                )
            results[position] = ItemAnswer(
                hash_type=hash_type.name,
                ref=item.ref,
                matches=matches,
                thresholds=_without_negatives(value_answer.thresholds),
                agreements=_without_negatives(value_answer.agreements),
                suppressed=bool(negatives),
                nearest=nearest,
                truncated=any(result.truncated for result in answer.results[start:stop]),
                quality_gate=hash_type.min_quality,
            )
        final = [result for result in results if result is not None]
        if self._query_guard is not None:
            # Before anything is stored: a request that crosses a probing limit is not answered.
            accepted = [results[position] for position, _, _ in spans]
            self._query_guard.record(
                principal,
                guarded,
                queries,
                [(start, stop) for _, start, stop in spans],
                [answer for answer in accepted if answer is not None],
            )
        try:
            if events:
                self._events.put_many(events)
            # Counted once per request key: a retry of a request whose answer was lost (same
            # Idempotency-Key) stores its events again but adds nothing to the counters.
            self._statistics.queries_answered(
                request_key=f"{principal.organisation_id}:{request_key or secrets.token_hex(12)}",
                day=now.date(),
                provider=principal.organisation_id,
                queries=_query_counts(final),
                matches=Counter(
                    MatchCount(event.database, event.media_type, event.hash_type)
                    for event in events
                ),
                suppressed=Counter(result.hash_type for result in final if result.suppressed),
            )
        except DependencyUnavailable:
            self._forget(events)
            raise
        if self._flood_guard is not None and events:
            try:
                self._flood_guard.observe(Counter(event.indicator_id for event in events))
            except DependencyUnavailable:
                # The answer is stored and counted already: failing it now would make the
                # retry count twice. This request's matches go uncounted for flood quarantine.
                logger.warning("flood counts not updated", extra={"events": len(events)})
        return BatchAnswer(index_version=answer.index_version, items=final)

    def _forget(self, events: Sequence[MatchEvent]) -> None:
        """Delete the events of a request that failed (best effort: one that stays is never
        cited, since no answer named it, and goes on its due day like any uncited event)."""
        try:
            for event in events:
                self._events.delete_uncited(event.match_id, event.expires_at)
        except DependencyUnavailable:
            logger.warning(
                "match events of a failed request stay until their erasure",
                extra={"events": len(events)},
            )

    def _queries_for(
        self,
        principal: Principal,
        item: MatchItem,
        thresholds_of: dict[str, tuple[tuple[str, int], ...]],
    ) -> tuple[Rejection | None, list[HashQuery]]:
        """The item's value and alternates as queries (value first), or why it is rejected.

        ``thresholds_of``: the request's thresholds per hash type, filled on first use.
        """
        try:
            hash_type = get_hash_type(item.hash_type)
            digest = hash_type.to_bytes(item.value)
        except HashmatchError as error:
            return Rejection(error.code, error.detail), []
        if hash_type.name not in principal.hash_types:
            return Rejection(
                "hash-type-not-allowed", f"this client may not use {hash_type.name}"
            ), []
        if hash_type.min_quality is not None and item.quality is None and self._quality_required:
            return Rejection(
                "quality-missing",
                f"a {hash_type.name} hash needs its quality (0-100) so the quality gate "
                f"({hash_type.min_quality}) can be applied",
            ), []
        quality_problem = hash_type.quality_problem(item.quality)
        if quality_problem is not None:
            return Rejection("quality-too-low", quality_problem), []
        if len(item.alternates) > MAX_ALTERNATES_PER_ITEM:
            # The API refuses such a request with a 422; this guards other callers.
            return Rejection(
                "invalid-input",
                f"{len(item.alternates)} alternates, at most {MAX_ALTERNATES_PER_ITEM} per item",
            ), []
        digests = [digest]
        for number, alternate in enumerate(item.alternates):
            try:
                digests.append(hash_type.to_bytes(alternate))
            except HashmatchError as error:
                return Rejection(error.code, f"alternates[{number}]: {error.detail}"), []
        rejection, companions = self._companions(hash_type, item)
        if rejection is not None:
            return rejection, []
        thresholds = thresholds_of.get(hash_type.name)
        if thresholds is None:
            thresholds = tuple(
                (database, self._threshold(database, hash_type))
                for database in sorted(set(principal.databases) & set(DATABASES))
            )
            if thresholds:
                # Negative indicators are searched at the widest threshold the item is matched
                # at: one near the query withholds every match the query would have had.
                widest = max(threshold for _, threshold in thresholds)
                thresholds = (*thresholds, (NEGATIVE_DATABASE, widest))
            thresholds_of[hash_type.name] = thresholds
        agreements = tuple(
            (database, agreement)
            for database, _ in thresholds
            if database != NEGATIVE_DATABASE
            and (agreement := self._agreement(database, hash_type)) is not None
        )
        if agreements:
            # Likewise under the agreement rule: a negative indicator near one of the item's
            # pairs withholds the match at the widest agreement threshold of its databases.
            agreements = (*agreements, (NEGATIVE_DATABASE, max(a for _, a in agreements)))
        return None, [
            HashQuery(hash_type, digest, thresholds, companion, agreements)
            for digest, companion in zip(digests, companions, strict=True)
        ]

    def _companions(
        self, hash_type: HashType, item: MatchItem
    ) -> tuple[Rejection | None, list[bytes | None]]:
        """The companion digest of the value and of each alternate (None where not sent)."""
        none: list[bytes | None] = [None] * (1 + len(item.alternates))
        if item.companion is None:
            if item.alternate_companions:
                return Rejection(
                    "invalid-input", "alternate_companions need the value's companion too"
                ), []
            return None, none
        companion_type = HASH_TYPES.companion_of(hash_type)
        if companion_type is None:
            return Rejection(
                "invalid-input", f"{hash_type.name} has no companion type: leave companion out"
            ), []
        if item.alternate_companions and len(item.alternate_companions) != len(item.alternates):
            return Rejection(
                "invalid-input",
                f"{len(item.alternate_companions)} alternate_companions for "
                f"{len(item.alternates)} alternates: one per alternate, or none",
            ), []
        texts = [item.companion, *item.alternate_companions]
        companions: list[bytes | None] = []
        for number, text in enumerate(texts):
            try:
                companions.append(companion_type.to_bytes(text))
            except HashmatchError as error:
                where = "companion" if number == 0 else f"alternate_companions[{number - 1}]"
                return Rejection(error.code, f"{where}: {error.detail}"), []
        companions.extend([None] * (len(none) - len(companions)))
        return None, companions

    def _agreement(self, database: str, hash_type: HashType) -> int | None:
        if hash_type.companion is None:
            return None
        return self._agreements.get(database, {}).get(
            hash_type.name, hash_type.default_agreement_threshold
        )

    def _threshold(self, database: str, hash_type: HashType) -> int:
        return self._thresholds.get(database, {}).get(hash_type.name, hash_type.default_threshold)


def _query_counts(results: Sequence[ItemAnswer]) -> Counter[QueryCount]:
    """Items per hash type, outcome and rejection code. A type name the client made up is
    counted as "unknown": counters hold no free text."""
    return Counter(
        QueryCount(
            result.hash_type if result.hash_type in HASH_TYPES else "unknown",
            result.outcome,
            result.rejection.code if result.rejection is not None else NONE,
        )
        for result in results
    )


def _without_negatives(per_database: Mapping[str, int]) -> dict[str, int]:
    """What the provider is told per database: the negative pseudo-database is internal."""
    return {db: value for db, value in per_database.items() if db != NEGATIVE_DATABASE}


def checked_thresholds(
    thresholds: Mapping[str, Mapping[str, int]],
) -> dict[str, dict[str, int]]:
    """``{database: {hash type: threshold}}`` with every name known and every threshold within
    its type's maximum; InvalidInput names the first that is not."""
    return _checked(thresholds, "match", HashType.check_threshold)


def checked_agreement_thresholds(
    thresholds: Mapping[str, Mapping[str, int]],
) -> dict[str, dict[str, int]]:
    """The same for agreement thresholds: types with a companion, within their maximum."""
    return _checked(thresholds, "agreement", HashType.check_agreement_threshold)


def _checked(
    thresholds: Mapping[str, Mapping[str, int]],
    kind: str,
    check: Callable[[HashType, int], int],
) -> dict[str, dict[str, int]]:
    checked: dict[str, dict[str, int]] = {}
    for database, per_type in thresholds.items():
        if database not in DATABASES:
            raise InvalidInput(f"{kind} thresholds name an unknown database {database!r}")
        checked[database] = {
            get_hash_type(name).name: check(get_hash_type(name), value)
            for name, value in per_type.items()
        }
    return checked


def _merged(answers: Sequence[QueryHits]) -> list[tuple[Hit, str]]:
    """Each indicator once, at its best score over the value (first) and alternates (the
    distance, plus the companion's where the agreement rule applied).

    ``via`` is "value" when the value is at that distance (ties go to the value: the provider
    then knows no rotation or trim was needed), else "alternate". Nearest first.
    """
    best: dict[str, tuple[Hit, str]] = {}
    for number, query_answer in enumerate(answers):
        via = VIA_VALUE if number == 0 else VIA_ALTERNATE
        for found in query_answer.hits:
            kept = best.get(found.indicator_id)
            if kept is None or found.score < kept[0].score:
                best[found.indicator_id] = (found, via)
    return sorted(best.values(), key=lambda pair: (pair[0].score, pair[0].distance))

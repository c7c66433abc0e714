"""Filing reports and reading them back (the provider's side of the reports concern).

Filing checks the cited match events, gives the report its id, claims the events for it and
puts it on the reports queue; the report is stored later, by intake. Claiming is the decision
that the matches are this report's: one conditional transaction over every cited event, so of
concurrent filings citing one match exactly one wins and the others get 409. A filing the queue
refuses releases its claim, so the retry can file.

With an idempotency key the filing runs once per (organisation, key): a retry gets the first
answer back. The request is compared as it means, not as it was spelt: defaults filled in and
the match ids read as the indicators they matched, so a retry that leaves out a default, or a
re-scan of the same content citing new matches of the same indicators, is the same report. The
report id derives from (organisation, key), so a retry after a failure past the queue (the audit
write) files under the same id and intake stores the report once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel, ConfigDict, Field

from hashmatch.access.model import Principal
from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import Conflict, DependencyUnavailable, InvalidInput, NotFound
from hashmatch.input_types import event_time_problem
from hashmatch.matching.events import MatchEvent
from hashmatch.matching.limits import MAX_IDEMPOTENCY_KEY_LENGTH
from hashmatch.matching.ports import MatchEventStore
from hashmatch.reports.model import (
    REPORT_ID_PREFIX,
    Filing,
    Report,
    ReportDetails,
    ReportPage,
    ReportReceipt,
    ReportStatus,
    is_own_report,
    is_report_id,
    new_report_id,
)
from hashmatch.reports.ports import ReportQueue, ReportStore

# A retry with the same key returns the first answer for this long; afterwards the key still
# names its report (a filing under it is refused while the report exists).
IDEMPOTENCY_WINDOW = timedelta(hours=24)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


class FilingRequest(BaseModel):
    """The data the idempotent filing is keyed on (organisation + key) and compared by
    (``meaning``: the normalised request's digest)."""

    model_config = ConfigDict(frozen=True)

    provider: str = Field(description="the organisation id")
    client_id: str
    idempotency_key: str | None = Field(default=None, max_length=MAX_IDEMPOTENCY_KEY_LENGTH)
    details: ReportDetails
    meaning: str


class KeyReused(Conflict):
    """An Idempotency-Key that already filed a different report (HTTP 409)."""

    code = "idempotency-key-reused"
    title = "Idempotency-Key already used"

    def __init__(self, report_id: str) -> None:
        super().__init__(
            f"this Idempotency-Key filed report {report_id}; a different report needs a new key",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": f"filed {report_id}"}],
        )
        self.report_id = report_id


def idempotency_config() -> IdempotencyConfig:
    """Keyed on organisation + Idempotency-Key (two organisations may pick the same key); the
    request's meaning is what a retry must repeat."""
    return IdempotencyConfig(
        event_key_jmespath="[provider, idempotency_key]",
        payload_validation_jmespath="meaning",
        expires_after_seconds=int(IDEMPOTENCY_WINDOW.total_seconds()),
    )


def keyed_report_id(organisation_id: str, idempotency_key: str) -> str:
    """The report id an idempotency key files under: the same for every attempt."""
    digest = hashlib.sha256(f"{organisation_id}\n{idempotency_key}".encode()).hexdigest()
    return REPORT_ID_PREFIX + digest[:24]


def meaning_of(details: ReportDetails, events: dict[str, MatchEvent]) -> str:
    """The digest of what a report says: every field with its default filled in, in canonical
    form, and the cited matches as the indicators they matched."""
    indicators = sorted(
        {events[match_id].indicator_id for match_id in details.match_ids if match_id in events}
    )
    stated = details.model_dump_json(exclude={"match_ids"})
    return hashlib.sha256(f"{stated}\n{','.join(indicators)}".encode()).hexdigest()


class ReportService:
    def __init__(
        self,
        *,
        match_events: MatchEventStore,
        queue: ReportQueue,
        reports: ReportStore,
        clock: Clock,
        audit: AuditLog,
        idempotency_store: BasePersistenceLayer,
        idempotency: IdempotencyConfig | None = None,
    ) -> None:
        self._audit = audit
        self._match_events = match_events
        self._queue = queue
        self._reports = reports
        self._clock = clock
        self.idempotency = idempotency or idempotency_config()
        # Wrapped here rather than decorated, so each service uses the store it was given.
        self._file_once = idempotent_function(
            data_keyword_argument="request",
            persistence_store=idempotency_store,
            config=self.idempotency,
            output_serializer=PydanticSerializer(ReportReceipt),
        )(self._file_keyed)

    def file(
        self, principal: Principal, details: ReportDetails, idempotency_key: str | None = None
    ) -> ReportReceipt:
        """File a report for the principal's organisation; the answer names its id."""
        if (
            idempotency_key is not None
            and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH
        ):
            raise InvalidInput(
                "Idempotency-Key must be 1 to 255 characters",
                errors=[{"loc": ["header", "Idempotency-Key"], "msg": "1 to 255 characters"}],
            )
        organisation = principal.organisation_id
        events = self._match_events.get_many(details.match_ids)
        request = FilingRequest(
            provider=organisation,
            client_id=principal.client_id,
            idempotency_key=idempotency_key,
            details=details,
            meaning=meaning_of(details, events),
        )
        if idempotency_key is None:
            return self._file(request, new_report_id(), events)
        report_id = keyed_report_id(organisation, idempotency_key)
        try:
            receipt: ReportReceipt = self._file_once(request=request)
        except IdempotencyValidationError as error:
            raise KeyReused(report_id) from error
        except IdempotencyAlreadyInProgressError as error:
            raise Conflict(
                "a filing with this Idempotency-Key is still in progress; retry shortly"
            ) from error
        except IdempotencyPersistenceLayerError as error:
            raise DependencyUnavailable("the idempotency store failed") from error
        return receipt

    def _file_keyed(self, request: FilingRequest) -> ReportReceipt:
        """Runs at most once per (organisation, key) while its result is remembered."""
        assert request.idempotency_key is not None
        report_id = keyed_report_id(request.provider, request.idempotency_key)
        if self._reports.get(report_id) is not None:
            # The key's first answer is forgotten (24 h), but its report exists.
            raise KeyReused(report_id)
        events = self._match_events.get_many(request.details.match_ids)
        return self._file(request, report_id, events)

    def _file(
        self, request: FilingRequest, report_id: str, events: dict[str, MatchEvent]
    ) -> ReportReceipt:
        now = self._clock.now()
        match_ids = request.details.match_ids
        self._check_match_events(request.provider, report_id, match_ids, events, now)
        self._check_detected_at(request.details, now)
        filing = Filing(
            report_id=report_id,
            provider=request.provider,
            client_id=request.client_id,
            filed_at=now,
            details=request.details,
        )
        # Decided here, atomically: of two filings citing one match, one claims it.
        self._match_events.claim(match_ids, report_id)
        try:
            self._queue.send(filing)
        except DependencyUnavailable:
            self._match_events.release(match_ids, report_id)
            raise
        # A failure from here on fails the request, and its retry (with the key) files under
        # the same id: the claim holds for it, and intake stores the report once.
        self._audit.record(
            AuditAction.REPORT_FILED,
            actor=request.client_id,
            role="provider",
            targets=[filing.report_id, *filing.details.match_ids],
        )
        return ReportReceipt(
            report_id=filing.report_id, status=ReportStatus.RECEIVED, filed_at=filing.filed_at
        )

    def get(self, principal: Principal, report_id: str) -> Report:
        """The principal's organisation's report; anyone else's is NotFound, as is no report."""
        report = self._reports.get(report_id) if is_report_id(report_id) else None
        if report is None or not is_own_report(principal, report):
            raise NotFound(
                f"no report {report_id} (a report just filed appears once intake stores it)"
            )
        return report

    def list(
        self,
        principal: Principal,
        *,
        status: ReportStatus | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> ReportPage:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInput(
                f"limit must be 1 to {MAX_PAGE_SIZE}",
                errors=[{"loc": ["query", "limit"], "msg": f"1 to {MAX_PAGE_SIZE}"}],
            )
        return self._reports.list_for_provider(
            principal.organisation_id, status=status, limit=limit, cursor=cursor
        )

    def _check_detected_at(self, details: ReportDetails, now: datetime) -> None:
        problem = event_time_problem(details.detected_at, now)
        if problem is not None:
            raise InvalidInput(
                f"detected_at {problem}", errors=[{"loc": ["body", "detected_at"], "msg": problem}]
            )

    def _check_match_events(
        self,
        provider: str,
        report_id: str,
        match_ids: Sequence[str],
        events: dict[str, MatchEvent],
        now: datetime,
    ) -> None:
        """Every cited event must be retained, be this organisation's and not cited by another
        report: NotFound for unknown ids, Conflict for ids another report cites.

        Unknown and someone else's ids get the same answer, so the answer never tells a
        provider that another provider's match id exists.
        """
        unknown: list[dict[str, object]] = []
        cited: list[dict[str, object]] = []
        for position, match_id in enumerate(match_ids):
            event = events.get(match_id)
            location: list[object] = ["body", "match_ids", position]
            # An event past its retention date but not yet erased counts as gone.
            retained = event is not None and (event.report_id or event.expires_at > now)
            if event is None or not retained or event.provider != provider:
                unknown.append({"loc": location, "msg": f"{match_id}: unknown or not yours"})
            elif event.report_id not in (None, report_id):
                cited.append(
                    {"loc": location, "msg": f"{match_id}: already cited by {event.report_id}"}
                )
        if unknown:
            raise NotFound(f"{len(unknown)} match id(s) are unknown or not yours", errors=unknown)
        if cited:
            raise Conflict(f"{len(cited)} match id(s) are cited by another report", errors=cited)

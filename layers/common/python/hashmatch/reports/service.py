"""Filing reports and reading them back (the provider's side of the reports concern).

Filing checks the cited match events, gives the report its id and puts it on the reports queue;
the report is stored later, by intake. With an idempotency key the whole filing runs once per
(provider, key): a retry gets the first answer back, and a filing that failed (invalid, or the
queue refused it) leaves no record behind, so a retry with the same key files exactly one report.
"""

from __future__ import annotations

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
from hashmatch.matching.limits import MAX_IDEMPOTENCY_KEY_LENGTH
from hashmatch.matching.ports import MatchEventStore
from hashmatch.reports.model import (
    Filing,
    Report,
    ReportDetails,
    ReportPage,
    ReportReceipt,
    ReportStatus,
    is_report_id,
    new_report_id,
)
from hashmatch.reports.ports import ReportQueue, ReportStore

# A retry with the same key returns the first answer for this long; afterwards it files anew.
IDEMPOTENCY_WINDOW = timedelta(hours=24)
# A detection time a little ahead of ours is clock skew on the provider's side, not an error.
ALLOWED_CLOCK_SKEW = timedelta(minutes=5)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


class FilingRequest(BaseModel):
    """The data the idempotent filing is keyed on (provider + key) and validated against."""

    model_config = ConfigDict(frozen=True)

    provider: str
    client_id: str
    idempotency_key: str | None = Field(default=None, max_length=MAX_IDEMPOTENCY_KEY_LENGTH)
    details: ReportDetails


def idempotency_config() -> IdempotencyConfig:
    """Keyed on provider + Idempotency-Key (two providers may pick the same key); the report
    itself is the payload a retry must repeat."""
    return IdempotencyConfig(
        event_key_jmespath="[provider, idempotency_key]",
        payload_validation_jmespath="details",
        expires_after_seconds=int(IDEMPOTENCY_WINDOW.total_seconds()),
    )


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
        )(self._file_new)

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
        request = FilingRequest(
            provider=principal.owner,
            client_id=principal.client_id,
            idempotency_key=idempotency_key,
            details=details,
        )
        if idempotency_key is None:
            return self._file_new(request=request)
        try:
            receipt: ReportReceipt = self._file_once(request=request)
        except IdempotencyValidationError as error:
            raise InvalidInput(
                "this Idempotency-Key was used for a different report; use a new key",
                errors=[{"loc": ["header", "Idempotency-Key"], "msg": "reused for another report"}],
            ) from error
        except IdempotencyAlreadyInProgressError as error:
            raise Conflict(
                "a filing with this Idempotency-Key is still in progress; retry shortly"
            ) from error
        except IdempotencyPersistenceLayerError as error:
            raise DependencyUnavailable("the idempotency store failed") from error
        return receipt

    def _file_new(self, request: FilingRequest) -> ReportReceipt:
        """Runs at most once per (provider, key) while its result is remembered."""
        now = self._clock.now()
        self._check_detected_at(request.details, now)
        self._check_match_events(request.provider, request.details.match_ids, now)
        filing = Filing(
            report_id=new_report_id(),
            provider=request.provider,
            client_id=request.client_id,
            filed_at=now,
            details=request.details,
        )
        self._queue.send(filing)
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
        if report is None or report.provider != principal.owner:
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
            principal.owner, status=status, limit=limit, cursor=cursor
        )

    def _check_detected_at(self, details: ReportDetails, now: datetime) -> None:
        if details.detected_at > now + ALLOWED_CLOCK_SKEW:
            raise InvalidInput(
                "detected_at is in the future",
                errors=[{"loc": ["body", "detected_at"], "msg": "must not be in the future"}],
            )

    def _check_match_events(self, provider: str, match_ids: Sequence[str], now: datetime) -> None:
        """Every cited event must be retained, be this provider's and not cited by another report.

        Unknown and someone else's ids get the same answer, so the answer never tells a
        provider that another provider's match id exists.
        """
        events = self._match_events.get_many(match_ids)
        problems: list[dict[str, object]] = []
        for position, match_id in enumerate(match_ids):
            event = events.get(match_id)
            location: list[object] = ["body", "match_ids", position]
            # An event past its retention date but not yet erased counts as gone.
            retained = event is not None and (event.report_id or event.expires_at > now)
            if event is None or not retained or event.provider != provider:
                problems.append({"loc": location, "msg": f"{match_id}: unknown or not yours"})
            elif event.report_id is not None:
                problems.append(
                    {"loc": location, "msg": f"{match_id}: already cited by {event.report_id}"}
                )
        if problems:
            raise InvalidInput(f"{len(problems)} match id(s) cannot be reported", errors=problems)

"""Drafting, publishing and serving the yearly transparency report.

Publishing a year (after it has ended: by the daily schedule, or on demand) writes its JSON
once; the CSV and the HTML page are rendered from that JSON, so a publication that died half
way and is run again completes it with the same bytes. Its SHA-256 goes into the audit log in
one ``transparency.published`` entry, and a publication record (the date the statistics
retention counts from). A published year is never built again: the public reads what was
published.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Literal

from pydantic import ValidationError

from hashmatch.access.ports import OrganisationStore
from hashmatch.audit.chain import ChainedAuditLog
from hashmatch.audit.model import AuditAction
from hashmatch.clock import Clock
from hashmatch.errors import Conflict, InvalidInput, NotFound
from hashmatch.observability import logger
from hashmatch.statistics.ports import CounterStore, Publication, PublicationRecords
from hashmatch.statistics.query import Period, StatisticsQuery
from hashmatch.transparency.builder import ReportInputs, build_report
from hashmatch.transparency.error_rates import error_rates_in_force
from hashmatch.transparency.model import AuditHead, TransparencyReport
from hashmatch.transparency.ports import PublishedReports
from hashmatch.transparency.rendering import (
    CSV_NAME,
    HTML_NAME,
    JSON_NAME,
    report_csv,
    report_html,
    report_json,
)

FIRST_YEAR = 2020
PUBLISHER_ACTOR = "publish_statistics"
FUNCTION_ROLE = "function"
CONTENT_TYPES = {
    JSON_NAME: "application/json",
    CSV_NAME: "text/csv; charset=utf-8",
    HTML_NAME: "text/html; charset=utf-8",
}
# The schedule publishes the previous year from this day of January on (late counts of
# 31 December, such as a report taken in after midnight, have arrived by then).
PUBLISH_FROM_JANUARY_DAY = 2


def digest_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class TransparencyService:
    def __init__(
        self,
        *,
        counters: CounterStore,
        reports: PublishedReports,
        records: PublicationRecords,
        audit: ChainedAuditLog,
        clock: Clock,
        match_thresholds: Mapping[str, Mapping[str, int]],
        small_cell_threshold: int,
        organisations: OrganisationStore | None = None,
    ) -> None:
        self._organisations = organisations
        self._counters = counters
        self._query = StatisticsQuery(counters, clock)
        self._reports = reports
        self._records = records
        self._audit = audit
        self._clock = clock
        self._thresholds = {db: dict(per_type) for db, per_type in match_thresholds.items()}
        self._small_cells = small_cell_threshold

    # -- building --------------------------------------------------------------------------

    def draft(self, year: int) -> TransparencyReport:
        """The year's report from the counters as they are now (not stored, not audited)."""
        self._check_year(year, ended=False)
        return self._build(year, "draft")

    def _build(self, year: int, status: Literal["draft", "published"]) -> TransparencyReport:
        previous_body = self._reports.get(year - 1, JSON_NAME)
        previous = _parsed(previous_body) if previous_body else None
        head = self._audit.last()
        notes = [
            "Counted as events happened, per UTC day; a retried request or a redelivered "
            "message is counted once.",
            "Repeat reports and the reports per indicator count within the calendar year.",
        ]
        if status == "draft":
            notes.insert(0, "DRAFT: the counters as they were when this was made; not published.")
        return build_report(
            ReportInputs(
                year=year,
                counts=self._query.counts(Period.of_year(year)),
                tallies=self._counters.year_tallies(year),
                error_rates=error_rates_in_force(self._thresholds),
                generated_at=self._clock.now(),
                status=status,
                threshold=self._small_cells,
                previous=previous,
                previous_digest=digest_of(previous_body) if previous_body else None,
                audit_head=AuditHead(seq=head.seq, digest=head.digest) if head else None,
                notes=notes,
                provider_names=self._provider_names(),
            )
        )

    def _provider_names(self) -> dict[str, str]:
        if self._organisations is None:
            return {}
        return {o.organisation_id: o.name for o in self._organisations.list_all()}

    # -- publishing ------------------------------------------------------------------------

    def publish(self, year: int) -> Publication:
        """Publish the year once (it must have ended); publishing it again changes nothing."""
        self._check_year(year, ended=True)
        record = self._records.get(year)
        if record is not None and record.audit_seq is not None:
            return record
        body = self._reports.get(year, JSON_NAME)
        if body is None:
            body = report_json(self._build(year, "published"))
            if not self._reports.put_new(year, JSON_NAME, body, CONTENT_TYPES[JSON_NAME]):
                body = self._reports.get(year, JSON_NAME) or body  # a concurrent run won
        report = _parsed(body)
        for name, render in ((CSV_NAME, report_csv), (HTML_NAME, report_html)):
            self._reports.put_new(year, name, render(report), CONTENT_TYPES[name])
        digest = digest_of(body)
        record = record or Publication(year=year, published_at=report.generated_at, digest=digest)
        record = self._audit_once(record)
        logger.info("transparency report published", extra={"year": year, "digest": digest})
        return record

    def publish_due(self) -> Publication | None:
        """The scheduled run: publish the previous year if it is not published yet, and if the
        service counted anything in it (a year before the deployment is not published by
        itself; ``publish`` still publishes it on demand)."""
        today = self._clock.now().date()
        year = today.year - 1
        if today < date(today.year, 1, PUBLISH_FROM_JANUARY_DAY):
            return None
        record = self._records.get(year)
        if record is not None and record.audit_seq is not None:
            return None
        if record is None and not self._query.counts(Period.of_year(year)).counts:
            return None
        return self.publish(year)

    def _audit_once(self, record: Publication) -> Publication:
        if record.audit_after_seq is not None:
            for entry in self._audit.entries_from(record.audit_after_seq + 1):
                if (
                    entry.action == AuditAction.TRANSPARENCY_PUBLISHED
                    and entry.details.get("year") == record.year
                ):
                    return self._saved(record, audit_seq=entry.seq)
        else:
            head = self._audit.last()
            record = self._saved(record, audit_after_seq=head.seq if head else 0)
        entry = self._audit.record(
            AuditAction.TRANSPARENCY_PUBLISHED,
            actor=PUBLISHER_ACTOR,
            role=FUNCTION_ROLE,
            details={
                "year": record.year,
                "sha256": record.digest,
                "files": [JSON_NAME, CSV_NAME, HTML_NAME],
            },
        )
        return self._saved(record, audit_seq=entry.seq)

    def _saved(self, record: Publication, **changes: int) -> Publication:
        updated = Publication(**{**vars(record), **changes})
        self._records.put(updated)
        return updated

    # -- serving ---------------------------------------------------------------------------

    def published_file(self, year: int, name: str) -> bytes:
        return published_file(self._reports, year, name)

    def published_report(self, year: int) -> TransparencyReport:
        return _parsed(self.published_file(year, JSON_NAME))

    def publications(self) -> Sequence[Publication]:
        return self._records.all()

    def _check_year(self, year: int, *, ended: bool) -> None:
        now: datetime = self._clock.now()
        if not FIRST_YEAR <= year <= now.year:
            raise InvalidInput(
                f"the year must be from {FIRST_YEAR} to {now.year}",
                errors=[{"loc": ["year"], "msg": f"{FIRST_YEAR} to {now.year}"}],
            )
        if ended and year >= now.year:
            raise Conflict(f"{year} has not ended: it can be drafted, not published")


def published_file(reports: PublishedReports, year: int, name: str) -> bytes:
    """A published file; NotFound for a year not published (yet)."""
    body = reports.get(year, name) if FIRST_YEAR <= year <= 9999 else None
    if body is None:
        raise NotFound(f"no transparency report has been published for {year}")
    return body


def _parsed(body: bytes) -> TransparencyReport:
    try:
        return TransparencyReport.model_validate_json(body)
    except ValidationError as error:
        raise Conflict("a published report does not match this version's schema") from error

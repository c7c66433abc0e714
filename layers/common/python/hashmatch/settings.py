"""Typed settings, read lazily from the environment and cached.

Each concern has its own small model, so a function reads only what it uses and a missing
variable fails loudly at first use (there are no silent defaults for table or queue names).
Tests clear the cache with ``clear_settings_cache()`` after changing the environment.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Json,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
)

from hashmatch.endpoints import HttpsUrl
from hashmatch.retention_policy import RetentionPolicy

SettingsModel = TypeVar("SettingsModel", bound=BaseModel)


class SettingsError(RuntimeError):
    """A required setting is missing or malformed: a deployment fault, never a client's."""


class _EnvSettings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class ClientsSettings(_EnvSettings):
    clients_table: str
    # Set for operator commands against a deployed stack (from its Outputs); the local stack and
    # the functions have no usage plans to enrol keys in.
    provider_usage_plan_id: str | None = None
    staff_usage_plan_id: str | None = None


class OrganisationSettings(_EnvSettings):
    # Operator commands only: the authorizer reads a client's organisation id from its record.
    organisations_table: str


class MetricsSettings(_EnvSettings):
    # The stack's name: a dimension of every custom metric, so each stack's alarms see its own.
    stack_name: str


class LoggingSettings(_EnvSettings):
    stage: str = "local"


class IndicatorSettings(_EnvSettings):
    indicators_table: str


class SnapshotSettings(_EnvSettings):
    snapshot_bucket: str
    # The object key is part of the protocol between build_index and the matchers, not a name
    # that differs per deployment.
    snapshot_key: str = "index/current.hmsnap"
    # How far before its watermark build_index re-reads the change feed (late-visible entries).
    build_overlap_seconds: int = 300
    # How often a warm matcher checks for a newer snapshot.
    snapshot_refresh_seconds: int = 30


class ReportsTableSettings(_EnvSettings):
    reports_table: str


class MatchEventsSettings(_EnvSettings):
    match_events_table: str


class StatisticsSettings(_EnvSettings):
    statistics_table: str


class PublishedReportSettings(_EnvSettings):
    """Reading published reports (serve_transparency needs no more)."""

    # Where published reports are kept (S3, Object Lock in compliance mode).
    transparency_bucket: str


class TransparencySettings(PublishedReportSettings):
    """Building and publishing them."""

    # A published count below this is shown as "<N" (TransparencySmallCellThreshold).
    small_cell_threshold: int = Field(ge=2, le=100)


class ReportSettings(_EnvSettings):
    """Filing reports: the queue and the idempotency records (tables: their own settings)."""

    reports_queue_url: str
    idempotency_table: str


class ReviewSettings(_EnvSettings):
    """review_reports: where forwarded reports and provider notifications are queued, and the
    workflow's parameters (ReviewClaimLeaseMinutes, DoNotInformMaxDays)."""

    outbound_queue_url: str
    notifications_queue_url: str
    claim_lease_minutes: PositiveInt
    do_not_inform_max_days: PositiveInt


class DeliverySettings(_EnvSettings):
    """The outbound consumers' retries on the queue (DeliveryRetryBaseSeconds)."""

    delivery_retry_base_seconds: PositiveInt


class ForwardingSettings(_EnvSettings):
    """forward_reports: each recipient's HTTPS endpoint (RecipientEndpoints, JSON
    {"europol": "https://...", "DE": "https://..."}) and the secret holding their credentials."""

    outbound_queue_url: str
    # Keys are checked by the recipients adapter (hashmatch.adapters.https_recipients).
    recipient_endpoints: Json[dict[str, HttpsUrl]]
    recipient_credentials_secret: str


class NotificationSettings(_EnvSettings):
    notifications_queue_url: str


class MatchThresholdSettings(_EnvSettings):
    """The deployed thresholds (matching applies them; the transparency report states them)."""

    # {"known": {"pdq": 31, "phash": 8, "dhash": 8}, "new": {...}, "solicitation": {...}}: the
    # threshold applied per database and hash type, from the template's
    # <Database><Type>MatchThreshold Parameters (checked against each type's maximum by the
    # match service; every database has one per Hamming type of the registry: tests/template).
    match_thresholds: Json[dict[str, dict[str, NonNegativeInt]]]


class MatchSettings(MatchThresholdSettings):
    # {"known": {"pdq": 36}, ...}: the agreement threshold (a type's distance plus its
    # companion's, PDQ + dHash) per database and type with a companion, from the template's
    # <Database><Type>AgreementThreshold Parameters (tests/template).
    agreement_thresholds: Json[dict[str, dict[str, NonNegativeInt]]]
    # "true" (the template's default, MatchRequiresQuality): a PDQ item without a quality is
    # rejected; "false" lets it through ungated.
    quality_required: bool


class DisclosureSettings(_EnvSettings):
    # CloseBandPercent: the share of the threshold still answered "close" (above it: "near").
    close_band_percent: Annotated[int, Field(ge=0, le=100)]
    # ProviderDistanceDisclosure: "bands" (the default) or "exact" (distances to providers).
    provider_distance_disclosure: Literal["bands", "exact"]


class ProbingTableSettings(_EnvSettings):
    probing_table: str


class ProbingSettings(_EnvSettings):
    """match_hashes' probing guard (hashmatch.probing.guard): the template's
    ProbingWindowMinutes, ProbingVariantLimit and ProbingSuspendAfter."""

    probing_window_minutes: PositiveInt
    probing_variant_limit: Annotated[int, Field(ge=2, le=64)]
    probing_suspend_after: Annotated[int, Field(ge=0, le=10)]


class FloodSettings(_EnvSettings):
    """match_hashes' flood quarantine (hashmatch.indicators.quarantine): FloodWindowMinutes,
    FloodFactor, FloodMinimumMatches and FloodAbsoluteMatches."""

    flood_window_minutes: PositiveInt
    flood_factor: Annotated[float, Field(gt=1)]
    flood_minimum_matches: PositiveInt
    flood_absolute_matches: PositiveInt


class RetentionSettings(_EnvSettings):
    # {"match_events": 90, "unfounded_reports": 30, ...}: every period of the retention policy in
    # days, built from the template Parameters once (Globals), so no period is written twice.
    retention_days: Json[RetentionPolicy]


class AuditSettings(_EnvSettings):
    audit_table: str


class AuditCheckpointSettings(_EnvSettings):
    # The KMS key that seals checkpoints (erase_expired seals, `hashmatch audit verify` checks).
    audit_checkpoint_key: str


class AuditAnchorSettings(_EnvSettings):
    # The Object Lock bucket the chain's head and checkpoints are anchored in (docs/audit.md).
    audit_anchor_bucket: str


class LegalHoldSettings(_EnvSettings):
    legal_holds_table: str


class ErasureSettings(_EnvSettings):
    retention_state_table: str


@cache
def _load(model: type[BaseModel]) -> BaseModel:
    values = {name: os.environ.get(name.upper()) for name in model.model_fields}
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        raise SettingsError(
            "missing or invalid environment settings: " + "; ".join(map(_described, error.errors()))
        ) from error


def _described(error: Any) -> str:
    """``RETENTION_DAYS: statistics: Field required``: the variable first, then where in it."""
    variable, *inside = (str(part) for part in error["loc"])
    return ": ".join([variable.upper(), *inside, error["msg"]])


def load_settings(model: type[SettingsModel]) -> SettingsModel:
    """The settings of ``model`` from the environment (field ``clients_table`` <- CLIENTS_TABLE)."""
    loaded = _load(model)
    assert isinstance(loaded, model)
    return loaded


def clear_settings_cache() -> None:
    _load.cache_clear()

"""The composition root: the one place real adapters are chosen and wired to services.

Every factory is lazy and cached, so nothing AWS exists at import time and a warm Lambda reuses
its clients. Unit tests build services with in-memory fakes instead of calling these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from hashmatch.access.model import Organisation, Role
from hashmatch.access.service import ClientService
from hashmatch.adapters.apigateway_usage_plans import ApiGatewayUsagePlans
from hashmatch.adapters.aws import (
    apigateway_client,
    dynamodb_client,
    kms_client,
    s3_client,
    secretsmanager_client,
    sqs_client,
)
from hashmatch.adapters.dynamodb_audit import DynamoDBAuditStore
from hashmatch.adapters.dynamodb_clients import DynamoDBClientStore
from hashmatch.adapters.dynamodb_erasure_progress import DynamoDBErasureProgressStore
from hashmatch.adapters.dynamodb_indicators import DynamoDBIndicatorStore
from hashmatch.adapters.dynamodb_legal_holds import DynamoDBLegalHoldStore
from hashmatch.adapters.dynamodb_match_events import DynamoDBMatchEventStore
from hashmatch.adapters.dynamodb_organisations import DynamoDBOrganisationStore
from hashmatch.adapters.dynamodb_probing import DynamoDBProbingStore
from hashmatch.adapters.dynamodb_reports import DynamoDBReportStore
from hashmatch.adapters.dynamodb_statistics import (
    DynamoDBCounterStore,
    DynamoDBPublicationRecords,
)
from hashmatch.adapters.https_post import http_pool
from hashmatch.adapters.https_recipients import HttpsRecipients
from hashmatch.adapters.https_webhooks import HttpsWebhooks
from hashmatch.adapters.kms_checkpoint_sealer import KMSCheckpointSealer
from hashmatch.adapters.s3_audit_anchors import S3AuditAnchorStore
from hashmatch.adapters.s3_published_reports import S3PublishedReports
from hashmatch.adapters.s3_snapshots import S3SnapshotStore
from hashmatch.adapters.secretsmanager_credentials import SecretsManagerCredentials
from hashmatch.adapters.sqs_outbound import SQSNotificationQueue, SQSOutboundQueue, SQSRedelivery
from hashmatch.adapters.sqs_report_queue import SQSReportQueue
from hashmatch.audit.anchors import AuditAnchoring
from hashmatch.audit.chain import ChainedAuditLog
from hashmatch.audit.model import AuditEntry
from hashmatch.clock import SystemClock
from hashmatch.indicators.builder import IndexBuilder
from hashmatch.indicators.negatives import NegativeIndicators
from hashmatch.indicators.quarantine import FloodGuard, FloodRule
from hashmatch.indicators.retention import ProvenanceRetention
from hashmatch.indicators.service import IndicatorService
from hashmatch.matching.disclosure import Disclosure, DistanceBands
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.retention import MatchEventRetention
from hashmatch.matching.service import MatchService
from hashmatch.probing.guard import ProbingGuard, ProbingRule
from hashmatch.probing.retention import ProbingSketchRetention
from hashmatch.reports.delivering import RetryPolicy
from hashmatch.reports.forwarding import Forwarding
from hashmatch.reports.intake import ReportIntake
from hashmatch.reports.notifier import ProviderNotifier
from hashmatch.reports.ports import ReviewEvents
from hashmatch.reports.retention import ReportRetention, report_part_retentions
from hashmatch.reports.review import InformationAnswers, ReviewRules, ReviewService
from hashmatch.reports.review_statistics import CountedReviewEvents
from hashmatch.reports.service import ReportService
from hashmatch.retention.erasure import Erasure
from hashmatch.retention.holds import LegalHoldService
from hashmatch.retention.registry import ErasureRegistry
from hashmatch.retention_policy import RetentionPolicy
from hashmatch.settings import (
    AuditAnchorSettings,
    AuditCheckpointSettings,
    AuditSettings,
    ClientsSettings,
    DeliverySettings,
    DisclosureSettings,
    ErasureSettings,
    FloodSettings,
    ForwardingSettings,
    IndicatorSettings,
    LegalHoldSettings,
    MatchEventsSettings,
    MatchSettings,
    MatchThresholdSettings,
    NotificationSettings,
    OrganisationSettings,
    ProbingSettings,
    ProbingTableSettings,
    PublishedReportSettings,
    ReportSettings,
    ReportsTableSettings,
    RetentionSettings,
    ReviewSettings,
    SnapshotSettings,
    StatisticsSettings,
    TransparencySettings,
    load_settings,
)
from hashmatch.statistics.counting import Statistics
from hashmatch.statistics.query import StatisticsQuery
from hashmatch.statistics.retention import StatisticsRetention
from hashmatch.transparency.publication import TransparencyService


@cache
def retention_policy() -> RetentionPolicy:
    return load_settings(RetentionSettings).retention_days


@cache
def audit_log() -> ChainedAuditLog:
    table = load_settings(AuditSettings).audit_table
    return ChainedAuditLog(DynamoDBAuditStore(dynamodb_client(), table), SystemClock())


class _AuditLogOnFirstUse:
    """The audit log, resolved when something is first recorded: the authorizer builds the
    client service only to authenticate, and has no audit table to name."""

    def record(
        self,
        action: str,
        *,
        actor: str,
        role: str,
        targets: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        return audit_log().record(action, actor=actor, role=role, targets=targets, details=details)


@cache
def audit_anchors() -> S3AuditAnchorStore:
    return S3AuditAnchorStore(s3_client(), load_settings(AuditAnchorSettings).audit_anchor_bucket)


@cache
def audit_anchoring() -> AuditAnchoring:
    return AuditAnchoring(audit_log(), audit_anchors(), SystemClock())


@cache
def checkpoint_sealer() -> KMSCheckpointSealer:
    key = load_settings(AuditCheckpointSettings).audit_checkpoint_key
    return KMSCheckpointSealer(kms_client(), key)


@cache
def client_store() -> DynamoDBClientStore:
    return DynamoDBClientStore(dynamodb_client(), load_settings(ClientsSettings).clients_table)


@cache
def client_service() -> ClientService:
    settings = load_settings(ClientsSettings)
    usage_plans = None
    if settings.provider_usage_plan_id and settings.staff_usage_plan_id:
        usage_plans = ApiGatewayUsagePlans(
            apigateway_client(),
            {
                Role.PROVIDER: settings.provider_usage_plan_id,
                Role.CURATOR: settings.staff_usage_plan_id,
                Role.REVIEWER: settings.staff_usage_plan_id,
                Role.AUDITOR: settings.staff_usage_plan_id,
            },
        )
    return ClientService(
        client_store(),
        SystemClock(),
        _AuditLogOnFirstUse(),
        usage_plans,
        organisations=_OrganisationsOnFirstUse(),
    )


class _OrganisationsOnFirstUse:
    """The organisations table, resolved when first used: the authorizer builds the client
    service only to authenticate, and has no organisations table to name (nor access to one)."""

    def _store(self) -> DynamoDBOrganisationStore:
        table = load_settings(OrganisationSettings).organisations_table
        return DynamoDBOrganisationStore(dynamodb_client(), table)

    def put_new(self, organisation: Organisation) -> None:
        self._store().put_new(organisation)

    def get(self, organisation_id: str) -> Organisation | None:
        return self._store().get(organisation_id)

    def list_all(self) -> list[Organisation]:
        return self._store().list_all()


@cache
def indicator_store() -> DynamoDBIndicatorStore:
    return DynamoDBIndicatorStore(
        dynamodb_client(), load_settings(IndicatorSettings).indicators_table
    )


@cache
def snapshot_store() -> S3SnapshotStore:
    settings = load_settings(SnapshotSettings)
    return S3SnapshotStore(s3_client(), settings.snapshot_bucket, settings.snapshot_key)


@cache
def indicator_service() -> IndicatorService:
    return IndicatorService(
        indicator_store(),
        SystemClock(),
        audit_log(),
        provenance_retention=retention_policy().revoked_provenance,
        statistics=statistics(),
    )


@cache
def index_builder() -> IndexBuilder:
    overlap = timedelta(seconds=load_settings(SnapshotSettings).build_overlap_seconds)
    return IndexBuilder(indicator_store(), snapshot_store(), SystemClock(), overlap=overlap)


@cache
def matcher() -> Matcher:
    refresh = timedelta(seconds=load_settings(SnapshotSettings).snapshot_refresh_seconds)
    return Matcher(snapshot_store(), indicator_store(), SystemClock(), refresh_interval=refresh)


@cache
def report_store() -> DynamoDBReportStore:
    return DynamoDBReportStore(
        dynamodb_client(),
        load_settings(ReportsTableSettings).reports_table,
        ttl_grace=retention_policy().legal_hold_max,
    )


@cache
def match_event_store() -> DynamoDBMatchEventStore:
    return DynamoDBMatchEventStore(
        dynamodb_client(),
        load_settings(MatchEventsSettings).match_events_table,
        ttl_grace=retention_policy().legal_hold_max,
    )


@cache
def counter_store() -> DynamoDBCounterStore:
    return DynamoDBCounterStore(
        dynamodb_client(), load_settings(StatisticsSettings).statistics_table
    )


@cache
def statistics() -> Statistics:
    """Where every event source records its counts (hashmatch.statistics.counting)."""
    return Statistics(counter_store())


@cache
def statistics_query() -> StatisticsQuery:
    return StatisticsQuery(counter_store(), SystemClock())


@cache
def publication_records() -> DynamoDBPublicationRecords:
    return DynamoDBPublicationRecords(
        dynamodb_client(), load_settings(StatisticsSettings).statistics_table
    )


@cache
def published_reports() -> S3PublishedReports:
    return S3PublishedReports(
        s3_client(), load_settings(PublishedReportSettings).transparency_bucket
    )


@cache
def transparency() -> TransparencyService:
    return TransparencyService(
        counters=counter_store(),
        reports=published_reports(),
        records=publication_records(),
        audit=audit_log(),
        clock=SystemClock(),
        match_thresholds=load_settings(MatchThresholdSettings).match_thresholds,
        small_cell_threshold=load_settings(TransparencySettings).small_cell_threshold,
        organisations=_OrganisationsOnFirstUse(),
    )


@cache
def report_service() -> ReportService:
    settings = load_settings(ReportSettings)
    return ReportService(
        match_events=match_event_store(),
        queue=SQSReportQueue(sqs_client(), settings.reports_queue_url),
        reports=report_store(),
        clock=SystemClock(),
        audit=audit_log(),
        idempotency_store=DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=dynamodb_client()
        ),
    )


@cache
def report_intake() -> ReportIntake:
    return ReportIntake(
        reports=report_store(),
        match_events=match_event_store(),
        clock=SystemClock(),
        audit=audit_log(),
        statistics=statistics(),
    )


@cache
def review_events() -> ReviewEvents:
    """Review steps counted by the statistics: decisions, information requests, deliveries
    (the statistics table is reached on the first step counted: file_reports announces answers
    to information requests, which count nothing, and has no statistics table to name)."""
    return CountedReviewEvents(statistics=statistics, match_events=match_event_store)


@cache
def review_service() -> ReviewService:
    settings = load_settings(ReviewSettings)
    return ReviewService(
        reports=report_store(),
        match_events=match_event_store(),
        indicators=indicator_store(),
        outbound=SQSOutboundQueue(sqs_client(), settings.outbound_queue_url),
        notifications=SQSNotificationQueue(sqs_client(), settings.notifications_queue_url),
        events=review_events(),
        clock=SystemClock(),
        audit=audit_log(),
        policy=retention_policy(),
        rules=ReviewRules(
            claim_lease=timedelta(minutes=settings.claim_lease_minutes),
            do_not_inform_max=timedelta(days=settings.do_not_inform_max_days),
        ),
    )


@cache
def information_answers() -> InformationAnswers:
    """The provider's answers to information requests (file_reports; it notifies no one)."""
    return InformationAnswers(
        reports=report_store(),
        notifications=None,
        events=review_events(),
        clock=SystemClock(),
        audit=audit_log(),
    )


def delivery_policy() -> RetryPolicy:
    base = load_settings(DeliverySettings).delivery_retry_base_seconds
    return RetryPolicy(redelivery_base=timedelta(seconds=base))


@cache
def forwarding() -> Forwarding:
    settings = load_settings(ForwardingSettings)
    credentials = SecretsManagerCredentials(
        secretsmanager_client(), settings.recipient_credentials_secret
    )
    return Forwarding(
        reports=report_store(),
        recipients=HttpsRecipients(settings.recipient_endpoints, credentials, http_pool()),
        redelivery=SQSRedelivery(sqs_client(), settings.outbound_queue_url),
        events=review_events(),
        clock=SystemClock(),
        audit=audit_log(),
        policy=delivery_policy(),
    )


@cache
def provider_notifier() -> ProviderNotifier:
    queue_url = load_settings(NotificationSettings).notifications_queue_url
    return ProviderNotifier(
        reports=report_store(),
        clients=client_store(),
        webhooks=HttpsWebhooks(http_pool()),
        redelivery=SQSRedelivery(sqs_client(), queue_url),
        clock=SystemClock(),
        policy=delivery_policy(),
    )


@cache
def legal_hold_store() -> DynamoDBLegalHoldStore:
    table = load_settings(LegalHoldSettings).legal_holds_table
    return DynamoDBLegalHoldStore(dynamodb_client(), table)


@cache
def erasable_data() -> ErasureRegistry:
    """Every data class erase_expired enforces and legal holds may target (register one here)."""
    return ErasureRegistry(
        [
            MatchEventRetention(match_event_store()),
            ReportRetention(report_store(), match_event_store()),
            ProvenanceRetention(indicator_store(), SystemClock()),
            StatisticsRetention(
                counter_store(), publication_records(), retention_policy().statistics
            ),
            ProbingSketchRetention(probing_store()),
            *report_part_retentions(report_store(), SystemClock()),
        ]
    )


@cache
def legal_hold_service() -> LegalHoldService:
    return LegalHoldService(
        legal_hold_store(), SystemClock(), audit_log(), retention_policy(), erasable_data()
    )


@cache
def erasure() -> Erasure:
    table = load_settings(ErasureSettings).retention_state_table
    return Erasure(
        registry=erasable_data(),
        audit_retention=retention_policy().audit_entries,
        clock=SystemClock(),
        progress=DynamoDBErasureProgressStore(dynamodb_client(), table),
        holds=legal_hold_store(),
        hold_service=legal_hold_service(),
        audit=audit_log(),
        sealer=checkpoint_sealer(),
        statistics=statistics(),
        anchors=audit_anchors(),
    )


@cache
def match_service() -> MatchService:
    return MatchService(
        matcher(),
        match_event_store(),
        statistics(),
        SystemClock(),
        event_retention=retention_policy().match_events,
        thresholds=load_settings(MatchSettings).match_thresholds,
        agreement_thresholds=load_settings(MatchSettings).agreement_thresholds,
        quality_required=load_settings(MatchSettings).quality_required,
        flood_guard=flood_guard(),
        query_guard=probing_guard(),
    )


@cache
def flood_guard() -> FloodGuard:
    settings = load_settings(FloodSettings)
    rule = FloodRule(
        window=timedelta(minutes=settings.flood_window_minutes),
        factor=settings.flood_factor,
        minimum=settings.flood_minimum_matches,
        absolute=settings.flood_absolute_matches,
    )
    return FloodGuard(indicator_store(), audit_log(), statistics(), SystemClock(), rule)


@cache
def probing_store() -> DynamoDBProbingStore:
    table = load_settings(ProbingTableSettings).probing_table
    return DynamoDBProbingStore(dynamodb_client(), table)


@cache
def probing_guard() -> ProbingGuard:
    settings = load_settings(ProbingSettings)
    rule = ProbingRule(
        window=timedelta(minutes=settings.probing_window_minutes),
        variant_limit=settings.probing_variant_limit,
        suspend_after=settings.probing_suspend_after,
        retention=retention_policy().probing_sketches,
    )
    return ProbingGuard(probing_store(), audit_log(), SystemClock(), rule)


@cache
def negative_indicators() -> NegativeIndicators:
    return NegativeIndicators(indicator_store(), SystemClock(), audit_log())


@cache
def distance_bands() -> DistanceBands:
    return DistanceBands(load_settings(DisclosureSettings).close_band_percent)


def provider_disclosure() -> Disclosure:
    return Disclosure(load_settings(DisclosureSettings).provider_distance_disclosure)


def reset() -> None:
    """Forget every wired service (tests that switch environments)."""
    for factory in list(globals().values()):
        if callable(factory) and hasattr(factory, "cache_clear"):
            factory.cache_clear()

"""The composition root: the one place real adapters are chosen and wired to services.

Every factory is lazy and cached, so nothing AWS exists at import time and a warm Lambda reuses
its clients. Unit tests build services with in-memory fakes instead of calling these.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from hashmatch.access.model import Role
from hashmatch.access.service import ClientService
from hashmatch.adapters.apigateway_usage_plans import ApiGatewayUsagePlans
from hashmatch.adapters.aws import apigateway_client, dynamodb_client, s3_client, sqs_client
from hashmatch.adapters.dynamodb_clients import DynamoDBClientStore
from hashmatch.adapters.dynamodb_indicators import DynamoDBIndicatorStore
from hashmatch.adapters.dynamodb_match_events import DynamoDBMatchEventStore
from hashmatch.adapters.dynamodb_reports import DynamoDBReportStore
from hashmatch.adapters.dynamodb_statistics import DynamoDBCounterStore
from hashmatch.adapters.s3_snapshots import S3SnapshotStore
from hashmatch.adapters.sqs_report_queue import SQSReportQueue
from hashmatch.clock import SystemClock
from hashmatch.indicators.builder import IndexBuilder
from hashmatch.indicators.matcher import Matcher
from hashmatch.indicators.service import IndicatorService
from hashmatch.matches.service import MatchService
from hashmatch.reports.intake import ReportIntake
from hashmatch.reports.service import ReportService
from hashmatch.settings import (
    ClientsSettings,
    IndicatorSettings,
    MatchSettings,
    ReportSettings,
    SnapshotSettings,
    load_settings,
)


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
    store = DynamoDBClientStore(dynamodb_client(), settings.clients_table)
    return ClientService(store, SystemClock(), usage_plans)


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
    return IndicatorService(indicator_store(), SystemClock())


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
    return DynamoDBReportStore(dynamodb_client(), load_settings(ReportSettings).reports_table)


@cache
def report_match_events() -> DynamoDBMatchEventStore:
    table = load_settings(ReportSettings).match_events_table
    return DynamoDBMatchEventStore(dynamodb_client(), table)


@cache
def report_service() -> ReportService:
    settings = load_settings(ReportSettings)
    return ReportService(
        match_events=report_match_events(),
        queue=SQSReportQueue(sqs_client(), settings.reports_queue_url),
        reports=report_store(),
        clock=SystemClock(),
        idempotency_store=DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=dynamodb_client()
        ),
    )


@cache
def report_intake() -> ReportIntake:
    return ReportIntake(
        reports=report_store(), match_events=report_match_events(), clock=SystemClock()
    )


@cache
def match_service() -> MatchService:
    settings = load_settings(MatchSettings)
    return MatchService(
        matcher(),
        DynamoDBMatchEventStore(dynamodb_client(), settings.match_events_table),
        DynamoDBCounterStore(dynamodb_client(), settings.statistics_table),
        SystemClock(),
        event_retention=timedelta(days=settings.match_event_retention_days),
        thresholds=settings.thresholds(),
    )


def reset() -> None:
    """Forget every wired service (tests that switch environments)."""
    for factory in list(globals().values()):
        if callable(factory) and hasattr(factory, "cache_clear"):
            factory.cache_clear()

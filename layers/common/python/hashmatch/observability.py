"""The one place Logger, Tracer and Metrics are created.

Service name and metrics namespace are fixed here rather than read from the environment:
Powertools reads its environment when these objects are built, which is at import time — before
the local stack or a test has set the functions' environment. Log lines carry the function name,
so one service name serves every function. Logs carry ids only, never personal data or content
references.
"""

from __future__ import annotations

from enum import StrEnum

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE_NAME = "hashmatch"

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace=SERVICE_NAME, service=SERVICE_NAME)


class MetricName(StrEnum):
    """The custom metrics the template's alarms and dashboard watch (namespace ``hashmatch``,
    dimension ``service``). tests/template checks that every alarm on a custom metric names one
    of these."""

    # The matching index could not be served (match_hashes failed closed; or build_index found
    # the snapshot corrupt and rebuilt it).
    INDEX_UNAVAILABLE = "IndexUnavailable"
    # build_index: how long the oldest change not yet in the snapshot has waited.
    INDEX_STALENESS_SECONDS = "IndexStalenessSeconds"
    # build_index: the age of the snapshot in service.
    INDEX_AGE_SECONDS = "IndexAgeSeconds"

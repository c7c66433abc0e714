"""The one place Logger, Tracer and Metrics are created.

Service name and metrics namespace are fixed here rather than read from the environment:
Powertools reads its environment when these objects are built, which is at import time — before
the local stack or a test has set the functions' environment. Log lines carry the function name,
so one service name serves every function. Logs carry ids only, never personal data or content
references.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer

from hashmatch.settings import MetricsSettings, load_settings

SERVICE_NAME = "hashmatch"

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace=SERVICE_NAME, service=SERVICE_NAME)

_Traced = TypeVar("_Traced", bound=Callable[..., Any])


# Traces keep timings and the path taken, never data: a response can hold a report's content
# reference, and an error's text (a validation error quotes its input) can too. Powertools would
# otherwise add both as subsegment metadata; the template also sets
# POWERTOOLS_TRACER_CAPTURE_RESPONSE/ERROR=false, but those are read when a decorator is applied,
# which locally (and in tests) is before the functions' environment exists.
def traced_handler(handler: _Traced) -> _Traced:
    """A Lambda handler's X-Ray subsegment, without its response or error as metadata."""
    return cast(
        _Traced,
        tracer.capture_lambda_handler(handler, capture_response=False, capture_error=False),
    )


def traced(method: _Traced) -> _Traced:
    """A function's X-Ray subsegment, without its return value or error as metadata."""
    return tracer.capture_method(capture_response=False, capture_error=False)(method)


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
    # authorize: a key refused with 401 (Lambda counts those as errors too; the authorizer's
    # errors alarm subtracts them).
    KEYS_REFUSED = "KeysRefused"
    # match_hashes: an indicator suspended because its matches flooded (indicators.quarantine).
    INDICATORS_QUARANTINED = "IndicatorsQuarantined"
    # match_hashes: a client throttled because its queries look like probing (hashmatch.probing).
    PROBING_DETECTED = "ProbingDetected"


# Metrics carry the stack's name as a dimension besides the service: stacks in one account and
# region (dev and prod) write the same namespace, and each stack's alarms must see only its own.
STACK_DIMENSION = "stack"


def measured_handler(handler: _Traced) -> _Traced:
    """A Lambda handler whose metrics are flushed when it returns or raises, per stack."""
    flushed = metrics.log_metrics(handler)

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        metrics.set_default_dimensions(
            **{STACK_DIMENSION: load_settings(MetricsSettings).stack_name}
        )
        return flushed(event, context)

    return cast(_Traced, run)

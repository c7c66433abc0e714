"""boto3 clients and resources, built lazily and cached (moto must be active before one exists).

Endpoint, region and credentials come from the standard AWS environment (AWS_ENDPOINT_URL points
them at the local stack's moto server).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hashmatch.errors import Conflict, DependencyUnavailable, HashmatchError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# Standard retry mode with a few attempts: throttling is retried by botocore before it reaches us.
_CONFIG = Config(
    retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=3, read_timeout=10
)

_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "SlowDown",  # S3
        "RequestThrottled",  # SQS
        "KmsThrottled",  # SQS, when the queue's key throttles
        "InternalServerError",
        "ServiceUnavailable",
        "KMSInternalException",
        "KMSInvalidStateException",
        "LimitExceededException",
    }
)


@cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def sqs_client() -> SQSClient:
    return boto3.client("sqs", config=_CONFIG)


@cache
def s3_client() -> S3Client:
    return boto3.client("s3", config=_CONFIG)


@cache
def kms_client() -> KMSClient:
    return boto3.client("kms", config=_CONFIG)


def apigateway_client() -> Any:
    return boto3.client("apigateway", config=_CONFIG)


@cache
def secretsmanager_client() -> Any:
    return boto3.client("secretsmanager", config=_CONFIG)


def clear_client_cache() -> None:
    """Forget cached clients (tests switch endpoints between sessions)."""
    for factory in (dynamodb_client, sqs_client, s3_client, kms_client, secretsmanager_client):
        factory.cache_clear()


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Turn AWS failures into domain errors: conflicts into Conflict, the rest into retryables.

    Anything unexpected becomes DependencyUnavailable, so the caller gets a 503 it may retry
    rather than a bare 500 — and the original error is chained for the logs.
    """
    try:
        yield
    except HashmatchError:
        raise
    except ClientError as error:
        code = error_code(error)
        if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            raise Conflict(f"{what}: condition failed") from error
        retry_after = 1 if code in _RETRYABLE_CODES else 2
        raise DependencyUnavailable(
            f"{what} failed ({code or 'error'})", retry_after_seconds=retry_after
        ) from error
    except BotoCoreError as error:
        raise DependencyUnavailable(f"{what} failed ({type(error).__name__})") from error

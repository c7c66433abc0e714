"""Echoes what the proxy event carried, so tests can look at it."""

import json
import os
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    payload = {
        "resource": event["resource"],
        "path": event["path"],
        "method": event["httpMethod"],
        "pathParameters": event["pathParameters"],
        "query": event["queryStringParameters"],
        "multiQuery": event["multiValueQueryStringParameters"],
        "body": event["body"],
        "isBase64Encoded": event["isBase64Encoded"],
        "stage": event["requestContext"]["stage"],
        "authorizer": event["requestContext"].get("authorizer"),
        "functionName": context.function_name,
        "remainingMs": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "serviceName": os.environ.get("POWERTOOLS_SERVICE_NAME"),
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Echo": "1"},
        "body": json.dumps(payload),
    }

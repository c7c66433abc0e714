"""SQS consumer: a record whose body starts with "bad" fails; the others are recorded."""

from typing import Any

processed: list[str] = []
attempts: list[str] = []


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event["Records"]:
        attempts.append(record["body"])
        if record["body"].startswith("bad"):
            failures.append({"itemIdentifier": record["messageId"]})
        else:
            processed.append(record["body"])
    return {"batchItemFailures": failures}

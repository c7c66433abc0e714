"""A scheduled function: reports what it was given."""

import os
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "detailType": event["detail-type"],
        "source": event["source"],
        "stage": os.environ["FIXTURE_STAGE"],
    }

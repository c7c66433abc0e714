"""Helpers of the indicator integration tests: curator requests to the handler in-process."""

from __future__ import annotations

import json
from typing import Any

from functions.curate_indicators import app as curate
from tests.integration.conftest import api_event

CURATOR = {
    "client_id": "cl_" + "c" * 24,
    "role": "curator",
    "organisation_id": "org_" + "c" * 24,
    "owner": "EU Centre curation",
    "databases": "known,new,solicitation",
    "hash_types": "pdq,phash,dhash,md5,sha1,sha256",
}
PROVIDER = {**CURATOR, "client_id": "cl_" + "p" * 24, "role": "provider"}


def call(
    context: Any,
    method: str,
    resource: str,
    *,
    body: Any = None,
    indicator: str | None = None,
    principal: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    """Invoke curate_indicators as API Gateway would; returns (status, decoded JSON body)."""
    path = resource.replace("{id}", indicator) if indicator else resource
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    event = api_event(
        method,
        resource,
        path=path,
        principal=principal or CURATOR,
        body=text,
        path_parameters={"id": indicator} if indicator else None,
        headers={"Content-Type": content_type},
    )
    response = curate.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None

"""HTTPS adapter of the Recipients port: Europol and each Member State's authority.

Each recipient has its endpoint (template Parameter RecipientEndpoints) and a bearer token in
the Secrets Manager secret RecipientCredentialsSecret (``{"europol": {"token": "..."}, "DE":
{"token": "..."}}``, set by operators after deploying; docs/review.md). A message is POSTed
as JSON with ``Idempotency-Key: <report id>``: 2xx is taken, 409 means the recipient has it
already (also taken), anything else is a failed attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import urllib3

from hashmatch.adapters.https_post import post
from hashmatch.errors import DependencyUnavailable
from hashmatch.reports.outbound import DeliveryFailed, DeliveryReceipt, ForwardedReportMessage
from hashmatch.reports.review_records import is_recipient

FORMAT_HEADER = "X-Hashmatch-Format"
_MAX_REFERENCE_LENGTH = 200


class RecipientCredentials(Protocol):
    def token_of(self, recipient: str) -> str | None: ...


class HttpsRecipients:
    def __init__(
        self,
        endpoints: Mapping[str, str],
        credentials: RecipientCredentials,
        http: urllib3.PoolManager,
    ) -> None:
        unknown = sorted(name for name in endpoints if not is_recipient(name))
        if unknown:
            raise ValueError(f"RecipientEndpoints names no recipient: {unknown}")
        self._endpoints = dict(endpoints)
        self._credentials = credentials
        self._http = http

    def deliver(self, message: ForwardedReportMessage) -> DeliveryReceipt:
        recipient = message.recipient
        endpoint = self._endpoints.get(recipient)
        if endpoint is None:
            raise DeliveryFailed(f"no endpoint configured for {recipient}")
        try:
            token = self._credentials.token_of(recipient)
        except DependencyUnavailable as error:
            raise DeliveryFailed("credentials unavailable") from error
        if token is None:
            raise DeliveryFailed(f"no credentials configured for {recipient}")
        answer = post(
            self._http,
            endpoint,
            message.model_dump_json().encode(),
            {
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": message.report.report_id,
                FORMAT_HEADER: f"{message.format}; version={message.version}",
            },
        )
        if 200 <= answer.status < 300 or answer.status == 409:
            return DeliveryReceipt(reference=_reference(answer.body))
        raise DeliveryFailed(f"HTTP {answer.status}")


def _reference(body: object) -> str | None:
    """The recipient's own reference for the message, if it sent a short printable one."""
    value = body.get("reference") if isinstance(body, dict) else None
    if isinstance(value, str) and 0 < len(value) <= _MAX_REFERENCE_LENGTH and value.isprintable():
        return value
    return None

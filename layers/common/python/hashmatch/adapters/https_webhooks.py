"""HTTPS adapter of the Webhooks port: a provider's webhook, the body signed with its secret."""

from __future__ import annotations

import time

import urllib3

from hashmatch.adapters.https_post import post
from hashmatch.reports.notifications import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from hashmatch.reports.outbound import DeliveryFailed


class HttpsWebhooks:
    def __init__(self, http: urllib3.PoolManager) -> None:
        self._http = http

    def post(self, url: str, secret: str, body: bytes) -> None:
        timestamp = str(int(time.time()))
        answer = post(
            self._http,
            url,
            body,
            {SIGNATURE_HEADER: signature(secret, timestamp, body), TIMESTAMP_HEADER: timestamp},
        )
        if not 200 <= answer.status < 300:
            raise DeliveryFailed(f"HTTP {answer.status}")

"""HTTPS endpoints the service calls out to: law-enforcement recipients, providers' webhooks.

Only https URLs, with one exception for development: plain http to this machine's loopback
address (the local stack's fake recipients and webhooks). In Lambda nothing listens there.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, StringConstraints

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if not parts.hostname:
        raise ValueError("must be an absolute URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials")
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return value
    raise ValueError("must be an https URL")


HttpsUrl = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_https_url)]

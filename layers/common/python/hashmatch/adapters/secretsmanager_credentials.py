"""Recipients' credentials from one Secrets Manager secret, read when first needed and again
after a few minutes (so a rotated token is picked up without a deployment)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from hashmatch.adapters.aws import translated_errors
from hashmatch.observability import logger

REFRESH_SECONDS = 300.0


class SecretsManagerCredentials:
    def __init__(self, secrets: Any, secret_id: str) -> None:
        self._secrets = secrets
        self._secret_id = secret_id
        self._tokens: dict[str, str] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def token_of(self, recipient: str) -> str | None:
        with self._lock:
            if self._read_at is None or time.monotonic() - self._read_at > REFRESH_SECONDS:
                self._tokens = self._read()
                self._read_at = time.monotonic()
            return self._tokens.get(recipient)

    def _read(self) -> dict[str, str]:
        with translated_errors("reading the recipients' credentials"):
            answer = self._secrets.get_secret_value(SecretId=self._secret_id)
        try:
            entries = json.loads(answer.get("SecretString") or "{}")
        except ValueError:
            logger.error("the recipients' credentials secret is not JSON")
            return {}
        if not isinstance(entries, dict):
            return {}
        return {
            name: entry["token"]
            for name, entry in entries.items()
            if isinstance(entry, dict) and isinstance(entry.get("token"), str) and entry["token"]
        }

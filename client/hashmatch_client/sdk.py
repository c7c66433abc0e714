"""A small Python SDK for the hashmatch API: one session, bearer key, retries with backoff.

Retries: 429 and 500/502/503/504 (and connection failures) are retried with exponential backoff
and full jitter, waiting at least what a ``Retry-After`` header asks. The API's writes are
idempotent (indicator ids derive from the hash; reports carry idempotency keys), so retrying a
POST after a lost answer changes nothing twice. Other 4xx answers raise :class:`ApiError` at
once, carrying the RFC 9457 problem the API returned.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import requests

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_ATTEMPTS = 5
_BASE_DELAY_SECONDS = 0.5
_MAX_DELAY_SECONDS = 30.0


class ApiError(Exception):
    """The API refused the request. ``problem`` is its problem+json body (or a stand-in)."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        detail = self.problem.get("detail") or self.problem.get("message") or "request failed"
        super().__init__(f"HTTP {status}: {detail}")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.problem.get("errors") or [])

    @property
    def problem_type(self) -> str | None:
        """The problem's ``type`` (``urn:hashmatch:problem:<code>``), if it has one."""
        kind = self.problem.get("type")
        return kind if isinstance(kind, str) else None

    @property
    def report_id(self) -> str | None:
        """The report an Idempotency-Key filed (``idempotency-key-reused``)."""
        report_id = self.problem.get("report_id")
        return report_id if isinstance(report_id, str) else None


class HashmatchClient:
    def __init__(
        self,
        endpoint: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.endpoint = endpoint.rstrip("/")
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._session = session or requests.Session()
        self._session.headers["Authorization"] = f"Bearer {api_key}"
        self._session.headers.setdefault("User-Agent", "hashmatch-sdk")
        self._sleep = sleep
        self._jitter = jitter

    # -- generic -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send with retries; the decoded JSON body of a 2xx answer, else ApiError."""
        url = self.endpoint + path
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = self._session.request(
                    method, url, json=json, data=data, headers=headers, timeout=self._timeout
                )
            except (requests.ConnectionError, requests.Timeout):
                if attempt == self._max_attempts:
                    raise
                self._sleep(self._backoff(attempt, None))
                continue
            if response.status_code in RETRYABLE_STATUSES and attempt < self._max_attempts:
                self._sleep(self._backoff(attempt, response.headers.get("Retry-After")))
                continue
            return _decoded(response)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        ceiling = min(_MAX_DELAY_SECONDS, _BASE_DELAY_SECONDS * 2 ** (attempt - 1))
        delay = self._jitter(0.0, ceiling)  # "full jitter": spreads retrying clients apart
        asked = _retry_after_seconds(retry_after)
        return max(delay, asked) if asked is not None else delay

    # -- indicators (curator) ------------------------------------------------------------------

    def add_indicators(self, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """POST /v1/indicators: per-item results (a 207 answer is returned, not raised)."""
        return dict(self.request("POST", "/v1/indicators", json={"items": list(items)}))

    def import_indicators(self, body: str, content_type: str) -> dict[str, Any]:
        """POST /v1/indicators/import with a CSV or JSON lines body (at most 1,000 rows)."""
        return dict(
            self.request(
                "POST",
                "/v1/indicators/import",
                data=body.encode("utf-8"),
                headers={"Content-Type": content_type},
            )
        )

    def get_indicator(self, indicator_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/v1/indicators/{indicator_id}"))

    def revoke_indicator(self, indicator_id: str, reason: str) -> dict[str, Any]:
        path = f"/v1/indicators/{indicator_id}"
        return dict(self.request("DELETE", path, json={"reason": reason}))

    def suspend_indicator(self, indicator_id: str, reason: str) -> dict[str, Any]:
        path = f"/v1/indicators/{indicator_id}/suspend"
        return dict(self.request("POST", path, json={"reason": reason}))

    def reinstate_indicator(self, indicator_id: str, reason: str | None = None) -> dict[str, Any]:
        path = f"/v1/indicators/{indicator_id}/reinstate"
        return dict(self.request("POST", path, json={"reason": reason} if reason else {}))

    # -- service ---------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return dict(self.request("GET", "/v1/health"))

    def whoami(self) -> dict[str, Any]:
        return dict(self.request("GET", "/v1/whoami"))

    # -- matching and reports (provider) ----------------------------------------------------

    def match(
        self, items: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/match with up to 1,000 items {type, value, ref?, quality?}.

        The batch carries an Idempotency-Key (a new one unless given), sent again with every
        retry, so the service's statistics count the batch once however often it is retried.
        """
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        return dict(self.request("POST", "/v1/match", json={"items": list(items)}, headers=headers))

    def file_report(
        self, report: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/reports; with an idempotency key every retry yields the same report id."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return dict(self.request("POST", "/v1/reports", json=dict(report), headers=headers))

    def get_report(self, report_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/v1/reports/{report_id}"))

    def list_reports(
        self, *, status: str | None = None, limit: int | None = None, next: str | None = None
    ) -> dict[str, Any]:
        path = _with_query("/v1/reports", status=status, limit=limit, next=next)
        return dict(self.request("GET", path))

    def answer_information_request(
        self, report_id: str, request_id: str, answer: str
    ) -> dict[str, Any]:
        """POST /v1/reports/{id}/information: answer the Centre's open question."""
        body = {"request_id": request_id, "answer": answer}
        return dict(self.request("POST", f"/v1/reports/{report_id}/information", json=body))

    # -- review (reviewer) ---------------------------------------------------------------------

    def review_queue(
        self,
        *,
        status: str | None = None,
        database: str | None = None,
        media_type: str | None = None,
        member_state: str | None = None,
        limit: int | None = None,
        next: str | None = None,
    ) -> dict[str, Any]:
        """GET /v1/review/queue: urgent first, then oldest; ``next`` pages on."""
        path = _with_query(
            "/v1/review/queue",
            status=status,
            database=database,
            media_type=media_type,
            member_state=member_state,
            limit=limit,
            next=next,
        )
        return dict(self.request("GET", path))

    def review_report(self, report_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/v1/review/reports/{report_id}"))

    def claim(self, report_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/v1/review/reports/{report_id}/claim"))

    def release_claim(self, report_id: str) -> dict[str, Any]:
        return dict(self.request("DELETE", f"/v1/review/reports/{report_id}/claim"))

    def decide(self, report_id: str, decision: Mapping[str, Any]) -> dict[str, Any]:
        """POST /v1/reports/{id}/decision with ``{"outcome": "manifestly_unfounded", ...}`` or
        ``{"outcome": "forward", ...}`` (docs/review.md)."""
        path = f"/v1/reports/{report_id}/decision"
        return dict(self.request("POST", path, json=dict(decision)))

    def confirm(self, report_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/v1/reports/{report_id}/decision/confirm"))

    def request_information(self, report_id: str, question: str) -> dict[str, Any]:
        path = f"/v1/review/reports/{report_id}/information-request"
        return dict(self.request("POST", path, json={"question": question}))

    # -- indicators to re-verify (curator) -----------------------------------------------------

    def indicators_to_review(
        self, *, limit: int | None = None, next: str | None = None
    ) -> dict[str, Any]:
        path = _with_query("/v1/indicators", needs_review="true", limit=limit, next=next)
        return dict(self.request("GET", path))


def _with_query(path: str, **params: object) -> str:
    given = {key: str(value) for key, value in params.items() if value is not None}
    return path + ("?" + urlencode(given) if given else "")


def _decoded(response: requests.Response) -> Any:
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    if 200 <= response.status_code < 300:
        return body
    problem = body if isinstance(body, dict) else {"detail": response.text[:500]}
    raise ApiError(response.status_code, problem)


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())

"""Fake law-enforcement recipients and provider webhooks for the local stack (`make run`, tests).

One small HTTP server on 127.0.0.1 stands in for Europol, every Member State's authority and
any provider's webhook. It records what it was sent and can be told to fail, so that
forwarding's retries, idempotency and dead letters can be watched:

```
POST /recipients/<recipient>          a forwarded report (Idempotency-Key: its report id)
POST /webhooks/<name>                 a provider's status notification
GET  /_local/recipients               what each recipient took (one entry per report) and tries
GET  /_local/webhooks                 what each webhook received
POST /_local/recipients/<id>/faults   {"fail_next": 2} or {"always": true} or {} (heal)
POST /_local/reset                    forget everything
```

A recipient checks the bearer token the stack's RecipientCredentialsSecret gives it
(:func:`local_credentials`), answers 202 with a reference, and answers a report it already took
with 200 and the same reference (idempotent by report id).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hashmatch.countries import EU_MEMBER_STATES
from hashmatch.reports.review_records import EUROPOL

RECIPIENTS = (EUROPOL, *sorted(EU_MEMBER_STATES))
_MAX_BODY = 1024 * 1024


def local_token(recipient: str) -> str:
    return f"local-{recipient}-token"


def local_credentials(recipients: Iterable[str] = RECIPIENTS) -> dict[str, dict[str, str]]:
    """The RecipientCredentialsSecret value that the fake recipients accept."""
    return {recipient: {"token": local_token(recipient)} for recipient in recipients}


@dataclass
class _Recipient:
    taken: dict[str, dict[str, Any]] = field(default_factory=dict)  # report id -> message
    tries: int = 0
    fail_next: int = 0
    always_fail: bool = False
    # Per report (the Idempotency-Key): tries, and failures to inject for that report alone,
    # so a test's faults and counts are its own whatever else is being delivered meanwhile.
    tries_of: dict[str, int] = field(default_factory=dict)
    fail_next_of: dict[str, int] = field(default_factory=dict)


class FakeRecipients:
    """Start with :meth:`start`; ``base_url`` and :meth:`endpoints` say where to send."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._recipients: dict[str, _Recipient] = {}
        self._webhooks: dict[str, list[dict[str, Any]]] = {}
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="fake-recipients",
            daemon=True,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeRecipients:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://{name}:{port}"

    def endpoints(self, recipients: Iterable[str] = RECIPIENTS) -> dict[str, str]:
        """The RecipientEndpoints parameter pointing every recipient here."""
        return {recipient: f"{self.base_url}/recipients/{recipient}" for recipient in recipients}

    def webhook_url(self, name: str) -> str:
        return f"{self.base_url}/webhooks/{name}"

    # -- what they received, and faults --------------------------------------------------------

    def received(self, recipient: str) -> list[dict[str, Any]]:
        """The messages the recipient took, one per report."""
        with self._lock:
            return list(self._recipient(recipient).taken.values())

    def tries(self, recipient: str, report_id: str | None = None) -> int:
        """Every try the recipient saw, or those for one report."""
        with self._lock:
            entry = self._recipient(recipient)
            return entry.tries if report_id is None else entry.tries_of.get(report_id, 0)

    def webhook_calls(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._webhooks.get(name, []))

    def fail(
        self,
        recipient: str,
        *,
        next_tries: int = 0,
        always: bool = False,
        report_id: str | None = None,
    ) -> None:
        """Fail the next tries (of one report's deliveries only, if ``report_id``), or all."""
        with self._lock:
            entry = self._recipient(recipient)
            if report_id is not None:
                entry.fail_next_of[report_id] = next_tries
                return
            entry.fail_next, entry.always_fail = next_tries, always

    def reset(self) -> None:
        with self._lock:
            self._recipients.clear()
            self._webhooks.clear()

    def overview(self) -> dict[str, Any]:
        with self._lock:
            return {
                name: {
                    "tries": entry.tries,
                    "received": list(entry.taken.values()),
                    "failing": entry.always_fail or entry.fail_next > 0,
                }
                for name, entry in sorted(self._recipients.items())
            }

    # -- serving -------------------------------------------------------------------------------

    def _recipient(self, name: str) -> _Recipient:
        return self._recipients.setdefault(name, _Recipient())

    def take(self, recipient: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if recipient not in RECIPIENTS:
            return 404, {"message": "no such recipient"}
        with self._lock:
            entry = self._recipient(recipient)
            key = headers.get("idempotency-key") or ""
            entry.tries += 1
            entry.tries_of[key] = entry.tries_of.get(key, 0) + 1
            if entry.fail_next_of.get(key, 0) > 0:
                entry.fail_next_of[key] -= 1
                return 503, {"message": "unavailable (fault injected for this report)"}
            if entry.always_fail or entry.fail_next > 0:
                entry.fail_next = max(0, entry.fail_next - 1)
                return 503, {"message": "unavailable (fault injected)"}
            if headers.get("authorization") != f"Bearer {local_token(recipient)}":
                return 401, {"message": "bad credentials"}
            try:
                message = json.loads(body)
            except ValueError:
                return 400, {"message": "not JSON"}
            report_id = headers.get("idempotency-key") or ""
            reference = f"{recipient}-{report_id}"
            if report_id in entry.taken:
                return 200, {"reference": reference}
            entry.taken[report_id] = message
            return 202, {"reference": reference}

    def hook(self, name: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        with self._lock:
            self._webhooks.setdefault(name, []).append(
                {
                    "body": body.decode("utf-8", "replace"),
                    "signature": headers.get("x-hashmatch-signature"),
                    "timestamp": headers.get("x-hashmatch-timestamp"),
                }
            )
        return 204, None

    def control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        parts = [part for part in path.split("/") if part]
        if method == "GET" and parts == ["_local", "recipients"]:
            return 200, self.overview()
        if method == "GET" and parts == ["_local", "webhooks"]:
            with self._lock:
                return 200, dict(self._webhooks)
        if method == "POST" and parts == ["_local", "reset"]:
            self.reset()
            return 200, {}
        if method == "POST" and len(parts) == 4 and parts[:2] == ["_local", "recipients"]:
            if parts[3] != "faults" or parts[2] not in RECIPIENTS:
                return 404, {"message": "no such control"}
            try:
                asked = json.loads(body or b"{}")
                self.fail(
                    parts[2],
                    next_tries=int(asked.get("fail_next", 0)),
                    always=bool(asked.get("always", False)),
                )
            except (ValueError, TypeError, AttributeError) as error:
                return 400, {"message": str(error)}
            return 200, self.overview().get(parts[2], {})
        return 404, {"message": "no such control"}


def _handler_for(fake: FakeRecipients) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, payload: Any) -> None:
            body = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _dispatch(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            parts = [part for part in self.path.split("?")[0].split("/") if part]
            if self.command == "POST" and len(parts) == 2 and parts[0] == "recipients":
                self._answer(*fake.take(parts[1], headers, body))
            elif self.command == "POST" and len(parts) == 2 and parts[0] == "webhooks":
                self._answer(*fake.hook(parts[1], headers, body))
            else:
                self._answer(*fake.control(self.command, self.path.split("?")[0], body))

        do_GET = do_POST = _dispatch  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Silenced: the local stack logs its own requests."""

    return Handler


def install(stack: Any, fake: FakeRecipients) -> None:
    """Give a started local stack's recipients their credentials (the secret's value).

    moto's CloudFormation cannot create Secrets Manager secrets, so the local stack strips the
    template's RecipientCredentialsSecret: this creates it under the name the functions were
    given, with the tokens the fake recipients accept.
    """
    import boto3

    function = stack.functions.get("ForwardReportsFunction")
    if function is None:
        return
    name = function.environment["RECIPIENT_CREDENTIALS_SECRET"]
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=stack.aws_endpoint,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
    )
    value = json.dumps(local_credentials())
    try:
        secrets.create_secret(Name=name, SecretString=value)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=name, SecretString=value)


def parameter_overrides(fake: FakeRecipients) -> dict[str, str]:
    """Template Parameters that send forwarded reports to the fakes, retrying quickly."""
    return {"RecipientEndpoints": json.dumps(fake.endpoints()), "DeliveryRetryBaseSeconds": "1"}

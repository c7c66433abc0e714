"""Telling a provider that one of its reports changed status: an optional webhook per client.

A review step that changes what the provider sees queues a :class:`StatusNotification`;
notify_providers POSTs the :class:`WebhookBody` to the filing client's webhook URL, signed
with the client's webhook secret (HMAC-SHA256, :func:`signature`). The body names the report,
its new status and when: never the internal note, reasons or questions (the provider reads
those with GET /v1/reports/{id}).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hashmatch.reports.model import Report, ReportId, ReportStatus, provider_status

SIGNATURE_HEADER = "X-Hashmatch-Signature"
TIMESTAMP_HEADER = "X-Hashmatch-Timestamp"
NOTIFICATION_ID_PATTERN = r"^nt_[0-9a-f]{24}$"


class StatusNotification(BaseModel):
    """The notifications queue's message (version 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    notification_id: str = Field(pattern=NOTIFICATION_ID_PATTERN)
    report_id: ReportId
    client_id: str = Field(description="The client that filed the report")
    status: ReportStatus = Field(description="The status the provider now sees")
    at: AwareDatetime


class WebhookBody(BaseModel):
    """What a provider's webhook receives."""

    model_config = ConfigDict(frozen=True)

    event: Literal["report.status_changed"] = "report.status_changed"
    notification_id: str
    report_id: str
    status: ReportStatus
    at: AwareDatetime

    @classmethod
    def of(cls, notification: StatusNotification) -> WebhookBody:
        return cls(
            notification_id=notification.notification_id,
            report_id=notification.report_id,
            status=notification.status,
            at=notification.at,
        )


def notification_of(report: Report) -> StatusNotification:
    """The notification of the report's latest step, as the provider sees its status."""
    last = report.history[-1]
    return StatusNotification(
        notification_id="nt_" + secrets.token_hex(12),
        report_id=report.report_id,
        client_id=report.filing.client_id,
        status=provider_status(last.status),
        at=last.at,
    )


def is_recorded(report: Report, notification: StatusNotification) -> bool:
    """Whether the step the notification announces is in the report's history (it is queued
    before the step is written: a notification of a step that was never written is dropped)."""
    return any(
        step.at == notification.at and provider_status(step.status) is notification.status
        for step in report.history
    )


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under the webhook secret>``.

    The receiver recomputes it with its secret and compares in constant time; the timestamp
    (seconds since the epoch, also sent as X-Hashmatch-Timestamp) lets it refuse replays.
    """
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()

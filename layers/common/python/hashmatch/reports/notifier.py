"""notify_providers' work: POST each status notification to the filing client's webhook.

A client without a webhook gets nothing (it reads GET /v1/reports/{id} when it likes), nor does
a revoked or expired one. Every
try is signed afresh (the signature covers a timestamp); failures are retried with backoff and
on the queue, and after the last receive the notification is dead-lettered (alarmed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from hashmatch.access.ports import ClientStore
from hashmatch.clock import Clock
from hashmatch.observability import logger
from hashmatch.reports.delivering import RetryPolicy, attempt, await_step, retry_later
from hashmatch.reports.notifications import StatusNotification, WebhookBody, is_recorded
from hashmatch.reports.outbound import DeliveryFailed
from hashmatch.reports.ports import Redelivery, ReportStore, Webhooks


class Notified(StrEnum):
    SENT = "sent"
    NO_WEBHOOK = "no_webhook"
    DROPPED = "dropped"  # its step was never recorded


class ProviderNotifier:
    def __init__(
        self,
        *,
        reports: ReportStore,
        clients: ClientStore,
        webhooks: Webhooks,
        redelivery: Redelivery,
        clock: Clock,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._reports = reports
        self._clients = clients
        self._webhooks = webhooks
        self._redelivery = redelivery
        self._clock = clock
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    def notify(
        self, notification: StatusNotification, *, receive_count: int, receipt_handle: str
    ) -> Notified:
        ids = {"report_id": notification.report_id, "notification_id": notification.notification_id}
        report = self._reports.get(notification.report_id)
        if report is None or not is_recorded(report, notification):
            await_step(
                self._redelivery,
                receipt_handle,
                self.policy,
                queued_at=notification.at,
                now=self._clock.now(),
                what=ids,
            )
            return Notified.DROPPED
        client = self._clients.get(notification.client_id)
        if (
            client is None
            or not client.is_usable_at(self._clock.now())  # revoked or expired: told nothing
            or client.webhook_url is None
            or client.webhook_secret is None
        ):
            return Notified.NO_WEBHOOK
        url, secret = client.webhook_url, client.webhook_secret
        body = WebhookBody.of(notification).model_dump_json().encode()

        def failed(number: int, failure: DeliveryFailed, last_try: bool) -> None:
            logger.info(
                "webhook attempt failed",
                extra={**ids, "attempt": number, "failure": failure.detail},
            )

        def send() -> bool:
            self._webhooks.post(url, secret, body)
            return True

        sent = attempt(
            send,
            policy=self.policy,
            sleep=self._sleep,
            on_failure=failed,
        )
        if sent:
            return Notified.SENT
        if self.policy.is_last_receive(receive_count):
            logger.warning("webhook failed on every retry: dead-lettered", extra=ids)
        raise retry_later(self._redelivery, receipt_handle, self.policy, receive_count)

"""Delivering forwarded reports to Europol and the Member States, and notifying providers:
retries with backoff, the attempts in the report's history, exactly one delivery, dead letters."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest

from hashmatch.access.model import ApiClient, ClientStatus, Role
from hashmatch.reports.delivering import GaveUp, NotDoneYet, RetryPolicy
from hashmatch.reports.forwarding import Forwarding
from hashmatch.reports.model import Step
from hashmatch.reports.notifications import notification_of, signature
from hashmatch.reports.notifier import Notified, ProviderNotifier
from hashmatch.reports.outbound import ForwardedReportMessage
from hashmatch.reports.review_records import EUROPOL, Delivery, DeliveryState
from tests.fakes import (
    InMemoryClientStore,
    InMemoryRedelivery,
    InMemoryWebhooks,
    ScriptedRecipients,
)
from tests.unit.review_world import ALICE, PROVIDER, START, ReviewWorld, forward, unfounded

POLICY = RetryPolicy(attempt_backoff=timedelta(0))
HANDLE = "receipt-1"


class Delivering:
    def __init__(self, failures: dict[str, int] | None = None) -> None:
        self.world = ReviewWorld()
        self.recipients = ScriptedRecipients(failures)
        self.redelivery = InMemoryRedelivery()
        self.forwarding = Forwarding(
            reports=self.world.reports,
            recipients=self.recipients,
            redelivery=self.redelivery,
            events=self.world.review_events,
            clock=self.world.clock,
            audit=self.world.audit,
            policy=POLICY,
            sleep=lambda seconds: None,
        )

    def forwarded(self, *, europol_only: bool = True) -> tuple[str, ForwardedReportMessage]:
        report_id = self.world.stored_report()
        decision = forward(None, europol_only=True) if europol_only else forward("DE")
        self.world.review.decide(ALICE, report_id, decision)
        return report_id, self.world.outbound.sent[-1]

    def deliver(self, message: ForwardedReportMessage, receive: int = 1) -> DeliveryState | None:
        return self.forwarding.deliver(message, receive_count=receive, receipt_handle=HANDLE)

    def delivery(self, report_id: str, recipient: str = EUROPOL) -> Delivery:
        outbound = self.world.report(report_id).outbound
        assert outbound is not None
        return outbound.deliveries[recipient]

    def delivery_steps(self, report_id: str) -> list[tuple[Step, int | None]]:
        history = self.world.report(report_id).history
        return [(s.what, s.attempt) for s in history if s.recipient is not None]


def test_a_forwarded_report_is_delivered_and_the_delivery_is_in_its_history():
    delivering = Delivering()
    report_id, message = delivering.forwarded()

    assert delivering.deliver(message) is DeliveryState.DELIVERED

    assert list(delivering.recipients.received[EUROPOL]) == [report_id]
    assert delivering.delivery_steps(report_id) == [(Step.DELIVERED, 1)]
    assert delivering.delivery(report_id).receipt == f"europol-{report_id}"
    assert delivering.world.actions()[-1] == "report.delivered"


def test_a_recipient_failing_twice_then_taking_it_receives_it_once_and_the_attempts_show():
    delivering = Delivering({EUROPOL: 2})
    report_id, message = delivering.forwarded()

    delivering.deliver(message)

    assert len(delivering.recipients.received[EUROPOL]) == 1
    assert delivering.recipients.attempts[EUROPOL] == 3
    assert delivering.delivery_steps(report_id) == [
        (Step.DELIVERY_FAILED, 1),
        (Step.DELIVERY_FAILED, 2),
        (Step.DELIVERED, 3),
    ]
    failed = [s for s in delivering.world.report(report_id).history if s.detail]
    assert {s.detail for s in failed} == {"HTTP 503"}


def test_a_second_copy_of_a_delivered_message_is_not_delivered_again():
    delivering = Delivering()
    _, message = delivering.forwarded()
    delivering.deliver(message)

    assert delivering.deliver(message) is DeliveryState.DELIVERED

    assert delivering.recipients.attempts[EUROPOL] == 1


def test_each_recipient_is_delivered_on_its_own():
    delivering = Delivering({"DE": ScriptedRecipients.ALWAYS})
    report_id, _ = delivering.forwarded(europol_only=False)
    by_recipient = {m.recipient: m for m in delivering.world.outbound.sent}

    delivering.deliver(by_recipient[EUROPOL])
    with pytest.raises(NotDoneYet):
        delivering.deliver(by_recipient["DE"])

    assert delivering.delivery(report_id).state is DeliveryState.DELIVERED
    assert delivering.delivery(report_id, "DE").state is DeliveryState.PENDING


def test_a_failing_recipient_is_retried_later_from_the_queue_with_backoff():
    delivering = Delivering({EUROPOL: ScriptedRecipients.ALWAYS})
    report_id, message = delivering.forwarded()

    with pytest.raises(NotDoneYet):
        delivering.deliver(message, receive=2)

    assert delivering.redelivery.delays == [(HANDLE, timedelta(seconds=120))]
    assert delivering.delivery_steps(report_id) == [
        (Step.DELIVERY_FAILED, 1),
        (Step.DELIVERY_FAILED, 2),
        (Step.DELIVERY_FAILED, 3),
    ]


def test_queue_retries_wait_twice_as_long_each_time_up_to_15_minutes():
    delays = [POLICY.redelivery_delay(n).total_seconds() for n in range(1, 7)]

    assert delays == [60, 120, 240, 480, 900, 900]


def test_a_recipient_that_always_fails_is_given_up_on_the_last_receive():
    delivering = Delivering({EUROPOL: ScriptedRecipients.ALWAYS})
    report_id, message = delivering.forwarded()

    with pytest.raises(GaveUp):
        delivering.deliver(message, receive=POLICY.max_receives)

    assert delivering.delivery(report_id).state is DeliveryState.ABANDONED
    assert delivering.delivery_steps(report_id)[-1] == (Step.DELIVERY_ABANDONED, 3)
    # Handed back at once: the queue's next receive dead-letters it (no visibility wait).
    assert delivering.redelivery.delays == [(HANDLE, timedelta(0))]
    assert delivering.world.actions()[-1] == "report.delivery_abandoned"


def test_a_message_whose_forwarding_is_not_recorded_yet_is_looked_at_again_soon():
    delivering = Delivering()
    _, message = delivering.forwarded()
    unrecorded = message.model_copy(update={"delivery_id": "dl_" + "9" * 24})

    with pytest.raises(NotDoneYet):
        delivering.deliver(unrecorded)

    assert delivering.redelivery.delays == [(HANDLE, POLICY.commit_poll)]
    assert delivering.recipients.attempts == {}


def test_a_message_whose_forwarding_was_never_recorded_is_dropped_undelivered():
    delivering = Delivering()
    _, message = delivering.forwarded()
    lost_race = message.model_copy(update={"delivery_id": "dl_" + "9" * 24})
    delivering.world.later(POLICY.commit_wait)

    assert delivering.deliver(lost_race) is None

    assert delivering.recipients.attempts == {}


# -- provider notifications --------------------------------------------------------------------


class Notifying:
    def __init__(self, *, webhook: bool, failures: int = 0) -> None:
        self.world = ReviewWorld()
        self.clients = InMemoryClientStore()
        self.clients.put_new(
            ApiClient(
                client_id=PROVIDER.client_id,
                key_digest="d" * 64,
                role=Role.PROVIDER,
                organisation_id=PROVIDER.organisation_id,
                owner=PROVIDER.owner,
                purpose="scanning uploads",
                legal_basis="Regulation (EU) 2021/1232",
                created_at=START,
                expires_at=START + timedelta(days=30),
                webhook_url="https://hooks.example-hosting.eu/hashmatch" if webhook else None,
                webhook_secret="whsec_test" if webhook else None,
            )
        )
        self.webhooks = InMemoryWebhooks(failures)
        self.redelivery = InMemoryRedelivery()
        self.notifier = ProviderNotifier(
            reports=self.world.reports,
            clients=self.clients,
            webhooks=self.webhooks,
            redelivery=self.redelivery,
            clock=self.world.clock,
            policy=POLICY,
            sleep=lambda seconds: None,
        )

    def decided(self) -> str:
        report_id = self.world.stored_report()
        decision = unfounded("outside_scope", internal_note="do not tell them this")
        self.world.review.decide(ALICE, report_id, decision)
        return report_id


def test_a_status_change_is_posted_to_the_providers_webhook_signed_and_without_the_note():
    notifying = Notifying(webhook=True)
    report_id = notifying.decided()
    (notification,) = notifying.world.notifications.sent

    result = notifying.notifier.notify(notification, receive_count=1, receipt_handle=HANDLE)

    assert result is Notified.SENT
    ((url, _, body),) = notifying.webhooks.posted
    assert url == "https://hooks.example-hosting.eu/hashmatch"
    assert json.loads(body) == {
        "event": "report.status_changed",
        "notification_id": notification.notification_id,
        "report_id": report_id,
        "status": "unfounded",
        "at": START.isoformat().replace("+00:00", "Z"),
    }
    assert b"do not tell" not in body


def test_the_signature_is_the_documented_hmac_of_timestamp_and_body():
    body = b'{"event": "report.status_changed"}'

    signed = signature("whsec_test", "1700000000", body)

    mac = hmac.new(b"whsec_test", b"1700000000." + body, hashlib.sha256)
    assert signed == "sha256=" + mac.hexdigest()


def test_a_provider_without_a_webhook_is_not_notified():
    notifying = Notifying(webhook=False)
    notifying.decided()
    (notification,) = notifying.world.notifications.sent

    result = notifying.notifier.notify(notification, receive_count=1, receipt_handle=HANDLE)

    assert result is Notified.NO_WEBHOOK


def test_a_revoked_provider_client_is_not_notified():
    notifying = Notifying(webhook=True)
    notifying.decided()
    (notification,) = notifying.world.notifications.sent
    client = notifying.clients.get(PROVIDER.client_id)
    assert client is not None
    notifying.clients.replace(client.model_copy(update={"status": ClientStatus.REVOKED}))

    result = notifying.notifier.notify(notification, receive_count=1, receipt_handle=HANDLE)

    assert result is Notified.NO_WEBHOOK
    assert notifying.webhooks.posted == []


def test_a_failing_webhook_is_retried_from_the_queue_and_dead_lettered_at_the_end():
    notifying = Notifying(webhook=True, failures=100)
    notifying.decided()
    (notification,) = notifying.world.notifications.sent

    with pytest.raises(NotDoneYet):
        notifying.notifier.notify(notification, receive_count=1, receipt_handle=HANDLE)
    with pytest.raises(GaveUp):
        notifying.notifier.notify(notification, receive_count=5, receipt_handle=HANDLE)

    assert notifying.redelivery.delays == [(HANDLE, timedelta(seconds=60)), (HANDLE, timedelta(0))]


def test_a_notification_of_a_step_that_was_never_recorded_is_dropped():
    notifying = Notifying(webhook=True)
    report_id = notifying.world.stored_report()
    phantom = notification_of(notifying.world.report(report_id)).model_copy(
        update={"status": "forwarded"}
    )
    notifying.world.later(POLICY.commit_wait)

    result = notifying.notifier.notify(phantom, receive_count=1, receipt_handle=HANDLE)

    assert result is Notified.DROPPED
    assert notifying.webhooks.posted == []

"""forward_reports' work: hand each forwarded report to its recipient, once, and record how it
went in the report's history (every failed attempt, the delivery, or the final failure).

Delivery is at least once towards the recipient and idempotent by report id on its side (the
``Idempotency-Key``): a message delivered but not recorded (the function died in between) is
delivered again, and the recipient keeps one. A delivery recorded as done is not repeated.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import Conflict
from hashmatch.observability import logger
from hashmatch.reports.delivering import (
    RetryPolicy,
    attempt,
    await_step,
    retry_later,
)
from hashmatch.reports.model import ReportStatus, StatusChange, Step
from hashmatch.reports.outbound import DeliveryFailed, DeliveryReceipt, ForwardedReportMessage
from hashmatch.reports.ports import Recipients, Redelivery, ReportStore, ReviewEvents
from hashmatch.reports.review_events import ReviewEvent
from hashmatch.reports.review_records import Delivery, DeliveryState

FORWARDER = "forward_reports"
FUNCTION_ROLE = "function"


class Forwarding:
    def __init__(
        self,
        *,
        reports: ReportStore,
        recipients: Recipients,
        redelivery: Redelivery,
        events: ReviewEvents,
        clock: Clock,
        audit: AuditLog,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._reports = reports
        self._recipients = recipients
        self._redelivery = redelivery
        self._events = events
        self._clock = clock
        self._audit = audit
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    def deliver(
        self, message: ForwardedReportMessage, *, receive_count: int, receipt_handle: str
    ) -> DeliveryState | None:
        """Deliver one message; its delivery's state, or None for a message whose forwarding
        was never recorded (dropped). Raises NotDoneYet to have the queue retry it."""
        report_id, recipient = message.report.report_id, message.recipient
        report = self._reports.get(report_id)
        outbound = report.outbound if report is not None else None
        delivery = outbound.deliveries.get(recipient) if outbound is not None else None
        if delivery is None or delivery.delivery_id != message.delivery_id:
            await_step(
                self._redelivery,
                receipt_handle,
                self.policy,
                queued_at=message.report.forwarded_at,
                now=self._clock.now(),
                what={"report_id": report_id, "delivery_id": message.delivery_id},
            )
            return None
        if delivery.state is DeliveryState.DELIVERED:
            return delivery.state  # a second copy of a message already delivered
        last_receive = self.policy.is_last_receive(receive_count)
        current = [delivery]

        def failed(number: int, failure: DeliveryFailed, last_try: bool) -> None:
            current[0] = self._failed(message, current[0], failure, last_try and last_receive)

        receipt = attempt(
            lambda: self._recipients.deliver(message),
            policy=self.policy,
            sleep=self._sleep,
            on_failure=failed,
        )
        if receipt is not None:
            return self._delivered(message, current[0], receipt)
        raise retry_later(self._redelivery, receipt_handle, self.policy, receive_count)

    def _failed(
        self,
        message: ForwardedReportMessage,
        delivery: Delivery,
        failure: DeliveryFailed,
        abandon: bool,
    ) -> Delivery:
        now = self._clock.now()
        number = delivery.attempts + 1
        failed = delivery.model_copy(update={"attempts": number, "last_attempt_at": now})
        self._write(message, failed, Step.DELIVERY_FAILED, number, failure.detail)
        logger.info(
            "delivery attempt failed",
            extra={
                "report_id": message.report.report_id,
                "recipient": message.recipient,
                "attempt": number,
                "failure": failure.detail,
            },
        )
        if not abandon:
            return failed
        abandoned = failed.model_copy(update={"state": DeliveryState.ABANDONED})
        self._write(message, abandoned, Step.DELIVERY_ABANDONED, number, "every retry failed")
        self._announce(message, AuditAction.REPORT_DELIVERY_ABANDONED, Step.DELIVERY_ABANDONED)
        return abandoned

    def _delivered(
        self, message: ForwardedReportMessage, delivery: Delivery, receipt: DeliveryReceipt
    ) -> DeliveryState:
        now = self._clock.now()
        number = delivery.attempts + 1
        delivered = delivery.model_copy(
            update={
                "state": DeliveryState.DELIVERED,
                "attempts": number,
                "last_attempt_at": now,
                "delivered_at": now,
                "receipt": receipt.reference,
            }
        )
        self._write(message, delivered, Step.DELIVERED, number, None)
        self._announce(message, AuditAction.REPORT_DELIVERED, Step.DELIVERED)
        return DeliveryState.DELIVERED

    def _write(
        self,
        message: ForwardedReportMessage,
        delivery: Delivery,
        step: Step,
        attempt_number: int,
        detail: str | None,
    ) -> None:
        entry = StatusChange(
            status=ReportStatus.FORWARDED,
            at=self._clock.now(),
            by=FORWARDER,
            step=step,
            recipient=message.recipient,
            attempt=attempt_number,
            detail=detail,
        )
        try:
            self._reports.record_delivery(
                message.report.report_id, message.recipient, delivery, entry
            )
        except Conflict:
            # The forwarded copy was erased meanwhile (its period ended): nothing to record on.
            logger.warning(
                "delivery not recorded: the report's outbound record is gone",
                extra={"report_id": message.report.report_id, "recipient": message.recipient},
            )

    def _announce(self, message: ForwardedReportMessage, action: AuditAction, step: Step) -> None:
        report_id = message.report.report_id
        self._audit.record(
            action,
            actor=FORWARDER,
            role=FUNCTION_ROLE,
            targets=[report_id, message.delivery_id],
            details={"recipient": message.recipient},
        )
        forwarded = message.report
        self._events.publish(
            ReviewEvent(
                step=step,
                at=self._clock.now(),
                report_id=report_id,
                urgent=forwarded.urgent,
                databases=tuple(sorted({match.database for match in forwarded.matches})),
                member_state=forwarded.competent_member_state,
                recipient=message.recipient,
            )
        )

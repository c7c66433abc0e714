"""What the two outbound consumers share: retries with backoff, in the invocation and on the
queue, and telling a message whose step is not written yet from one whose step never will be.

A message is tried ``attempts_per_receive`` times per receive, waiting ``attempt_backoff`` and
then twice as long between tries. If every try fails, the consumer hands the message back to
the queue for ``redelivery_base * 2 ** (receive - 1)`` (at most 15 minutes) instead of the
queue's long visibility timeout; on the ``max_receives``-th receive (the queue's
maxReceiveCount) it gives up and the queue moves the message to its dead-letter queue.

Messages are queued before the step they belong to is written (hashmatch.reports.review). A
consumer that finds no such step waits ``commit_wait`` for it, looking again every
``commit_poll``; after that the step was never written (its write lost a race or failed), and
the message is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from hashmatch.observability import logger
from hashmatch.reports.outbound import DeliveryFailed
from hashmatch.reports.ports import Redelivery

T = TypeVar("T")
MAX_RECEIVES = 5  # the outbound and notification queues' maxReceiveCount (template.yaml)
_LONGEST_REDELIVERY = timedelta(minutes=15)


@dataclass(frozen=True)
class RetryPolicy:
    attempts_per_receive: int = 3
    attempt_backoff: timedelta = timedelta(seconds=0.5)
    max_receives: int = MAX_RECEIVES
    redelivery_base: timedelta = timedelta(seconds=60)
    commit_wait: timedelta = timedelta(seconds=15)
    commit_poll: timedelta = timedelta(seconds=5)

    def redelivery_delay(self, receive_count: int) -> timedelta:
        return min(self.redelivery_base * 2 ** max(0, receive_count - 1), _LONGEST_REDELIVERY)

    def is_last_receive(self, receive_count: int) -> bool:
        return receive_count >= self.max_receives


class NotDoneYet(Exception):
    """The record failed on purpose: the queue hands it out again (or dead-letters it)."""


class GaveUp(NotDoneYet):
    """Every retry failed on the last receive: the queue dead-letters it (alarmed)."""


def attempt(
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    on_failure: Callable[[int, DeliveryFailed, bool], None],
) -> T | None:
    """``call`` up to ``attempts_per_receive`` times with backoff; its result, or None if every
    try failed. ``on_failure(try number, failure, was the last try)`` sees each failure."""
    for number in range(1, policy.attempts_per_receive + 1):
        try:
            return call()
        except DeliveryFailed as failure:
            last = number == policy.attempts_per_receive
            on_failure(number, failure, last)
            if not last:
                sleep((policy.attempt_backoff * 2 ** (number - 1)).total_seconds())
    return None


def retry_later(
    redelivery: Redelivery, receipt_handle: str, policy: RetryPolicy, receive_count: int
) -> NotDoneYet:
    """Back off on the queue; the exception to raise so the record counts as failed. After the
    last receive the message is handed back at once, so the queue's next receive moves it to
    the dead-letter queue (and the alarm fires) instead of after a visibility timeout."""
    last = policy.is_last_receive(receive_count)
    delay = timedelta(0) if last else policy.redelivery_delay(receive_count)
    redelivery.retry_later(receipt_handle, delay)
    if last:
        return GaveUp(f"not done on the last receive ({receive_count}): dead-lettered")
    return NotDoneYet(f"not done after receive {receive_count}; retried later")


def await_step(
    redelivery: Redelivery,
    receipt_handle: str,
    policy: RetryPolicy,
    *,
    queued_at: datetime,
    now: datetime,
    what: dict[str, str],
) -> None:
    """The message's step is not on the report: raise to look again soon, or return (drop the
    message) once it has had ``commit_wait`` to appear."""
    if now - queued_at < policy.commit_wait:
        redelivery.retry_later(receipt_handle, policy.commit_poll)
        raise NotDoneYet("its step is not recorded yet")
    logger.warning("message dropped: its step was never recorded", extra=what)

"""Schedule timers fire the scheduled function with EventBridge's Scheduled Event payload."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from hashmatch_devtools.localstack.lambda_runtime import LocalFunction
from hashmatch_devtools.localstack.schedules import RateSchedule, ScheduleTimer
from hashmatch_devtools.localstack.template import FunctionSpec, ScheduleEventSpec


def test_rate_timer_invokes_the_function_with_a_scheduled_event() -> None:
    # Given a function on a very fast rate schedule
    fired = threading.Event()
    events: list[Any] = []

    def handler(event: Any, context: Any) -> None:
        events.append(event)
        fired.set()

    spec = FunctionSpec(
        logical_id="TickFunction",
        handler="x.y",
        code_uri=".",
        timeout_seconds=3,
        memory_mb=128,
        function_name=None,
        environment={},
    )
    function = LocalFunction(spec=spec, name="tick", arn="arn", environment={}, handler=handler)
    schedule_spec = ScheduleEventSpec(
        function_id="TickFunction",
        event_name="Hourly",
        expression="rate(1 hour)",
        enabled=True,
        input_json=None,
    )
    timer = ScheduleTimer(
        schedule_spec,
        RateSchedule(timedelta(milliseconds=20)),
        function,
        region="eu-central-1",
        account_id="123456789012",
        rule="stack-TickFunctionHourly",
    )

    # When the timer runs
    timer.start()
    try:
        assert fired.wait(10)
    finally:
        timer.stop()

    # Then the function got EventBridge's Scheduled Event for its rule
    event = events[0]
    assert (event["detail-type"], event["source"], event["detail"]) == (
        "Scheduled Event",
        "aws.events",
        {},
    )
    assert event["resources"] == [
        "arn:aws:events:eu-central-1:123456789012:rule/stack-TickFunctionHourly"
    ]

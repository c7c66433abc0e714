"""The local stack's usage plans: a token bucket of the plan's rate and burst, a daily quota."""

from __future__ import annotations

from hashmatch_devtools.localstack.api_gateway import UsageMeter
from hashmatch_devtools.localstack.template import UsagePlanSpec

PLAN = UsagePlanSpec("Plan", rate_limit=2.0, burst_limit=3, daily_quota=5, applies_to={})


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_admitted_and_the_next_request_waits_for_the_rate():
    clock = Clock()
    meter = UsageMeter(clock)

    admitted = [meter.admit(PLAN, "caller") for _ in range(3)]
    refused = meter.admit(PLAN, "caller")
    clock.now += 0.5  # one token at 2 per second
    later = meter.admit(PLAN, "caller")

    assert admitted == [None, None, None]
    assert refused is not None
    assert refused.status == 429
    assert dict(refused.headers)["Retry-After"] == "1"
    assert later is None


def test_the_daily_quota_refuses_with_limit_exceeded_until_the_next_day():
    clock = Clock()
    meter = UsageMeter(clock)
    for _ in range(5):
        clock.now += 10
        assert meter.admit(PLAN, "caller") is None

    clock.now += 10
    refused = meter.admit(PLAN, "caller")
    clock.now += 86_400
    next_day = meter.admit(PLAN, "caller")

    assert refused is not None
    assert b"Limit Exceeded" in refused.body
    assert next_day is None

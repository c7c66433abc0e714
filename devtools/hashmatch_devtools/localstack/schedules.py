"""Scheduled functions: EventBridge schedule expressions on local timers, and runs on demand.

Supported expressions: ``rate(N minute|minutes|hour|hours|day|days)`` and six-field
``cron(minutes hours day-of-month month day-of-week year)`` with ``*``, ``?``, numbers, lists,
ranges, steps and day/month names (day-of-week 1-7 = SUN-SAT, as EventBridge counts). Not
supported: ``L``, ``W`` and ``#`` (such a schedule runs on demand only, with a warning).
A rate schedule first fires one period after the start, as a new EventBridge rule does; times are
UTC and the local clock override does not move them.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hashmatch_devtools.localstack.background import BackgroundLoop
from hashmatch_devtools.localstack.lambda_runtime import LocalFunction
from hashmatch_devtools.localstack.template import ScheduleEventSpec

logger = logging.getLogger("local_stack.schedules")

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_CRON = re.compile(r"cron\((.*)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_DAYS = {name: number for number, name in enumerate(_DAY_NAMES, start=1)}
# Scanning minute by minute for the next cron time; a year of minutes bounds the search.
_CRON_SEARCH_LIMIT = timedelta(days=366 * 2)


class UnsupportedSchedule(ValueError):
    pass


@dataclass(frozen=True)
class RateSchedule:
    period: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.period


@dataclass(frozen=True)
class CronSchedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None = "?"
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # 1 = Sunday; None = "?"
    years: frozenset[int] | None  # None = every year

    def next_after(self, moment: datetime) -> datetime:
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = moment + _CRON_SEARCH_LIMIT
        while candidate <= limit:
            if self._matches(candidate):
                return candidate
            candidate += timedelta(minutes=1)
        raise UnsupportedSchedule("the cron expression never fires in the next two years")

    def _matches(self, moment: datetime) -> bool:
        day_of_week = moment.isoweekday() % 7 + 1  # Monday=1..Sunday=7 -> Sunday=1..Saturday=7
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and (self.days_of_month is None or moment.day in self.days_of_month)
            and (self.days_of_week is None or day_of_week in self.days_of_week)
            and (self.years is None or moment.year in self.years)
        )


Schedule = RateSchedule | CronSchedule


def parse_schedule(expression: str) -> Schedule:
    rate = _RATE.fullmatch(expression.strip())
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if amount <= 0:
            raise UnsupportedSchedule(f"{expression}: the rate must be positive")
        return RateSchedule(timedelta(seconds=amount * _UNIT_SECONDS[unit]))
    cron = _CRON.fullmatch(expression.strip())
    if not cron:
        raise UnsupportedSchedule(f"{expression}: not a rate(...) or cron(...) expression")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise UnsupportedSchedule(f"{expression}: cron needs six fields")
    minutes, hours, days, months, weekdays, years = fields
    return CronSchedule(
        minutes=_field(minutes, 0, 59, {}),
        hours=_field(hours, 0, 23, {}),
        days_of_month=None if days == "?" else _field(days, 1, 31, {}),
        months=_field(months, 1, 12, _MONTHS),
        days_of_week=None if weekdays == "?" else _field(weekdays, 1, 7, _DAYS),
        years=None if years in ("*", "?") else _field(years, 1970, 2199, {}),
    )


def _field(text: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    if any(marker in text.upper() for marker in ("L", "W", "#")) and not names:
        raise UnsupportedSchedule(f"cron field {text!r}: L, W and # are not supported locally")
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(base, names)
            end = high if step_text else start
        if not low <= start <= high or not low <= end <= high:
            raise UnsupportedSchedule(f"cron field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int]) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not upper.isdigit():
        raise UnsupportedSchedule(f"cron value {text!r} is not supported locally")
    return int(upper)


def scheduled_event(spec: ScheduleEventSpec, *, region: str, account_id: str, rule: str) -> Any:
    """The payload EventBridge sends: the event's Input when given, else a Scheduled Event."""
    if spec.input_json is not None:
        return json.loads(spec.input_json)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account_id}:rule/{rule}"],
        "detail": {},
    }


class ScheduleTimer(BackgroundLoop):
    """Runs one scheduled event on its timer until stopped."""

    def __init__(
        self,
        spec: ScheduleEventSpec,
        schedule: Schedule,
        function: LocalFunction,
        *,
        region: str,
        account_id: str,
        rule: str,
    ) -> None:
        self.spec = spec
        self._schedule = schedule
        self._function = function
        self._region = region
        self._account_id = account_id
        self._rule = rule
        super().__init__(f"schedule-{rule}")

    def _run(self) -> None:
        next_run = self._schedule.next_after(datetime.now(UTC))
        while not self._stop.wait(max(0.0, (next_run - datetime.now(UTC)).total_seconds())):
            event = scheduled_event(
                self.spec, region=self._region, account_id=self._account_id, rule=self._rule
            )
            try:
                self._function.invoke(event)
                logger.info("schedule %s ran %s", self.spec.expression, self._function.logical_id)
            except Exception:
                logger.exception("scheduled run of %s failed", self._function.logical_id)
            next_run = self._schedule.next_after(datetime.now(UTC))

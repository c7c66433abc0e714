"""The API's one typing policy, as reusable constrained types (docs/api.md, "Types").

- Booleans are JSON booleans: ``"yes"``, ``1`` or ``"true"`` are refused, not read as true.
- Integers are JSON numbers with an integral value: ``16`` and ``16.0`` are 16 (JSON Schema calls
  both integers); ``16.5``, ``"16"`` and ``true`` are refused.
- Date-times are RFC 3339 strings with a time zone; epoch numbers are refused. A date-time of
  something that happened (``detected_at``, ``assessed_at``) lies between 2000-01-01 and now
  (plus a little clock skew): a plausible window, not a typo or a default.
- Text is taken as sent, never rewritten (a lower-case country code is refused, not upper-cased),
  and free text holds no control characters (NUL, ANSI escapes, line breaks), no bidirectional
  overrides, and is not only blanks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
)

EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
# A time a little ahead of ours is clock skew on the caller's side, not an error.
ALLOWED_CLOCK_SKEW = timedelta(minutes=5)
# Validation context key: the time "now" is checked against (services pass their clock's).
NOW = "now"

# Control characters (C0, DEL, C1) and the bidirectional overrides and isolates that make text
# display as something other than what it holds; at least one character that is not a blank.
_ALLOWED = r"[^\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"
_VISIBLE = r"[^\s\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"
FREE_TEXT_PATTERN = rf"^{_ALLOWED}*{_VISIBLE}{_ALLOWED}*$"
_FREE_TEXT = re.compile(FREE_TEXT_PATTERN)
# A text a person writes in several lines (a reviewer's note or question, a provider's answer):
# the same, with line breaks and tabs allowed.
_ALLOWED_IN_LINES = r"[^\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"
MULTILINE_TEXT_PATTERN = rf"^{_ALLOWED_IN_LINES}*{_VISIBLE}{_ALLOWED_IN_LINES}*$"
_MULTILINE_TEXT = re.compile(MULTILINE_TEXT_PATTERN)
# RFC 3339 date-times with a time zone; the schema of an event time also says years 2000-2999
# (the lower end of its window, as far as a pattern can say it).
_AFTER_YEAR = (
    r"-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_RFC_3339 = re.compile(r"[0-9]{4}" + _AFTER_YEAR)
EVENT_TIME_PATTERN = r"^2[0-9]{3}" + _AFTER_YEAR + "$"

Flag = StrictBool


def _integral(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer (a JSON number)")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer, without a fraction")
        return int(value)
    return value


Integral = Annotated[int, BeforeValidator(_integral)]
# A quality score 0-100, integral (the bounds sit inside the conversion, so the schema has them).
Quality = Annotated[int, Field(ge=0, le=100), BeforeValidator(_integral)]


def _before_2000(value: datetime) -> bool:
    # The year as written (in its own offset), as the schema's pattern sees it: 2000-01-01 at
    # +10:00 is in the window although it is still 1999 in UTC.
    return value.year < EARLIEST_EVENT.year


def _date_time_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC_3339.fullmatch(value):
        raise ValueError(
            "must be an RFC 3339 date-time string with a time zone (2026-01-02T03:04:05Z), "
            "not a number"
        )
    return value


def _plausible_event_time(value: datetime, info: ValidationInfo) -> datetime:
    if _before_2000(value):
        raise ValueError("must not be before 2000-01-01")
    now = (info.context or {}).get(NOW)
    if isinstance(now, datetime) and value > now + ALLOWED_CLOCK_SKEW:
        raise ValueError("must not be in the future")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]
# When something happened. The future check needs the caller's clock: models validated with
# ``context={NOW: clock.now()}`` get it here; other callers check it themselves.
EventTime = Annotated[
    AwareDatetime,
    BeforeValidator(_date_time_text),
    AfterValidator(_plausible_event_time),
    Field(json_schema_extra={"pattern": EVENT_TIME_PATTERN}),
]


def event_time_problem(value: datetime, now: datetime) -> str | None:
    """Why a time something happened is implausible, or None."""
    if _before_2000(value):
        return "must not be before 2000-01-01"
    if value > now + ALLOWED_CLOCK_SKEW:
        return "must not be in the future"
    return None


def _free_text(value: str) -> str:
    if not _FREE_TEXT.fullmatch(value):
        raise ValueError(
            "must hold visible text, without control characters, escapes or direction overrides"
        )
    return value


# Free text as sent; give it a length with ``Annotated[FreeText, Field(max_length=...)]``.
FreeText = Annotated[
    str,
    StringConstraints(min_length=1),
    AfterValidator(_free_text),
    Field(json_schema_extra={"pattern": FREE_TEXT_PATTERN}),
]


def _multiline_text(value: str) -> str:
    if not _MULTILINE_TEXT.fullmatch(value):
        raise ValueError(
            "must hold visible text, without control characters (line breaks and tabs aside), "
            "escapes or direction overrides"
        )
    return value


# The same in several lines; a length as for FreeText.
MultilineText = Annotated[
    str,
    StringConstraints(min_length=1),
    AfterValidator(_multiline_text),
    Field(json_schema_extra={"pattern": MULTILINE_TEXT_PATTERN}),
]

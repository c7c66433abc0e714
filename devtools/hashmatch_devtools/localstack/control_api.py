"""The local stack's own routes under ``/_local/``: what runs, the clock, schedules on demand.

GET  /_local/                      routes, queues, schedules and the clock
GET  /_local/clock                 the clock's offset and the time it gives
POST /_local/clock                 {"offset_seconds": s} or {"advance_days": d}
POST /_local/schedules/<function>  run a scheduled function now
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hashmatch_devtools.localstack.api_gateway import (
    MISSING_AUTHENTICATION_TOKEN,
    HttpRequest,
    HttpResponse,
)

if TYPE_CHECKING:
    from hashmatch_devtools.localstack.stack import LocalStack

logger = logging.getLogger("local_stack.control")

SCHEDULES_PREFIX = "/_local/schedules/"


class LocalControlApi:
    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path.rstrip("/")
        if path == "/_local" and request.method == "GET":
            return HttpResponse.json(200, self._overview())
        if path == "/_local/clock":
            if request.method == "POST":
                return self._post_clock(request)
            if request.method == "GET":
                return HttpResponse.json(200, self._clock_state())
        if path.startswith(SCHEDULES_PREFIX) and request.method == "POST":
            return self._run_schedule(path[len(SCHEDULES_PREFIX) :])
        return MISSING_AUTHENTICATION_TOKEN

    def _run_schedule(self, logical_id: str) -> HttpResponse:
        if logical_id not in self._stack.schedule_events():
            return HttpResponse.json(404, {"message": f"no schedule for {logical_id}"})
        try:
            result = self._stack.run_schedule(logical_id)
        except Exception as error:
            # A handler's failure is the answer to this request, not a fault of the stack.
            logger.exception("on-demand run of %s failed", logical_id)
            return HttpResponse.json(
                500,
                {"function": logical_id, "error": type(error).__name__, "message": str(error)},
            )
        return HttpResponse.json(200, {"function": logical_id, "result": result})

    def _post_clock(self, request: HttpRequest) -> HttpResponse:
        try:
            body = json.loads(request.body or b"{}")
            if "offset_seconds" in body:
                offset = float(body["offset_seconds"])
            elif "advance_days" in body:
                offset = self._stack.clock_offset() + float(body["advance_days"]) * 86400
            else:
                raise ValueError("give offset_seconds or advance_days")
        except (ValueError, TypeError, AttributeError) as error:
            return HttpResponse.json(400, {"message": str(error)})
        self._stack.set_clock_offset(offset)
        return HttpResponse.json(200, self._clock_state())

    def _clock_state(self) -> dict[str, Any]:
        offset = self._stack.clock_offset()
        now = datetime.now(UTC) + timedelta(seconds=offset)
        return {"offset_seconds": offset, "now": now.isoformat()}

    def _overview(self) -> dict[str, Any]:
        stack = self._stack
        return {
            "api_url": stack.api_url,
            "aws_endpoint": stack.aws_endpoint,
            "routes": [
                {
                    "method": r.method,
                    "path": r.path,
                    "function": r.function_id,
                    "authorizer": r.authorizer,
                }
                for r in stack.routes
            ],
            "queues": [
                {"queue": p.queue_url, "function": p.function.logical_id} for p in stack.pollers
            ],
            "schedules": [
                {
                    "function": logical_id,
                    "expression": spec.expression,
                    "run_now": f"POST {SCHEDULES_PREFIX}{logical_id}",
                }
                for logical_id, spec in stack.schedule_events().items()
            ],
            "clock": self._clock_state(),
        }

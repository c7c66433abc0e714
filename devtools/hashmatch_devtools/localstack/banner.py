"""The banner `hashmatch serve` prints: what started and how to call it."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashmatch_devtools.localstack.stack import LocalStack


def describe(stack: LocalStack) -> str:
    if stack.model is None:
        return "local stack not started"
    functions = stack.functions.values()
    lines = [
        f"hashmatch local stack: {stack.template_path.name} as stack {stack.stack_name}",
        f"  AWS (moto):  {stack.aws_endpoint}   region {stack.region}",
        f"  API:         {stack.api_url}",
        "",
        "Stores (created in moto from the template):",
    ]
    for resource in stack.resources.values():
        lines.append(
            f"  {resource.logical_id:<28} {resource.resource_type:<22} "
            f"{resource.url or resource.physical_id}"
        )
    lines += ["", "Routes:"]
    for gateway in stack.gateways:
        for route in gateway.api.routes:
            auth = f"authorizer {route.authorizer}" if route.authorizer else "open"
            lines.append(f"  {route.method:<7} {route.path:<34} -> {route.function_id} ({auth})")
    if any(function.spec.sqs_events for function in functions):
        lines += ["", "Queues:"]
        for function in functions:
            for event in function.spec.sqs_events:
                polled = "polled" if stack.run_pollers and event.enabled else "not polled"
                failures = "partial failures" if event.report_batch_item_failures else "all or none"
                lines.append(
                    f"  {event.queue_logical_id} -> {function.logical_id} "
                    f"(batch {event.batch_size}, {failures}, {polled})"
                )
    schedules = stack.schedule_events()
    if schedules:
        lines += ["", "Schedules (run now with the command shown):"]
        for logical_id, spec in schedules.items():
            timer = "on timer" if stack.run_schedules and spec.enabled else "on demand only"
            lines.append(f"  {logical_id}  {spec.expression} ({timer})")
            lines.append(f"    curl -s -X POST {stack.api_url}/_local/schedules/{logical_id}")
    unsupported = [
        f"{function.logical_id}.{event}"
        for function in functions
        for event in function.spec.unsupported_events
    ]
    if unsupported:
        lines += ["", "Events not driven locally: " + ", ".join(unsupported)]
    lines += ["", "Try:"]
    for route in stack.routes:
        if route.method in ("GET", "ANY") and "{" not in route.path:
            auth = "-H 'Authorization: Bearer <key>' " if route.authorizer is not None else ""
            lines.append(f"  curl -s {auth}{stack.api_url}{route.path}")
    clock_body = shlex.quote('{"advance_days": 30}')
    lines += [
        f"  curl -s {stack.api_url}/_local/    (what runs)",
        f"  curl -s -X POST -d {clock_body} {stack.api_url}/_local/clock    (move the clock)",
        "",
        f"State file: {stack.state_file}",
    ]
    if stack.persist:
        kept = "restored from" if stack.restored else "new, kept in"
        lines.append(
            f"Stores' data: {kept} {stack.saved_state.path} (saved every 30 s and at stop; "
            "--fresh discards it)"
        )
    else:
        lines.append("Stores' data: not kept (gone when the stack stops)")
    lines += [
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)

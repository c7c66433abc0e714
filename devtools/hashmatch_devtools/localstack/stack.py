"""The LocalStack facade: template.yaml running on this machine, in this one process.

Environment: all functions run in one process, so the union of their (resolved) environment
variables is set into os.environ once, at start. Two functions giving one variable different
values is an error, except for per-function identity variables (POWERTOOLS_SERVICE_NAME and
similar): Powertools objects are created once per process anyway, so those keep the Globals
value (or, without one, the first function's in logical-id order) instead of being switched per
invocation. The AWS variables point every boto3 client at moto; real credentials and profiles
are removed for the stack's lifetime. stop() restores os.environ as it was, so only one local
stack may run per process at a time.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shlex
import threading
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from hashmatch_devtools.localstack.api_gateway import (
    MISSING_AUTHENTICATION_TOKEN,
    ApiGateway,
    HttpRequest,
    HttpResponse,
    start_http_server,
)
from hashmatch_devtools.localstack.errors import LocalStackError
from hashmatch_devtools.localstack.lambda_runtime import LocalFunction, load_function
from hashmatch_devtools.localstack.pollers import SqsPoller
from hashmatch_devtools.localstack.resources import (
    LocalIdentities,
    ProvisionedStores,
    StackResource,
    local_function_names,
    provision_stores,
)
from hashmatch_devtools.localstack.schedules import (
    ScheduleTimer,
    UnsupportedSchedule,
    parse_schedule,
    scheduled_event,
)
from hashmatch_devtools.localstack.template import (
    ParameterResolver,
    RouteSpec,
    ScheduleEventSpec,
    TemplateModel,
    load_template,
)

logger = logging.getLogger("local_stack")

ACCOUNT_ID = "123456789012"  # moto's default account
LOCAL_API_ID = "local"
CLOCK_OFFSET_VARIABLE = "HASHMATCH_CLOCK_OFFSET_SECONDS"
PER_FUNCTION_IDENTITY_VARIABLES = frozenset(
    {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_FUNCTION_NAME"}
)
_REMOVED_AWS_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
STATE_DIRECTORY = ".local-stack"
_active_stack_lock = threading.Lock()
_active_stack: LocalStack | None = None


class LocalStack:
    """template.yaml running locally. start() returns at once; serve_forever() blocks until Ctrl-C.

    Logs go to the ``local_stack`` logger (one line per API request at INFO); configure it in
    the caller. ``state_directory`` defaults to ``<template dir>/.local-stack``.
    """

    def __init__(
        self,
        template_path: Path,
        *,
        api_port: int = 3000,
        moto_port: int = 0,
        parameter_overrides: dict[str, str] | None = None,
        region: str = "eu-central-1",
        run_schedules: bool = True,
        run_pollers: bool = True,
        stack_name: str = "hashmatch-local",
        host: str = "127.0.0.1",
        state_directory: Path | None = None,
    ) -> None:
        self.template_path = Path(template_path).resolve()
        self._state_directory = state_directory or self.template_path.parent / STATE_DIRECTORY
        self.region = region
        self.stack_name = stack_name
        self._host = host
        self._api_port = api_port
        self._moto_port = moto_port
        self._parameter_overrides = dict(parameter_overrides or {})
        self._run_schedules = run_schedules
        self._run_pollers = run_pollers
        self._model: TemplateModel | None = None
        self._parameters: dict[str, str] = {}
        self._moto: Any = None
        self._aws_endpoint: str | None = None
        self._stores: ProvisionedStores | None = None
        self._functions: dict[str, LocalFunction] = {}
        self._gateways: list[ApiGateway] = []
        self._http_server: Any = None
        self._http_thread: threading.Thread | None = None
        self._pollers: list[SqsPoller] = []
        self._timers: list[ScheduleTimer] = []
        self._saved_environment: dict[str, str | None] = {}
        self._stop_requested = threading.Event()
        self._started = False

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalStack:
        global _active_stack
        with _active_stack_lock:
            if _active_stack is not None:
                raise LocalStackError("a local stack already runs in this process (stop it first)")
            _active_stack = self
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self._model = model = load_template(
            self.template_path,
            parameter_overrides=self._parameter_overrides,
            pseudo_parameters=pseudo,
        )
        self._parameters = model.parameter_values(self._parameter_overrides)
        resolver = ParameterResolver(self._parameters, pseudo)
        self._start_moto()
        clients = {name: self._client(name) for name in ("sqs", "dynamodb", "s3")}
        identities = LocalIdentities(
            region=self.region,
            account_id=ACCOUNT_ID,
            stack_name=self.stack_name,
            api_id=LOCAL_API_ID,
            function_names=local_function_names(model, resolver.resolve, self.stack_name),
        )
        self._stores = stores = provision_stores(
            model,
            cloudformation=self._client("cloudformation"),
            clients=clients,
            parameters=self._parameters,
            identities=identities,
        )
        # The clock override is set later by a control request: remember its value from before
        # the start, so stop() puts it back (otherwise a moved clock outlives the stack).
        self._remember(CLOCK_OFFSET_VARIABLE)
        self._set_environment(self._merged_function_environment(model, stores))
        for logical_id, spec in model.functions.items():
            self._functions[logical_id] = load_function(
                spec,
                template_dir=model.directory,
                name=identities.function_names[logical_id],
                arn=identities.function_arn(logical_id),
                environment=stores.environments[logical_id],
            )
        self._gateways = [
            ApiGateway(
                api,
                self._functions,
                region=self.region,
                account_id=ACCOUNT_ID,
                api_id=LOCAL_API_ID,
            )
            for api in model.apis.values()
        ]
        self._http_server, self._http_thread = start_http_server(
            _CompositeGateway(self._gateways),  # type: ignore[arg-type]
            self._local_control,
            host=self._host,
            port=self._api_port,
        )
        if self._run_pollers:
            self._pollers = self._build_pollers(model, stores, clients["sqs"])
            for poller in self._pollers:
                poller.start()
        if self._run_schedules:
            self._timers = self._build_timers(model)
            for timer in self._timers:
                timer.start()
        for function in self._functions.values():
            for event in function.spec.unsupported_events:
                logger.warning(
                    "%s: event %s is not driven by the local stack", function.logical_id, event
                )
        self._write_state_file()
        logger.info("local stack started: API %s, AWS %s", self.api_url, self.aws_endpoint)

    def stop(self) -> None:
        """Stop timers, pollers, the API and moto; restore os.environ. Safe to call twice."""
        global _active_stack
        if not self._started:
            return
        self._stop_requested.set()
        for timer in self._timers:
            timer.stop()
        for poller in self._pollers:
            poller.stop()
        self._timers, self._pollers = [], []
        if self._http_server is not None:
            self._http_server.shutdown()
            self._http_server.server_close()
            self._http_server = None
        if self._moto is not None:
            # Leave no stores behind for later moto users in this process (e.g. mock_aws tests).
            self._reset_moto()
            self._moto.stop()
            self._moto = None
        self._restore_environment()
        self.state_file.unlink(missing_ok=True)
        self._started = False
        with _active_stack_lock:
            if _active_stack is self:
                _active_stack = None

    def serve_forever(self) -> None:
        """Start if needed, block until Ctrl-C (or request_stop()), then stop cleanly."""
        if not self._started:
            self.start()
        try:
            while not self._stop_requested.wait(0.5):
                pass
        except KeyboardInterrupt:
            logger.info("stopping the local stack")
        finally:
            self.stop()

    def request_stop(self) -> None:
        self._stop_requested.set()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- what runs -------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        if self._http_server is None:
            raise LocalStackError("the local stack is not running")
        host, port = self._http_server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def aws_endpoint(self) -> str:
        if self._aws_endpoint is None:
            raise LocalStackError("the local stack is not running")
        return self._aws_endpoint

    @property
    def resources(self) -> Mapping[str, StackResource]:
        return dict(self._stores.resources) if self._stores else {}

    @property
    def functions(self) -> Mapping[str, LocalFunction]:
        return dict(self._functions)

    @property
    def routes(self) -> tuple[RouteSpec, ...]:
        return self._model.routes if self._model else ()

    @property
    def state_file(self) -> Path:
        return self._state_directory / "state.json"

    @property
    def gateways(self) -> tuple[ApiGateway, ...]:
        return tuple(self._gateways)

    def schedule_events(self) -> dict[str, ScheduleEventSpec]:
        """Function logical id -> its (first) schedule event."""
        found: dict[str, ScheduleEventSpec] = {}
        for function in self._functions.values():
            if function.spec.schedule_events:
                found[function.logical_id] = function.spec.schedule_events[0]
        return found

    def run_schedule(self, logical_id: str) -> Any:
        """Run a scheduled function now, with the payload its schedule would send."""
        spec = self.schedule_events().get(logical_id)
        if spec is None:
            raise LocalStackError(f"{logical_id} is not a scheduled function of the template")
        event = scheduled_event(
            spec, region=self.region, account_id=ACCOUNT_ID, rule=self._rule_name(spec)
        )
        return self._functions[logical_id].invoke(event)

    def set_clock_offset(self, seconds: float) -> None:
        os.environ[CLOCK_OFFSET_VARIABLE] = str(seconds)

    def clock_offset(self) -> float:
        return float(os.environ.get(CLOCK_OFFSET_VARIABLE) or 0)

    def describe(self) -> str:
        """The banner: what started and how to call it."""
        model = self._model
        if model is None:
            return "local stack not started"
        lines = [
            f"hashmatch local stack: {self.template_path.name} as stack {self.stack_name}",
            f"  AWS (moto):  {self.aws_endpoint}   region {self.region}",
            f"  API:         {self.api_url}",
            "",
            "Stores (created in moto from the template):",
        ]
        for resource in self.resources.values():
            lines.append(
                f"  {resource.logical_id:<28} {resource.resource_type:<22} "
                f"{resource.url or resource.physical_id}"
            )
        lines += ["", "Routes:"]
        for gateway in self._gateways:
            for route in gateway.api.routes:
                auth = f"authorizer {route.authorizer}" if route.authorizer else "open"
                lines.append(
                    f"  {route.method:<7} {route.path:<34} -> {route.function_id} ({auth})"
                )
        if self._pollers or any(f.spec.sqs_events for f in self._functions.values()):
            lines += ["", "Queues:"]
            for function in self._functions.values():
                for event in function.spec.sqs_events:
                    polled = "polled" if self._run_pollers and event.enabled else "not polled"
                    failures = (
                        "partial failures" if event.report_batch_item_failures else "all or none"
                    )
                    lines.append(
                        f"  {event.queue_logical_id} -> {function.logical_id} "
                        f"(batch {event.batch_size}, {failures}, {polled})"
                    )
        schedules = self.schedule_events()
        if schedules:
            lines += ["", "Schedules (run now with the command shown):"]
            for logical_id, spec in schedules.items():
                timer = "on timer" if self._run_schedules and spec.enabled else "on demand only"
                lines.append(f"  {logical_id}  {spec.expression} ({timer})")
                lines.append(f"    curl -s -X POST {self.api_url}/_local/schedules/{logical_id}")
        unsupported = [
            f"{function.logical_id}.{event}"
            for function in self._functions.values()
            for event in function.spec.unsupported_events
        ]
        if unsupported:
            lines += ["", "Events not driven locally: " + ", ".join(unsupported)]
        lines += ["", "Try:"]
        for route in self.routes:
            if route.method in ("GET", "ANY") and "{" not in route.path:
                auth = "-H 'Authorization: Bearer <key>' " if route.authorizer is not None else ""
                lines.append(f"  curl -s {auth}{self.api_url}{route.path}")
        clock_body = shlex.quote('{"advance_days": 30}')
        lines += [
            f"  curl -s {self.api_url}/_local/    (what runs)",
            f"  curl -s -X POST -d {clock_body} {self.api_url}/_local/clock    (move the clock)",
            "",
            f"State file: {self.state_file}",
            "Ctrl-C stops everything.",
        ]
        return "\n".join(lines)

    # ---- internals -------------------------------------------------------------------------

    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address=self._host, port=self._moto_port, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self._aws_endpoint = f"http://{host}:{port}"
        # moto's backends are process-wide: start from empty, whatever ran in this process before.
        self._reset_moto()
        self._set_environment(
            {
                "AWS_ENDPOINT_URL": self._aws_endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            }
        )
        for name in _REMOVED_AWS_VARIABLES:
            self._remember(name)
            os.environ.pop(name, None)

    def _reset_moto(self) -> None:
        # Our own moto server's reset endpoint: an http URL we built, never user input.
        reset_url = f"{self.aws_endpoint}/moto-api/reset"
        request = urllib.request.Request(reset_url, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def _client(self, service: str) -> Any:
        return _boto3_session().client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
        )

    def _remember(self, name: str) -> None:
        if name not in self._saved_environment:
            self._saved_environment[name] = os.environ.get(name)

    def _set_environment(self, variables: Mapping[str, str]) -> None:
        for name, value in variables.items():
            self._remember(name)
            os.environ[name] = value

    def _restore_environment(self) -> None:
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment = {}

    def _merged_function_environment(
        self, model: TemplateModel, stores: ProvisionedStores
    ) -> dict[str, str]:
        global_variables = (
            ((model.body.get("Globals") or {}).get("Function") or {})
            .get("Environment", {})
            .get("Variables", {})
        )
        merged: dict[str, str] = {}
        origin: dict[str, str] = {}
        for logical_id in sorted(stores.environments):
            for name, value in stores.environments[logical_id].items():
                if name not in merged:
                    merged[name], origin[name] = value, logical_id
                elif merged[name] != value and name in PER_FUNCTION_IDENTITY_VARIABLES:
                    if name in global_variables:
                        merged[name] = str(global_variables[name])
                elif merged[name] != value:
                    raise LocalStackError(
                        f"{name} is {merged[name]!r} in {origin[name]} but {value!r} in "
                        f"{logical_id}: all functions share one process locally, so one "
                        "variable needs one value"
                    )
        return merged

    def _build_pollers(
        self, model: TemplateModel, stores: ProvisionedStores, sqs: Any
    ) -> list[SqsPoller]:
        pollers = []
        for function in self._functions.values():
            for event in function.spec.sqs_events:
                queue_id = event.queue_logical_id
                queue = stores.resources.get(queue_id or "")
                if queue is None or queue.url is None or queue.arn is None:
                    raise LocalStackError(
                        f"{function.logical_id}.{event.event_name}: Queue must reference an "
                        "AWS::SQS::Queue of the template"
                    )
                if not event.enabled:
                    continue
                pollers.append(
                    SqsPoller(
                        sqs=sqs,
                        queue_url=queue.url,
                        queue_arn=queue.arn,
                        function=function,
                        batch_size=event.batch_size,
                        report_batch_item_failures=event.report_batch_item_failures,
                        region=self.region,
                    )
                )
        return pollers

    def _build_timers(self, model: TemplateModel) -> list[ScheduleTimer]:
        timers = []
        for function in self._functions.values():
            for spec in function.spec.schedule_events:
                if not spec.enabled:
                    continue
                try:
                    schedule = parse_schedule(spec.expression)
                except UnsupportedSchedule as error:
                    logger.warning("%s runs on demand only: %s", function.logical_id, error)
                    continue
                timers.append(
                    ScheduleTimer(
                        spec,
                        schedule,
                        function,
                        region=self.region,
                        account_id=ACCOUNT_ID,
                        rule=self._rule_name(spec),
                    )
                )
        return timers

    def _rule_name(self, spec: ScheduleEventSpec) -> str:
        return f"{self.stack_name}-{spec.function_id}{spec.event_name}"

    def _local_control(self, request: HttpRequest) -> HttpResponse:
        path = request.path.rstrip("/")
        if path == "/_local" and request.method == "GET":
            return HttpResponse.json(200, self._overview())
        if path == "/_local/clock":
            if request.method == "POST":
                return self._post_clock(request)
            if request.method == "GET":
                return HttpResponse.json(200, self._clock_state())
        prefix = "/_local/schedules/"
        if path.startswith(prefix) and request.method == "POST":
            logical_id = path[len(prefix) :]
            if logical_id not in self.schedule_events():
                return HttpResponse.json(404, {"message": f"no schedule for {logical_id}"})
            try:
                result = self.run_schedule(logical_id)
            except Exception as error:
                logger.exception("on-demand run of %s failed", logical_id)
                return HttpResponse.json(
                    500,
                    {"function": logical_id, "error": type(error).__name__, "message": str(error)},
                )
            return HttpResponse.json(200, {"function": logical_id, "result": result})
        return MISSING_AUTHENTICATION_TOKEN

    def _post_clock(self, request: HttpRequest) -> HttpResponse:
        try:
            body = json.loads(request.body or b"{}")
            if "offset_seconds" in body:
                offset = float(body["offset_seconds"])
            elif "advance_days" in body:
                offset = self.clock_offset() + float(body["advance_days"]) * 86400
            else:
                raise ValueError("give offset_seconds or advance_days")
        except (ValueError, TypeError, AttributeError) as error:
            return HttpResponse.json(400, {"message": str(error)})
        self.set_clock_offset(offset)
        return HttpResponse.json(200, self._clock_state())

    def _clock_state(self) -> dict[str, Any]:
        offset = self.clock_offset()
        now = datetime.now(UTC) + timedelta(seconds=offset)
        return {"offset_seconds": offset, "now": now.isoformat()}

    def _overview(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "aws_endpoint": self.aws_endpoint,
            "routes": [
                {
                    "method": r.method,
                    "path": r.path,
                    "function": r.function_id,
                    "authorizer": r.authorizer,
                }
                for r in self.routes
            ],
            "queues": [
                {"queue": p.queue_url, "function": p.function.logical_id} for p in self._pollers
            ],
            "schedules": [
                {
                    "function": logical_id,
                    "expression": spec.expression,
                    "run_now": f"POST /_local/schedules/{logical_id}",
                }
                for logical_id, spec in self.schedule_events().items()
            ],
            "clock": self._clock_state(),
        }

    def _write_state_file(self) -> None:
        state = {
            "pid": os.getpid(),
            "template": str(self.template_path),
            "stack_name": self.stack_name,
            "region": self.region,
            "api_url": self.api_url,
            "aws_endpoint": self.aws_endpoint,
            "parameters": self._parameters,
            "resources": {lid: r.as_dict() for lid, r in self.resources.items()},
            "functions": {lid: f.name for lid, f in self._functions.items()},
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def enable_request_log(level: int = logging.INFO) -> None:
    """Print the local stack's own lines (one per API request, schedule runs) to stderr.

    For `hashmatch serve`; the handlers' Powertools loggers are separate and print anyway.
    """
    stack_logger = logging.getLogger("local_stack")
    if not any(isinstance(h, _RequestLogHandler) for h in stack_logger.handlers):
        handler = _RequestLogHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s local-stack %(message)s", "%H:%M:%S"))
        stack_logger.addHandler(handler)
    stack_logger.setLevel(level)


class _RequestLogHandler(logging.StreamHandler):
    """Marks the handler enable_request_log added, so calling it twice adds one."""


def read_state(template_dir: Path) -> dict[str, Any]:
    """What a running local stack wrote about itself (for other CLI commands)."""
    path = template_dir / STATE_DIRECTORY / "state.json"
    if not path.is_file():
        raise LocalStackError(f"no local stack is running for {template_dir} (no {path})")
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return state


@functools.cache
def _boto3_session() -> Any:
    """One session for the stack's own clients: sessions cache the service models they load."""
    import boto3

    return boto3.session.Session()


class _CompositeGateway:
    """Several APIs on one port: the first whose routes match answers."""

    def __init__(self, gateways: list[ApiGateway]) -> None:
        self._gateways = gateways

    def handle(self, request: HttpRequest) -> HttpResponse:
        for gateway in self._gateways:
            if gateway.routes.match(request.method, request.path) is not None:
                return gateway.handle(request)
        return MISSING_AUTHENTICATION_TOKEN


__all__ = ["LocalStack", "LocalStackError", "enable_request_log", "read_state"]

"""The LocalStack facade: template.yaml running on this machine, in this one process.

Its lifecycle: start() loads the template, starts moto (:mod:`.moto_server`), creates the
stores, sets the process environment (:mod:`.environment`), loads the functions and serves the
API with the local control routes (:mod:`.control_api`), then starts pollers and schedule
timers and writes the state file (:mod:`.state_file`); stop() undoes it all in reverse.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from hashmatch.clock import CLOCK_OFFSET_VARIABLE
from hashmatch_devtools.localstack.api_gateway import ApiGateway, start_http_server
from hashmatch_devtools.localstack.control_api import LocalControlApi
from hashmatch_devtools.localstack.environment import (
    REMOVED_AWS_VARIABLES,
    SavedEnvironment,
    aws_variables_for_moto,
    merged_function_environment,
)
from hashmatch_devtools.localstack.errors import LocalStackError
from hashmatch_devtools.localstack.lambda_runtime import (
    LocalFunction,
    between_invocations,
    load_function,
)
from hashmatch_devtools.localstack.logs import logger
from hashmatch_devtools.localstack.moto_server import MotoServer
from hashmatch_devtools.localstack.persistence import MotoState
from hashmatch_devtools.localstack.pollers import SqsPoller
from hashmatch_devtools.localstack.resources import (
    ACCOUNT_ID,
    LOCAL_API_ID,
    ProvisionedStores,
    StackResource,
    load_local_template,
    provision_stores,
)
from hashmatch_devtools.localstack.schedules import (
    ScheduleTimer,
    UnsupportedSchedule,
    parse_schedule,
    scheduled_event,
)
from hashmatch_devtools.localstack.state_file import (
    STATE_DIRECTORY,
    STATE_FILE_NAME,
    write_state_file,
)
from hashmatch_devtools.localstack.template import RouteSpec, ScheduleEventSpec, TemplateModel

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
        persist: bool = False,
        fresh: bool = False,
    ) -> None:
        """``persist``: keep the stores' data in ``state_directory`` across restarts
        (:mod:`.persistence`); ``fresh``: discard what was kept before starting."""
        self.template_path = Path(template_path).resolve()
        self._state_directory = state_directory or self.template_path.parent / STATE_DIRECTORY
        self.region = region
        self.stack_name = stack_name
        self.run_schedules = run_schedules
        self.run_pollers = run_pollers
        self._host = host
        self._api_port = api_port
        self._moto_port = moto_port
        self._parameter_overrides = dict(parameter_overrides or {})
        self._model: TemplateModel | None = None
        self._parameters: dict[str, str] = {}
        self._moto: MotoServer | None = None
        self._aws_endpoint: str | None = None
        self._stores: ProvisionedStores | None = None
        self._functions: dict[str, LocalFunction] = {}
        self._gateways: list[ApiGateway] = []
        self._http_server: Any = None
        self._http_thread: threading.Thread | None = None
        self._pollers: list[SqsPoller] = []
        self._timers: list[ScheduleTimer] = []
        self._environment = SavedEnvironment()
        self._stop_requested = threading.Event()
        self._started = False
        self.saved_state = MotoState(self._state_directory, quiet=between_invocations)
        self.persist = persist
        self._fresh = fresh
        self.restored = False  # the stores came back from the saved state
        self._saving = False  # set once started: a stack that failed to start saves nothing

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
        template = load_local_template(
            self.template_path,
            region=self.region,
            stack_name=self.stack_name,
            parameter_overrides=self._parameter_overrides,
        )
        self._model = model = template.model
        self._parameters = template.parameters
        identities = template.identities
        moto = self._start_moto()
        if self.persist and self._fresh:
            self.saved_state.discard()
        self.restored = self.persist and self.saved_state.restore() is not None
        clients = {name: moto.client(name) for name in ("sqs", "dynamodb", "s3")}
        self._stores = stores = provision_stores(
            model,
            cloudformation=moto.client("cloudformation"),
            clients=clients,
            parameters=self._parameters,
            identities=identities,
            existing=self.restored,
        )
        # The clock override is set later by a control request: remember its value from before
        # the start, so stop() puts it back (otherwise a moved clock outlives the stack).
        self._environment.remember(CLOCK_OFFSET_VARIABLE)
        self._environment.set(merged_function_environment(model, stores.environments))
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
            self._gateways,
            LocalControlApi(self).handle,
            host=self._host,
            port=self._api_port,
        )
        if self.run_pollers:
            self._pollers = self._build_pollers(stores, clients["sqs"])
            for poller in self._pollers:
                poller.start()
        if self.run_schedules:
            self._timers = self._build_timers()
            for timer in self._timers:
                timer.start()
        for function in self._functions.values():
            for event in function.spec.unsupported_events:
                logger.warning(
                    "%s: event %s is not driven by the local stack", function.logical_id, event
                )
        write_state_file(self)
        if self.persist:
            self._saving = True
            self.saved_state.start_autosave()
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
        if self._saving:
            self.saved_state.stop_autosave()
            self.saved_state.save()  # everything above is stopped: nothing changes meanwhile
            self._saving = False
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self._environment.restore()
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
    def model(self) -> TemplateModel | None:
        """The template as loaded at start (None before)."""
        return self._model

    @property
    def parameters(self) -> Mapping[str, str]:
        return dict(self._parameters)

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
        return self._state_directory / STATE_FILE_NAME

    @property
    def gateways(self) -> tuple[ApiGateway, ...]:
        return tuple(self._gateways)

    @property
    def pollers(self) -> tuple[SqsPoller, ...]:
        return tuple(self._pollers)

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

    # ---- internals -------------------------------------------------------------------------

    def _start_moto(self) -> MotoServer:
        self._moto = moto = MotoServer(host=self._host, port=self._moto_port, region=self.region)
        self._aws_endpoint = moto.start()
        self._environment.set(aws_variables_for_moto(self._aws_endpoint, self.region))
        self._environment.remove(*REMOVED_AWS_VARIABLES)
        return moto

    def _build_pollers(self, stores: ProvisionedStores, sqs: Any) -> list[SqsPoller]:
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

    def _build_timers(self) -> list[ScheduleTimer]:
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

"""Read a SAM template into what the local stack runs: functions, routes, authorizers, queue
sources and schedules.

The template is parsed with SAM's own YAML loader, which turns ``!Ref``/``!GetAtt``/``!Sub`` into
their ``{"Ref": ...}`` dict forms. ``Globals`` are merged here the way SAM merges them (a
function's own value wins; environment variables merge key by key). Intrinsics that only need
parameters and pseudo parameters (a stage name, a function name) are resolved by
:class:`ParameterResolver`; anything that names a store is left to moto (see ``resources``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from hashmatch_devtools.localstack.errors import LocalStackError

FUNCTION_TYPE = "AWS::Serverless::Function"
API_TYPE = "AWS::Serverless::Api"
USAGE_PLAN_TYPE = "AWS::ApiGateway::UsagePlan"
# SAM's name for the API it creates when Api events give no RestApiId.
IMPLICIT_API_ID = "ServerlessRestApi"
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
# API Gateway's default authorizer cache TTL (SAM's ReauthorizeEvery default).
DEFAULT_AUTHORIZER_TTL_SECONDS = 300
NO_AUTHORIZER = "NONE"
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


@dataclass(frozen=True)
class RouteSpec:
    api_id: str
    path: str
    method: str  # upper case; "ANY" matches every method
    function_id: str
    authorizer: str | None  # an authorizer name of the API, or None when the route is open


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function_id: str
    payload_type: str  # "TOKEN" or "REQUEST"
    identity_headers: tuple[str, ...]
    ttl_seconds: int
    validation_expression: str | None = None


@dataclass(frozen=True)
class UsagePlanSpec:
    """A usage plan's throttle and quota, and which callers it meters.

    API Gateway meters an API key that an operator joined to the plan; the local stack has no
    API keys, so a plan says in its Metadata (``LocalStack: {AuthorizerContext: {name:
    [values]}}``) which authorizer answers it applies to (e.g. ``role: [provider]``)."""

    logical_id: str
    rate_limit: float
    burst_limit: int
    daily_quota: int | None
    applies_to: Mapping[str, frozenset[str]]

    def meters(self, context: Mapping[str, str]) -> bool:
        return bool(self.applies_to) and all(
            context.get(name) in values for name, values in self.applies_to.items()
        )


@dataclass(frozen=True)
class GatewayResponseSpec:
    """A customised gateway response (the Api's GatewayResponses): what API Gateway answers
    instead of its default for that response type (e.g. AUTHORIZER_FAILURE)."""

    status: int | None  # None: the default response's status
    headers: tuple[tuple[str, str], ...]
    body: str | None  # the application/json template, used as it is (no VTL locally)


@dataclass(frozen=True)
class ApiSpec:
    logical_id: str
    stage_name: str
    routes: tuple[RouteSpec, ...]
    authorizers: Mapping[str, AuthorizerSpec]
    binary_media_types: tuple[str, ...] = ()
    usage_plans: tuple[UsagePlanSpec, ...] = ()
    gateway_responses: Mapping[str, GatewayResponseSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class SqsEventSpec:
    function_id: str
    event_name: str
    queue: Any  # the template's Queue value, usually {"Fn::GetAtt": [Queue, "Arn"]}
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool

    @property
    def queue_logical_id(self) -> str | None:
        return referenced_logical_id(self.queue)


@dataclass(frozen=True)
class ScheduleEventSpec:
    function_id: str
    event_name: str
    expression: str
    enabled: bool
    input_json: str | None  # a fixed payload (the event's Input) instead of a Scheduled Event


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    code_uri: str
    timeout_seconds: int
    memory_mb: int
    function_name: Any  # the FunctionName property (maybe an intrinsic), or None
    environment: Mapping[str, Any]  # Globals merged with the function's own, unresolved
    api_events: tuple[RouteSpec, ...] = ()
    sqs_events: tuple[SqsEventSpec, ...] = ()
    schedule_events: tuple[ScheduleEventSpec, ...] = ()
    # Events of types the local stack does not drive (e.g. DynamoDB streams): "Name (Type)".
    unsupported_events: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplateModel:
    path: Path
    body: Mapping[str, Any]
    parameter_defaults: Mapping[str, str | None]
    functions: Mapping[str, FunctionSpec]
    apis: Mapping[str, ApiSpec]
    resource_types: Mapping[str, str] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return self.path.parent

    def parameter_values(self, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        """Every parameter's value: the override when given, else the template's Default."""
        return _parameter_values(self.parameter_defaults, overrides)

    @property
    def routes(self) -> tuple[RouteSpec, ...]:
        return tuple(route for api in self.apis.values() for route in api.routes)


def load_template(
    path: Path,
    *,
    parameter_overrides: Mapping[str, str] | None = None,
    pseudo_parameters: Mapping[str, str] | None = None,
) -> TemplateModel:
    """Read the template; numbers and names given as intrinsics over parameters are resolved."""
    body = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(body, dict) or not isinstance(body.get("Resources"), dict):
        raise LocalStackError(f"{path} is not a CloudFormation/SAM template (no Resources)")
    resources: dict[str, Any] = body["Resources"]
    globals_section: dict[str, Any] = body.get("Globals") or {}
    parameters = {
        name: (None if "Default" not in spec else _scalar_text(spec["Default"]))
        for name, spec in (body.get("Parameters") or {}).items()
    }
    values = _parameter_values(parameters, parameter_overrides)
    resolver = ParameterResolver(values, pseudo_parameters or {})
    function_globals = globals_section.get("Function") or {}
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == FUNCTION_TYPE:
            properties = _merge_globals(function_globals, resource.get("Properties") or {})
            functions[logical_id] = _read_function(logical_id, properties, resolver)
    api_globals = globals_section.get("Api") or {}
    apis = _read_apis(resources, api_globals, functions, resolver)
    return TemplateModel(
        path=path.resolve(),
        body=body,
        parameter_defaults=parameters,
        functions=functions,
        apis=apis,
        resource_types={lid: str(res.get("Type")) for lid, res in resources.items()},
    )


def _parameter_values(
    defaults: Mapping[str, str | None], overrides: Mapping[str, str] | None
) -> dict[str, str]:
    unknown = set(overrides or {}) - set(defaults)
    if unknown:
        raise LocalStackError(f"unknown template parameters: {', '.join(sorted(unknown))}")
    values: dict[str, str] = {}
    for name, default in defaults.items():
        value = (overrides or {}).get(name, default)
        if value is None:
            raise LocalStackError(
                f"template parameter {name} has no Default: pass it as a parameter override"
            )
        values[name] = value
    return values


def referenced_logical_id(value: Any) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` names, else None."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            if isinstance(target, str):
                return target.split(".", 1)[0]
            if isinstance(target, list) and target and isinstance(target[0], str):
                return target[0]
    return None


class ParameterResolver:
    """Resolves intrinsics that depend only on parameters and pseudo parameters.

    Enough for stage names, function names and timeouts; stores are resolved by moto.
    """

    def __init__(self, parameters: Mapping[str, str], pseudo: Mapping[str, str]) -> None:
        self._values = {**pseudo, **parameters}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._lookup(argument)
            if key == "Fn::Sub":
                return self._substitute(argument)
            if key == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(self.resolve(part)) for part in parts)
        return value

    def _lookup(self, name: str) -> str:
        if name not in self._values:
            raise LocalStackError(f"cannot resolve {{'Ref': {name!r}}} from parameters alone")
        return self._values[name]

    def _substitute(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        local = {name: str(self.resolve(value)) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            return local[name] if name in local else self._lookup(name)

        return _SUB_VARIABLE.sub(replace, text)


def _merge_globals(globals_properties: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**globals_properties, **own}
    global_variables = (globals_properties.get("Environment") or {}).get("Variables") or {}
    own_variables = (own.get("Environment") or {}).get("Variables") or {}
    if global_variables or own_variables:
        merged["Environment"] = {"Variables": {**global_variables, **own_variables}}
    return merged


def _read_function(
    logical_id: str, properties: Mapping[str, Any], resolver: ParameterResolver
) -> FunctionSpec:
    handler = properties.get("Handler")
    if not isinstance(handler, str) or "." not in handler:
        raise LocalStackError(f"{logical_id}: Handler must be 'module.path.function'")
    code_uri = properties.get("CodeUri", ".")
    if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
        raise LocalStackError(f"{logical_id}: the local stack needs a local CodeUri")
    api_events: list[RouteSpec] = []
    sqs_events: list[SqsEventSpec] = []
    schedule_events: list[ScheduleEventSpec] = []
    unsupported_events: list[str] = []
    for event_name, event in (properties.get("Events") or {}).items():
        event_type = event.get("Type")
        event_properties = event.get("Properties") or {}
        if event_type == "Api":
            api_events.append(_read_api_event(logical_id, event_properties))
        elif event_type == "SQS":
            sqs_events.append(_read_sqs_event(logical_id, event_name, event_properties, resolver))
        elif event_type in ("Schedule", "ScheduleV2"):
            schedule_events.append(_read_schedule_event(logical_id, event_name, event_properties))
        else:
            unsupported_events.append(f"{event_name} ({event_type})")
    return FunctionSpec(
        logical_id=logical_id,
        handler=handler,
        code_uri=code_uri,
        timeout_seconds=_integer(properties.get("Timeout", DEFAULT_TIMEOUT_SECONDS), resolver),
        memory_mb=_integer(properties.get("MemorySize", DEFAULT_MEMORY_MB), resolver),
        function_name=properties.get("FunctionName"),
        environment=dict((properties.get("Environment") or {}).get("Variables") or {}),
        api_events=tuple(api_events),
        sqs_events=tuple(sqs_events),
        schedule_events=tuple(schedule_events),
        unsupported_events=tuple(unsupported_events),
    )


def _read_api_event(function_id: str, properties: Mapping[str, Any]) -> RouteSpec:
    rest_api = properties.get("RestApiId")
    api_id = referenced_logical_id(rest_api) if rest_api is not None else IMPLICIT_API_ID
    if api_id is None:
        raise LocalStackError(f"{function_id}: RestApiId must be a Ref to an API in the template")
    auth = properties.get("Auth") or {}
    # "" marks "the API's default authorizer"; resolved once the API's Auth is read.
    authorizer = str(auth.get("Authorizer", ""))
    return RouteSpec(
        api_id=api_id,
        path=str(properties["Path"]),
        method=str(properties["Method"]).upper(),
        function_id=function_id,
        authorizer=authorizer,
    )


def _read_sqs_event(
    function_id: str, event_name: str, properties: Mapping[str, Any], resolver: ParameterResolver
) -> SqsEventSpec:
    return SqsEventSpec(
        function_id=function_id,
        event_name=event_name,
        queue=properties["Queue"],
        batch_size=_integer(properties.get("BatchSize", 10), resolver),
        report_batch_item_failures="ReportBatchItemFailures"
        in (properties.get("FunctionResponseTypes") or []),
        enabled=bool(properties.get("Enabled", True)),
    )


def _read_schedule_event(
    function_id: str, event_name: str, properties: Mapping[str, Any]
) -> ScheduleEventSpec:
    expression = properties.get("Schedule") or properties.get("ScheduleExpression")
    if not isinstance(expression, str):
        raise LocalStackError(f"{function_id}.{event_name}: Schedule must be a plain string")
    enabled = properties.get("Enabled", True) is not False and properties.get("State") not in (
        "DISABLED",
    )
    input_json = properties.get("Input")
    return ScheduleEventSpec(
        function_id=function_id,
        event_name=event_name,
        expression=expression,
        enabled=enabled,
        input_json=input_json if isinstance(input_json, str) else None,
    )


def _read_apis(
    resources: Mapping[str, Any],
    api_globals: Mapping[str, Any],
    functions: Mapping[str, FunctionSpec],
    resolver: ParameterResolver,
) -> dict[str, ApiSpec]:
    routes_by_api: dict[str, list[RouteSpec]] = {}
    for function in functions.values():
        for route in function.api_events:
            routes_by_api.setdefault(route.api_id, []).append(route)
    apis: dict[str, ApiSpec] = {}
    for api_id, routes in routes_by_api.items():
        declared = resources.get(api_id)
        if declared is None and api_id != IMPLICIT_API_ID:
            raise LocalStackError(f"Api events name {api_id}, which the template does not declare")
        if declared is not None and declared.get("Type") != API_TYPE:
            raise LocalStackError(f"{api_id} is a {declared.get('Type')}, not an {API_TYPE}")
        properties = {**api_globals, **((declared or {}).get("Properties") or {})}
        stage = properties.get("StageName", "Prod")
        stage_name = str(resolver.resolve(stage))
        auth = properties.get("Auth") or {}
        authorizers = {
            name: _read_authorizer(name, spec, resolver)
            for name, spec in (auth.get("Authorizers") or {}).items()
        }
        default_authorizer = auth.get("DefaultAuthorizer")
        resolved_routes = tuple(
            _with_authorizer(route, default_authorizer, authorizers) for route in routes
        )
        apis[api_id] = ApiSpec(
            logical_id=api_id,
            stage_name=stage_name,
            routes=resolved_routes,
            authorizers=authorizers,
            binary_media_types=tuple(
                str(t).replace("~1", "/") for t in properties.get("BinaryMediaTypes") or ()
            ),
            usage_plans=_read_usage_plans(resources, api_id, resolver),
            gateway_responses={
                str(kind): _read_gateway_response(spec, resolver)
                for kind, spec in (properties.get("GatewayResponses") or {}).items()
            },
        )
    return apis


def _read_usage_plans(
    resources: Mapping[str, Any], api_id: str, resolver: ParameterResolver
) -> tuple[UsagePlanSpec, ...]:
    plans = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != USAGE_PLAN_TYPE:
            continue
        properties = resource.get("Properties") or {}
        stages = properties.get("ApiStages") or []
        if not any(referenced_logical_id(stage.get("ApiId")) == api_id for stage in stages):
            continue
        throttle = properties.get("Throttle") or {}
        quota = properties.get("Quota") or {}
        local = ((resource.get("Metadata") or {}).get("LocalStack") or {}).get(
            "AuthorizerContext"
        ) or {}
        plans.append(
            UsagePlanSpec(
                logical_id=logical_id,
                rate_limit=float(resolver.resolve(throttle.get("RateLimit", 10_000))),
                burst_limit=_integer(throttle.get("BurstLimit", 5_000), resolver),
                daily_quota=_integer(quota["Limit"], resolver)
                if quota.get("Period") == "DAY" and "Limit" in quota
                else None,
                applies_to={
                    str(name): frozenset(str(value) for value in values)
                    for name, values in local.items()
                },
            )
        )
    return tuple(plans)


def _read_gateway_response(
    spec: Mapping[str, Any], resolver: ParameterResolver
) -> GatewayResponseSpec:
    headers = ((spec.get("ResponseParameters") or {}).get("Headers")) or {}
    templates = spec.get("ResponseTemplates") or {}
    status = spec.get("StatusCode")
    return GatewayResponseSpec(
        status=None if status is None else _integer(status, resolver),
        # Values are mapping expressions; a static value is quoted: 'value'.
        headers=tuple(
            (str(name), _scalar_text(resolver.resolve(value)).strip("'"))
            for name, value in headers.items()
        ),
        body=templates.get("application/json"),
    )


def _with_authorizer(
    route: RouteSpec, default: Any, authorizers: Mapping[str, AuthorizerSpec]
) -> RouteSpec:
    name = route.authorizer or (str(default) if default else NO_AUTHORIZER)
    if name == NO_AUTHORIZER:
        return RouteSpec(route.api_id, route.path, route.method, route.function_id, None)
    if name not in authorizers:
        raise LocalStackError(
            f"{route.method} {route.path}: authorizer {name} is not a Lambda authorizer of "
            f"{route.api_id} (the local stack emulates Lambda TOKEN/REQUEST authorizers only)"
        )
    return RouteSpec(route.api_id, route.path, route.method, route.function_id, name)


def _read_authorizer(
    name: str, spec: Mapping[str, Any], resolver: ParameterResolver
) -> AuthorizerSpec:
    function_id = referenced_logical_id(spec.get("FunctionArn"))
    if function_id is None:
        raise LocalStackError(f"authorizer {name}: FunctionArn must be !GetAtt <Function>.Arn")
    payload_type = str(spec.get("FunctionPayloadType", "TOKEN")).upper()
    identity = spec.get("Identity") or {}
    if payload_type == "TOKEN":
        headers: tuple[str, ...] = (str(identity.get("Header", "Authorization")),)
    else:
        headers = tuple(str(h) for h in identity.get("Headers") or ())
    return AuthorizerSpec(
        name=name,
        function_id=function_id,
        payload_type=payload_type,
        identity_headers=headers,
        ttl_seconds=_integer(
            identity.get("ReauthorizeEvery", DEFAULT_AUTHORIZER_TTL_SECONDS), resolver
        ),
        validation_expression=identity.get("ValidationExpression"),
    )


def _scalar_text(value: Any) -> str:
    """CloudFormation's string form of a YAML scalar (true -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _integer(value: Any, resolver: ParameterResolver) -> int:
    return int(_scalar_text(resolver.resolve(value)))

"""An API Gateway (REST API, Lambda proxy integration) emulator over the template's routes.

What it reproduces, because handlers and clients depend on it:
- route matching on resource paths (``/v1/reports/{id}``, greedy ``{proxy+}``; literal segments
  win over variables, an exact method over ANY); unknown paths and methods get 403
  ``{"message": "Missing Authentication Token"}``;
- Lambda TOKEN (and REQUEST) authorizers: missing identity -> 401 without calling the authorizer;
  an ``Exception("Unauthorized")`` -> 401; any other error or a malformed answer -> 500
  ``{"message": null}``, or the template's AUTHORIZER_CONFIGURATION_ERROR gateway response
  (status, static headers, the application/json template as it is); a policy that does not
  allow the method ARN (explicit Deny wins, ``*``/``?`` wildcards as IAM) -> 403; answers
  cached per identity for ReauthorizeEvery seconds, so a cached policy must cover every route
  the caller may use, as in API Gateway;
- REST proxy (v1) events and responses; the authorizer's ``context`` values reach the handler as
  strings (REST APIs stringify them) plus ``principalId``; a handler exception or malformed
  response -> 502 ``{"message": "Internal server error"}``;
- usage plans: each caller (its authorizer's ``usageIdentifierKey``) is throttled by the plan
  that meters it, a token bucket of the plan's rate and burst, and counted against its daily
  quota: 429 ``{"message": "Too Many Requests"}`` or ``{"message": "Limit Exceeded"}`` with
  ``Retry-After``. Which plan meters whom is the plan's ``LocalStack`` Metadata (no API keys
  here; see ``template.UsagePlanSpec``);
- the 10 MB payload limit: a larger body is refused with 413 before it is read.

Not emulated: API keys, request validators, CORS preflight mocks, the 29 s integration timeout,
IAM/Cognito authorizers (the template loader refuses those routes).

Paths under ``/_local/`` are reserved for the local stack's own controls (see ``control_api``).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from hashmatch_devtools.localstack.lambda_runtime import LocalFunction
from hashmatch_devtools.localstack.template import (
    ApiSpec,
    AuthorizerSpec,
    GatewayResponseSpec,
    RouteSpec,
    UsagePlanSpec,
)

logger = logging.getLogger("local_stack.api")

LOCAL_CONTROL_PREFIX = "/_local"
_TEXT_TYPES = re.compile(
    r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded|problem\+json|[\w.+-]+\+json)"
    r"|application/x-ndjson)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # percent-decoded path, no query
    query: Sequence[tuple[str, str]]
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str

    def header(self, name: str) -> str | None:
        found = [value for key, value in self.headers if key.lower() == name.lower()]
        return found[-1] if found else None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes

    def with_header(self, name: str, value: str) -> HttpResponse:
        return HttpResponse(self.status, [*self.headers, (name, value)], self.body)

    @classmethod
    def json(
        cls, status: int, payload: Any, extra_headers: Sequence[tuple[str, str]] = ()
    ) -> HttpResponse:
        return cls(
            status=status,
            headers=[("Content-Type", "application/json"), *extra_headers],
            # default=str: on-demand schedule results may hold datetimes or similar.
            body=json.dumps(payload, default=str).encode(),
        )


def gateway_error(status: int, payload: Any, error_type: str) -> HttpResponse:
    return HttpResponse.json(status, payload, [("x-amzn-ErrorType", error_type)])


MISSING_AUTHENTICATION_TOKEN = gateway_error(
    403, {"message": "Missing Authentication Token"}, "MissingAuthenticationTokenException"
)
UNAUTHORIZED = gateway_error(401, {"message": "Unauthorized"}, "UnauthorizedException")
ACCESS_DENIED = gateway_error(
    403, {"Message": "User is not authorized to access this resource"}, "AccessDeniedException"
)
AUTHORIZER_FAILURE = gateway_error(500, {"message": None}, "AuthorizerConfigurationException")
INTERNAL_SERVER_ERROR = gateway_error(
    502, {"message": "Internal server error"}, "InternalServerErrorException"
)
# API Gateway's payload limit for REST APIs.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
REQUEST_TOO_LONG = gateway_error(413, {"message": "Request Too Long"}, "RequestTooLarge")
SECONDS_PER_DAY = 86_400


def _throttled(retry_after: float, message: str, error_type: str) -> HttpResponse:
    return gateway_error(429, {"message": message}, error_type).with_header(
        "Retry-After", str(max(1, math.ceil(retry_after)))
    )


class UsageMeter:
    """Usage plans for one API: a token bucket (rate, burst) and a daily count per caller."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # tokens, at
        self._days: dict[tuple[str, str], tuple[int, int]] = {}  # day, count

    def admit(self, plan: UsagePlanSpec, caller: str) -> HttpResponse | None:
        """None if the request may go on, else API Gateway's 429."""
        now = self._clock()
        key = (plan.logical_id, caller)
        with self._lock:
            tokens, at = self._buckets.get(key, (float(plan.burst_limit), now))
            tokens = min(float(plan.burst_limit), tokens + (now - at) * plan.rate_limit)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return _throttled(
                    (1 - tokens) / plan.rate_limit, "Too Many Requests", "TooManyRequestsException"
                )
            day = int(now // SECONDS_PER_DAY)
            counted_day, count = self._days.get(key, (day, 0))
            count = count if counted_day == day else 0
            if plan.daily_quota is not None and count >= plan.daily_quota:
                return _throttled(
                    (day + 1) * SECONDS_PER_DAY - now, "Limit Exceeded", "LimitExceededException"
                )
            self._buckets[key] = (tokens - 1, now)
            self._days[key] = (day, count + 1)
        return None


def _customised(default: HttpResponse, spec: GatewayResponseSpec | None) -> HttpResponse:
    if spec is None:
        return default
    headers = dict(default.headers)
    headers.update(spec.headers)
    return HttpResponse(
        status=spec.status or default.status,
        headers=list(headers.items()),
        body=default.body if spec.body is None else spec.body.encode(),
    )


class _CompiledRoute:
    def __init__(self, spec: RouteSpec) -> None:
        self.spec = spec
        segments = [s for s in spec.path.strip("/").split("/") if s]
        pattern = ""
        ranks: list[int] = []
        self.variables: list[str] = []
        for segment in segments:
            greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
            variable = re.fullmatch(r"\{(\w+)\}", segment)
            if greedy:
                pattern += rf"/(?P<{greedy.group(1)}>.+)"
                self.variables.append(greedy.group(1))
                ranks.append(2)
            elif variable:
                pattern += rf"/(?P<{variable.group(1)}>[^/]+)"
                self.variables.append(variable.group(1))
                ranks.append(1)
            else:
                pattern += "/" + re.escape(segment)
                ranks.append(0)
        self.regex = re.compile((pattern or "/") + "/?" if pattern else "/")
        # Lower sorts first: literal segments beat variables beat greedy, segment by segment.
        self.specificity = (tuple(ranks), 1 if spec.method == "ANY" else 0)

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        return None if found is None else {k: v for k, v in found.groupdict().items()}


class RouteTable:
    def __init__(self, routes: Sequence[RouteSpec]) -> None:
        seen: set[tuple[str, str]] = set()
        for route in routes:
            key = (route.path, route.method)
            if key in seen:
                raise ValueError(f"two functions serve {route.method} {route.path}")
            if route.path.startswith(LOCAL_CONTROL_PREFIX):
                raise ValueError(f"{route.path}: {LOCAL_CONTROL_PREFIX} is reserved locally")
            seen.add(key)
        self._routes = sorted((_CompiledRoute(r) for r in routes), key=lambda r: r.specificity)

    def match(self, method: str, path: str) -> tuple[RouteSpec, dict[str, str]] | None:
        for route in self._routes:
            if route.spec.method not in (method.upper(), "ANY"):
                continue
            parameters = route.match(path)
            if parameters is not None:
                return route.spec, parameters
        return None


def policy_allows(policy: Any, method_arn: str) -> bool:
    """IAM evaluation of an authorizer's policy for execute-api:Invoke on one method ARN."""
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise ValueError("policyDocument has no Statement")
    allowed = False
    for statement in statements:
        actions = _as_list(statement.get("Action"))
        if not any(_wildcard_match(a, "execute-api:Invoke", ignore_case=True) for a in actions):
            continue
        if not any(_wildcard_match(r, method_arn) for r in _as_list(statement.get("Resource"))):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def _wildcard_match(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if ignore_case else 0) is not None


class _AuthorizerFailure(Exception):
    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass(frozen=True)
class _CachedAnswer:
    principal_id: str
    policy: Any
    context: Mapping[str, str]
    expires_at: float
    usage_key: str


class ApiGateway:
    """Turns HTTP requests into proxy events for the template's functions (no sockets here)."""

    def __init__(
        self,
        api: ApiSpec,
        functions: Mapping[str, LocalFunction],
        *,
        region: str,
        account_id: str,
        api_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.usage = UsageMeter(clock)
        self.routes = RouteTable(api.routes)
        self._functions = functions
        self._region = region
        self._account_id = account_id
        self.api_id = api_id
        self._cache: dict[tuple[str, tuple[str, ...]], _CachedAnswer] = {}
        self._cache_lock = threading.Lock()
        # A Lambda authorizer that fails answers API Gateway's AUTHORIZER_CONFIGURATION_ERROR
        # response (500), unless the template customises it (GatewayResponses).
        self._authorizer_failure = _customised(
            AUTHORIZER_FAILURE, api.gateway_responses.get("AUTHORIZER_CONFIGURATION_ERROR")
        )

    def handle(self, request: HttpRequest) -> HttpResponse:
        matched = self.routes.match(request.method, request.path)
        if matched is None:
            return MISSING_AUTHENTICATION_TOKEN
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return REQUEST_TOO_LONG
        route, path_parameters = matched
        request_id = str(uuid.uuid4())
        event = self._proxy_event(request, route, path_parameters, request_id)
        if route.authorizer is not None:
            spec = self.api.authorizers[route.authorizer]
            try:
                answer = self._authorize(spec, request, event)
            except _AuthorizerFailure as failure:
                return failure.response
            refused = self._meter(answer)
            if refused is not None:
                return refused
            event["requestContext"]["authorizer"] = {
                **answer.context,
                "principalId": answer.principal_id,
            }
        try:
            result = self._functions[route.function_id].invoke(event)
            return _proxy_response(result, request_id)
        except Exception:
            logger.exception("%s failed on %s %s", route.function_id, request.method, request.path)
            return INTERNAL_SERVER_ERROR

    def method_arn(self, method: str, path: str) -> str:
        return (
            f"arn:aws:execute-api:{self._region}:{self._account_id}:{self.api_id}/"
            f"{self.api.stage_name}/{method.upper()}/{path.lstrip('/')}"
        )

    def clear_authorizer_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def _meter(self, answer: _CachedAnswer) -> HttpResponse | None:
        plan = next((p for p in self.api.usage_plans if p.meters(answer.context)), None)
        return None if plan is None else self.usage.admit(plan, answer.usage_key)

    def _authorize(
        self, spec: AuthorizerSpec, request: HttpRequest, event: Mapping[str, Any]
    ) -> _CachedAnswer:
        identity = tuple(request.header(h) or "" for h in spec.identity_headers)
        if not all(identity):
            raise _AuthorizerFailure(UNAUTHORIZED)
        if spec.validation_expression and not re.fullmatch(spec.validation_expression, identity[0]):
            raise _AuthorizerFailure(UNAUTHORIZED)
        method_arn = self.method_arn(request.method, request.path)
        cache_key = (spec.name, identity)
        now = time.monotonic()
        with self._cache_lock:
            answer = self._cache.get(cache_key)
        if answer is None or answer.expires_at <= now:
            answer = self._call_authorizer(spec, identity, method_arn, event, now)
            if spec.ttl_seconds > 0:
                with self._cache_lock:
                    self._cache[cache_key] = answer
        try:
            allowed = policy_allows(answer.policy, method_arn)
        except ValueError:
            logger.exception("authorizer %s returned a malformed policy", spec.name)
            raise _AuthorizerFailure(self._authorizer_failure) from None
        if not allowed:
            raise _AuthorizerFailure(ACCESS_DENIED)
        return answer

    def _call_authorizer(
        self,
        spec: AuthorizerSpec,
        identity: tuple[str, ...],
        method_arn: str,
        event: Mapping[str, Any],
        now: float,
    ) -> _CachedAnswer:
        if spec.payload_type == "TOKEN":
            authorizer_event: dict[str, Any] = {
                "type": "TOKEN",
                "authorizationToken": identity[0],
                "methodArn": method_arn,
            }
        else:
            authorizer_event = {
                "type": "REQUEST",
                "methodArn": method_arn,
                **{k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")},
            }
        try:
            answer = self._functions[spec.function_id].invoke(authorizer_event)
        except Exception as error:
            if str(error) == "Unauthorized":
                raise _AuthorizerFailure(UNAUTHORIZED) from None
            logger.exception("authorizer %s failed", spec.name)
            raise _AuthorizerFailure(self._authorizer_failure) from None
        if (
            not isinstance(answer, dict)
            or not isinstance(answer.get("principalId"), str)
            or not isinstance(answer.get("policyDocument"), dict)
        ):
            logger.error("authorizer %s returned a malformed answer: %r", spec.name, answer)
            raise _AuthorizerFailure(self._authorizer_failure)
        context = answer.get("context") or {}
        if not isinstance(context, dict) or any(
            isinstance(v, dict | list) for v in context.values()
        ):
            logger.error(
                "authorizer %s: context values must be strings, numbers or booleans", spec.name
            )
            raise _AuthorizerFailure(self._authorizer_failure)
        return _CachedAnswer(
            principal_id=answer["principalId"],
            policy=answer["policyDocument"],
            context={k: _context_text(v) for k, v in context.items()},
            expires_at=now + spec.ttl_seconds,
            usage_key=str(answer.get("usageIdentifierKey") or answer["principalId"]),
        )

    def _proxy_event(
        self,
        request: HttpRequest,
        route: RouteSpec,
        path_parameters: Mapping[str, str],
        request_id: str,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for name, value in request.query:
            query[name] = value
            multi_query.setdefault(name, []).append(value)
        body, is_base64 = self._event_body(request)
        now = datetime.now(UTC)
        user_agent = request.header("User-Agent")
        return {
            "resource": route.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": dict(path_parameters) or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": self._account_id,
                "apiId": self.api_id,
                "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, route.path).hex[:6],
                "resourcePath": route.path,
                "httpMethod": request.method,
                "extendedRequestId": request_id,
                "requestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                # The stage is not in the local URL (as with a custom domain mapped to the
                # stage): the path a handler builds a Location from must be followable here.
                "path": request.path,
                "protocol": "HTTP/1.1",
                "stage": self.api.stage_name,
                "domainPrefix": "127",
                "domainName": request.header("Host") or "127.0.0.1",
                "identity": {
                    "accessKey": None,
                    "accountId": None,
                    "apiKey": None,
                    "apiKeyId": None,
                    "caller": None,
                    "cognitoAuthenticationProvider": None,
                    "cognitoAuthenticationType": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "principalOrgId": None,
                    "sourceIp": request.source_ip,
                    "user": None,
                    "userAgent": user_agent,
                    "userArn": None,
                },
            },
            "body": body,
            "isBase64Encoded": is_base64,
        }

    def _event_body(self, request: HttpRequest) -> tuple[str | None, bool]:
        if not request.body:
            return None, False
        content_type = (request.header("Content-Type") or "").split(";")[0].strip()
        binary = any(
            _wildcard_match(t, content_type, ignore_case=True) for t in self.api.binary_media_types
        )
        if not binary and (not content_type or _TEXT_TYPES.match(content_type)):
            try:
                return request.body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(request.body).decode("ascii"), True


def _context_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _proxy_response(result: Any, request_id: str) -> HttpResponse:
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        raise ValueError(f"malformed Lambda proxy response: {result!r:.200}")
    headers: list[tuple[str, str]] = [
        (str(k), str(v)) for k, v in (result.get("headers") or {}).items()
    ]
    single_names = {k.lower() for k, _ in headers}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if str(name).lower() in single_names:
            # API Gateway merges both maps; the single-value map wins for a name in both.
            continue
        headers.extend((str(name), str(v)) for v in values)
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", request_id))
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise ValueError("a Lambda proxy response body must be a string")
    if body is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        payload = base64.b64decode(body)
    else:
        payload = str(body).encode("utf-8")
    return HttpResponse(status=result["statusCode"], headers=headers, body=payload)


class CompositeGateway:
    """Several APIs on one port: the first whose routes match answers."""

    def __init__(self, gateways: Sequence[ApiGateway]) -> None:
        self._gateways = tuple(gateways)

    def handle(self, request: HttpRequest) -> HttpResponse:
        for gateway in self._gateways:
            if gateway.routes.match(request.method, request.path) is not None:
                return gateway.handle(request)
        return MISSING_AUTHENTICATION_TOKEN


LocalControl = Callable[[HttpRequest], HttpResponse]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ApiHttpServer

    def _dispatch(self) -> None:
        started = time.perf_counter()
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            # Refused unread, as API Gateway does; the unread body ends the connection.
            self.close_connection = True
            self._send(REQUEST_TOO_LONG)
            return
        request = HttpRequest(
            method=self.command,
            path=unquote(split.path) or "/",
            query=parse_qsl(split.query, keep_blank_values=True),
            headers=list(self.headers.items()),
            body=self.rfile.read(length) if length else b"",
            source_ip=self.client_address[0],
        )
        try:
            if request.path == LOCAL_CONTROL_PREFIX or request.path.startswith(
                LOCAL_CONTROL_PREFIX + "/"
            ):
                response = self.server.local_control(request)
            else:
                response = self.server.gateway.handle(request)
        except Exception:
            # A fault of the emulator itself: answer rather than drop the connection.
            logger.exception("local stack failed on %s %s", request.method, request.path)
            response = HttpResponse.json(500, {"message": "local stack error (see its log)"})
        self._send(response)
        logger.info(
            "%s %s -> %d (%.0f ms)",
            request.method,
            request.path,
            response.status,
            (time.perf_counter() - started) * 1000,
        )

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    # BaseHTTPRequestHandler dispatches on these names; every method goes to the gateway.
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch  # noqa: N815

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, made-up ones) also goes to the gateway, which answers
        # a method no route has with 403 as API Gateway does, rather than http.server's 501.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: requests are logged once, with their status, by _dispatch."""


class _ApiHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    gateway: CompositeGateway
    local_control: LocalControl


def start_http_server(
    gateways: Sequence[ApiGateway], local_control: LocalControl, *, host: str, port: int
) -> tuple[_ApiHttpServer, threading.Thread]:
    server = _ApiHttpServer((host, port), _RequestHandler)
    server.gateway = CompositeGateway(gateways)
    server.local_control = local_control
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="local-api", daemon=True
    )
    thread.start()
    return server, thread

"""The REST resolver every API function uses: the body gate, validation, problem+json errors,
role checks and the headers every authenticated answer carries.

The body gate runs before Powertools sees the request: a body must come in a media type the
route takes (JSON unless the route says otherwise), in UTF-8, and a JSON body must be one object
of bounded depth whose numbers Python can hold. Anything else is refused here with problem+json
(415 or 422), so no input reaches a code path that could fail with a 5xx (a RecursionError in a
nested body, Python's 4,300-digit limit on integers) or be silently cut to its first element.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from hashmatch import json_text
from hashmatch.access.model import Principal
from hashmatch.access.routes import PUBLIC, roles_for
from hashmatch.api.problems import error_response, problem_response
from hashmatch.errors import Forbidden, HashmatchError, NotFound
from hashmatch.observability import logger

PRINCIPAL_KEY = "principal"
JSON_MEDIA_TYPE = "application/json"
# Never cached by a browser or a proxy: every authenticated answer is about one client.
NO_STORE = "no-store"


class BodyRefused(Exception):
    """A request body the gate refuses; carries the problem answer."""

    def __init__(self, response: Response[str]) -> None:
        super().__init__(response.status_code)
        self.response = response


class HashmatchResolver(APIGatewayRestResolver):
    """Powertools' REST resolver with the body gate in front and ``no-store`` behind."""

    def __init__(self) -> None:
        super().__init__(enable_validation=True)
        self._body_media_types: dict[tuple[str, str], frozenset[str]] = {}
        self.raw_bodies: dict[tuple[str, str], Mapping[str, Mapping[str, Any]]] = {}

    def accept_media_types(
        self, method: str, resource: str, media_types: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Let a route take bodies of these media types (each with the JSON Schema of its text,
        for the OpenAPI document) instead of JSON; its handler reads the raw body."""
        self._body_media_types[(method.upper(), resource)] = frozenset(media_types)
        self.raw_bodies[(method.upper(), resource)] = dict(media_types)

    def _resolve(self) -> ResponseBuilder[Any]:
        event = self.current_event
        try:
            self._admit_body(event.http_method.upper(), event.resource)
        except BodyRefused as refused:
            builder: ResponseBuilder[Any] = ResponseBuilder(
                response=refused.response, serializer=self._serializer
            )
        else:
            builder = super()._resolve()
        if roles_for(event.http_method, event.resource) != PUBLIC:
            builder.response.headers["Cache-Control"] = NO_STORE
        return builder

    def _admit_body(self, method: str, resource: str) -> None:
        event = self.current_event
        raw = event.body
        if not raw:
            return
        media_type, charset = _content_type(event.headers or {})
        accepted = self._body_media_types.get((method, resource), frozenset({JSON_MEDIA_TYPE}))
        if not media_type or media_type not in accepted:
            raise BodyRefused(_unsupported(media_type, accepted))
        if charset not in (None, "utf-8", "utf8"):
            raise BodyRefused(
                _unsupported(f"{media_type} in charset {charset}", accepted, utf8_only=True)
            )
        try:
            text = base64.b64decode(raw, validate=True).decode() if event.is_base64_encoded else raw
        except (binascii.Error, UnicodeDecodeError) as error:
            raise BodyRefused(_invalid_body("the body is not valid UTF-8")) from error
        # Decoded once, here; Powertools and the handler read these cached values.
        event.__dict__["decoded_body"] = text
        if media_type == JSON_MEDIA_TYPE:
            event.__dict__["json_body"] = _json_object(text)


def _content_type(headers: Mapping[str, str]) -> tuple[str, str | None]:
    value = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    media_type, *parameters = (part.strip() for part in value.split(";"))
    charset = None
    for parameter in parameters:
        name, _, given = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = given.strip().strip('"').lower()
    return media_type.lower(), charset


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json_text.parse(text)
    except json_text.UnacceptableJson as error:
        raise BodyRefused(_invalid_body(f"the body is {error}")) from error
    if not isinstance(value, dict):
        kind = "an array" if isinstance(value, list) else "a single value"
        raise BodyRefused(_invalid_body(f"the body must be one JSON object, not {kind}"))
    return value


def _invalid_body(detail: str) -> Response[str]:
    return problem_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        code="invalid-request",
        title="Invalid request",
        detail=detail,
        errors=[{"loc": ["body"], "msg": detail.removeprefix("the body ")}],
    )


def _unsupported(
    media_type: str, accepted: frozenset[str], *, utf8_only: bool = False
) -> Response[str]:
    wanted = " or ".join(sorted(accepted)) + (" in UTF-8" if utf8_only else "")
    sent = media_type or "a body without Content-Type"
    return problem_response(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        code="unsupported-media-type",
        title="Unsupported media type",
        detail=f"{sent} is not accepted here; send {wanted}",
        errors=[{"loc": ["header", "Content-Type"], "msg": f"expected {wanted}"}],
    )


def build_resolver() -> HashmatchResolver:
    """A resolver with the body gate, request validation, the role check and the error mapping."""
    app = HashmatchResolver()
    app.use(middlewares=[_admit_route_roles])

    @app.exception_handler(HashmatchError)
    def _domain_error(error: HashmatchError) -> Response[str]:
        logger.info("request refused", extra={"problem": error.code})
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[str]:
        items = [_validation_item(item) for item in error.errors()]
        # Where and what kind only: a message may quote the input (a content reference).
        logger.info(
            "request refused",
            extra={"problem": "invalid-request", "faults": _fault_kinds(error.errors())},
        )
        return problem_response(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            code="invalid-request",
            title="Invalid request",
            detail=f"the request does not match the schema ({len(items)} problem(s))",
            errors=items,
        )

    @app.not_found
    def _no_such_route(error: Exception) -> Response[str]:
        # API Gateway routed the request here, but a path parameter holds characters the
        # resolver's route pattern does not take: for the caller, that thing does not exist.
        return problem_response(
            HTTPStatus.NOT_FOUND,
            code=NotFound.code,
            title=NotFound.title,
            detail="no such resource",
        )

    return app


def current_principal(app: APIGatewayRestResolver) -> Principal:
    principal = app.context.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise Forbidden("this route needs an authenticated client")
    return principal


def _admit_route_roles(
    app: APIGatewayRestResolver, next_middleware: NextMiddleware
) -> Response[Any]:
    """Refuse a caller whose role the route does not admit (the authorizer already should have)."""
    event = app.current_event
    roles = roles_for(event.http_method, event.resource)
    if roles is None:
        raise Forbidden("this route admits no caller")
    if roles != PUBLIC:
        context = (event.get("requestContext") or {}).get("authorizer") or {}
        if "client_id" not in context:
            raise Forbidden("this route needs an authenticated client")
        principal = Principal.from_context(context)
        if principal.role not in roles:
            raise Forbidden(f"role {principal.role.value} may not call this route")
        app.append_context(**{PRINCIPAL_KEY: principal})
        logger.append_keys(client_id=principal.client_id, role=principal.role.value)
    return next_middleware(app)


def _fault_kinds(errors: Sequence[Any]) -> list[str]:
    """``body.content_ref: string_too_long`` per fault: locations and error types, no values."""
    kinds = []
    for item in errors:
        location = ".".join(str(part) for part in item.get("loc", ()) if isinstance(part, int))
        names = [part for part in item.get("loc", ()) if isinstance(part, str)]
        if item.get("type") == "extra_forbidden" and names:
            names[-1] = "<an unknown field>"  # its name is the caller's input
        where = ".".join(names) + (f"[{location}]" if location else "")
        kinds.append(f"{where}: {item.get('type', 'invalid')}")
    return kinds


def _validation_item(item: dict[str, Any]) -> dict[str, Any]:
    location = [part for part in item.get("loc", ()) if isinstance(part, str | int)]
    return {"loc": location, "msg": str(item.get("msg") or item.get("type") or "invalid")}

"""The REST resolver every API function uses: validation, problem+json errors, role checks."""

from __future__ import annotations

import binascii
import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from hashmatch.access.model import Principal
from hashmatch.access.routes import PUBLIC, roles_for
from hashmatch.api.problems import error_response, problem_response
from hashmatch.errors import Forbidden, HashmatchError, NotFound
from hashmatch.observability import logger

PRINCIPAL_KEY = "principal"
FORM_MEDIA_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def build_resolver() -> APIGatewayRestResolver:
    """A resolver with request validation, the role check and the error mapping installed."""
    app = APIGatewayRestResolver(enable_validation=True)
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

    @app.exception_handler([UnicodeDecodeError, json.JSONDecodeError, binascii.Error])
    def _undecodable_body(error: ValueError) -> Response[str]:
        # Raised while Powertools decodes the body (base64, UTF-8, JSON) before any route runs.
        return problem_response(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            code="invalid-request",
            title="Invalid request",
            detail="the body is not valid UTF-8 JSON",
            errors=[{"loc": ["body"], "msg": type(error).__name__}],
        )

    @app.exception_handler(ValueError)
    def _unparseable_form(error: ValueError) -> Response[str]:
        # Powertools' request validation parses form bodies before any middleware runs and
        # raises ValueError on a malformed one (multipart without a boundary). No route takes
        # forms: refuse them; any other ValueError is a fault of ours and propagates.
        media_type = _media_type(app.current_event.headers or {})
        if media_type not in FORM_MEDIA_TYPES:
            raise error
        return problem_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            code="unsupported-media-type",
            title="Unsupported media type",
            detail=f"{media_type} is not accepted; send the documented media type",
        )

    return app


def _media_type(headers: dict[str, str]) -> str:
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return content_type.split(";", 1)[0].strip().lower()


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

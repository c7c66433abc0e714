"""The REST resolver every API function uses: validation, problem+json errors, role checks."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from hashmatch.access.model import Principal
from hashmatch.access.routes import PUBLIC, roles_for
from hashmatch.api.problems import error_response, problem_response
from hashmatch.errors import Forbidden, HashmatchError
from hashmatch.observability import logger

PRINCIPAL_KEY = "principal"


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
        return problem_response(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            code="invalid-request",
            title="Invalid request",
            detail=f"the request does not match the schema ({len(items)} problem(s))",
            errors=items,
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


def _validation_item(item: dict[str, Any]) -> dict[str, Any]:
    location = [part for part in item.get("loc", ()) if isinstance(part, str | int)]
    return {"loc": location, "msg": str(item.get("msg") or item.get("type") or "invalid")}

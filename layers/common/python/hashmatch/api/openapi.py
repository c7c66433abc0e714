"""One OpenAPI 3.1 document for the whole API, merged from every function's resolver.

Powertools generates each resolver's paths and schemas from the code; this adds what it cannot
know: the roles and bearer security of each route (from ROUTE_ROLES), and the error responses
as they really are — RFC 9457 problem+json from our handlers, `{"message": ...}` from API
Gateway for authentication failures.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

from hashmatch import __version__
from hashmatch.access.routes import PUBLIC, roles_for
from hashmatch.api.problems import PROBLEM_CONTENT_TYPE, Problem
from hashmatch.api.resolver import HashmatchResolver

TITLE = "hashmatch"
DESCRIPTION = (
    "Hash-only matching against the EU Centre's indicator databases. Every route but the open "
    "ones needs `Authorization: Bearer <api key>`; each route admits the roles listed in "
    "`x-hashmatch-roles`. Errors are RFC 9457 problem+json (`urn:hashmatch:problem:<code>`), "
    'except authentication failures, which API Gateway answers with `{"message": ...}`.'
)
_POWERTOOLS_VALIDATION_SCHEMAS = (
    "HTTPValidationError",
    "ValidationError",
    "ResponseValidationError",
)


class GatewayMessage(BaseModel):
    """API Gateway's own answer to a refused or unknown request."""

    message: str | None = Field(default=None)
    Message: str | None = Field(default=None)


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _gateway(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/GatewayMessage"}},
            PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}},
        },
    }


def json_response(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    """A ``responses`` entry of a route decorator: a JSON answer of ``model``."""
    return {"description": description, "content": {"application/json": {"model": model}}}


def problem_response(description: str) -> OpenAPIResponse:
    """A ``responses`` entry of a route decorator: a problem+json answer and when it comes."""
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"model": Problem}}}


def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")


def build_openapi(resolvers: Iterable[HashmatchResolver]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for resolver in resolvers:
        generated = resolver.get_openapi_schema(title=TITLE, version=__version__)
        document = json.loads(generated.model_dump_json(by_alias=True, exclude_none=True))
        for path, operations in document.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(document.get("components", {}).get("schemas", {}))
        # Routes that read their raw body (not JSON): Powertools cannot describe it.
        for (method, resource), media_types in resolver.raw_bodies.items():
            operation = paths[resource][method.lower()]
            operation["requestBody"] = {
                "required": True,
                "content": {
                    media_type: {"schema": dict(schema)}
                    for media_type, schema in sorted(media_types.items())
                },
            }
    for name in _POWERTOOLS_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = _schema_of(Problem)
    schemas.update(schemas["Problem"].pop("$defs", {}))
    schemas["GatewayMessage"] = _schema_of(GatewayMessage)

    for path, operations in paths.items():
        for method, operation in operations.items():
            _document_operation(path, method, operation)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": __version__, "description": DESCRIPTION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "API key"}
            },
        },
    }


def _document_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    roles = roles_for(method, path)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses["422"] = _problem("Invalid input: each fault named in `errors`")
    responses["503"] = _problem("A dependency failed; retry after `Retry-After` seconds")
    if "requestBody" in operation:
        responses["415"] = _problem(
            "The body is not in a documented media type, has no Content-Type, or is not UTF-8"
        )
        responses["413"] = _gateway("The body is over API Gateway's 10 MB limit")
    if "{" in path:
        responses["404"] = _problem("Not found, or not visible to this client")
    if roles == PUBLIC:
        operation["security"] = []
        operation["x-hashmatch-roles"] = []
    else:
        operation["security"] = [{"bearerAuth": []}]
        operation["x-hashmatch-roles"] = sorted(role.value for role in roles or ())
        responses["401"] = _gateway("No API key, or an unknown one")
        responses["403"] = _gateway(
            "Expired or revoked client, or a role this route does not admit"
        )
        responses["429"] = {
            **_gateway("Over the client's usage plan (rate, burst or daily quota)"),
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before retrying",
                    "schema": {"type": "integer"},
                }
            },
        }
    operation["responses"] = dict(sorted(responses.items()))

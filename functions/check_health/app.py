"""GET /v1/health, GET /v1/openapi.json (public) and GET /v1/whoami (any client).

No `from __future__ import annotations` in route modules: Powertools reads the route
functions' annotations at runtime to validate and document responses.
"""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from hashmatch import __version__
from hashmatch.access.model import Principal
from hashmatch.api.resolver import build_resolver, current_principal
from hashmatch.observability import logger, traced, traced_handler
from hashmatch.settings import LoggingSettings, load_settings

app = build_resolver()


class Health(BaseModel):
    status: str
    service: str
    version: str
    stage: str


@app.get("/v1/health")
@traced
def get_health() -> Health:
    stage = load_settings(LoggingSettings).stage
    logger.info("health checked", extra={"version": __version__})
    return Health(status="ok", service="hashmatch", version=__version__, stage=stage)


@app.get("/v1/openapi.json")
def get_openapi() -> dict[str, Any]:
    # Imported here: building the document imports every function module once.
    from functions.check_health.openapi_document import openapi_document

    return openapi_document()


@app.get("/v1/whoami")
def get_whoami() -> Principal:
    return current_principal(app)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

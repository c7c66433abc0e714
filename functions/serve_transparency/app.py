"""GET /v1/transparency/{year} and GET /v1/transparency/{year}/report.html (public, no key):
the published transparency report of a year, as published (JSON, or the self-contained page).
A year not published (yet) is 404."""

# No `from __future__ import annotations`: Powertools reads the route's annotations at runtime.
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.api.resolver import build_resolver
from hashmatch.observability import logger, traced, traced_handler
from hashmatch.transparency.model import TransparencyReport
from hashmatch.transparency.publication import CONTENT_TYPES, published_file
from hashmatch.transparency.rendering import HTML_NAME, JSON_NAME

app = build_resolver()
# Published files never change (Object Lock): caches may keep them; a 404 is not cached long.
CACHE_PUBLISHED = "public, max-age=86400, immutable"
Year = Annotated[int, Path(ge=2000, le=9999, description="The year (YYYY)")]


@app.get(
    "/v1/transparency/<year>",
    summary="A year's published transparency report (JSON, schema hashmatch-transparency/1)",
    responses={
        200: {
            "description": "The report as published",
            "content": {"application/json": {"model": TransparencyReport}},
        }
    },
)
@traced
def read_transparency_report(year: Year) -> Response[Any]:
    return _published(year, JSON_NAME)


@app.get(
    "/v1/transparency/<year>/report.html",
    summary="A year's published transparency report as one self-contained HTML page",
    responses={
        200: {
            "description": "The page as published (no scripts, fonts or images)",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    },
)
@traced
def read_transparency_page(year: Year) -> Response[Any]:
    return _published(year, HTML_NAME)


def _published(year: int, name: str) -> Response[Any]:
    body = published_file(bootstrap.published_reports(), year, name)
    return Response(
        status_code=200,
        content_type=CONTENT_TYPES[name],
        body=body.decode(),
        headers={"Cache-Control": CACHE_PUBLISHED},
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@traced_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

"""One API, described three times and kept equal: template routes, ROUTE_ROLES and OpenAPI."""

from __future__ import annotations

import json
from pathlib import Path

from openapi_spec_validator import validate
from samtranslator.yaml_helper import yaml_parse

from functions.check_health.openapi_document import openapi_document, render
from hashmatch.access.routes import PUBLIC, ROUTE_ROLES
from hashmatch.indicators.importing import CSV_MEDIA_TYPES, JSONL_MEDIA_TYPES

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "docs" / "openapi.json"


def template_routes() -> dict[tuple[str, str], bool]:
    """(method, path) of every API event in template.yaml -> whether it has an authorizer."""
    template = yaml_parse((ROOT / "template.yaml").read_text())
    routes = {}
    for resource in template["Resources"].values():
        for event in (resource.get("Properties") or {}).get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            properties = event["Properties"]
            authorizer = (properties.get("Auth") or {}).get("Authorizer")
            routes[(properties["Method"].upper(), properties["Path"])] = authorizer != "NONE"
    return routes


def openapi_routes() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }


def test_the_checked_in_openapi_document_is_current():
    assert CHECKED_IN.read_text() == render(), "stale docs/openapi.json: run `make openapi`"


def test_the_openapi_document_is_valid_openapi_3_1():
    validate(json.loads(CHECKED_IN.read_text()))


def test_every_template_route_declares_its_roles_and_is_documented():
    routes = template_routes()

    assert set(routes) == set(ROUTE_ROLES)
    assert set(routes) == openapi_routes()


def test_exactly_the_public_routes_have_no_authorizer():
    for route, has_authorizer in template_routes().items():
        assert has_authorizer == (ROUTE_ROLES[route] != PUBLIC), route


def test_the_role_table_of_docs_api_md_lists_every_route_with_its_roles():
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split("## Authentication and roles", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]

    for (method, path), roles in ROUTE_ROLES.items():
        (row,) = [line for line in rows if f"`{method} {path}`" in line]
        named = row.rsplit("|", 2)[1]
        if roles == PUBLIC:
            assert "open" in named, (method, path)
        elif len(roles) < 4:
            assert all(role.value in named for role in roles), (method, path)


def test_the_entries_a_client_written_from_the_document_needs_are_there():
    """Issue 11, item 13: what a client written from the OpenAPI document alone tripped over."""
    paths = openapi_document()["paths"]

    # A batch of indicators partly refused is a 207 with a body the client can read
    multi = paths["/v1/indicators"]["post"]["responses"]["207"]
    assert multi["content"]["application/json"]["schema"]
    # The import states its body and exactly the media types the handler takes
    body = paths["/v1/indicators/import"]["post"]["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == CSV_MEDIA_TYPES | JSONL_MEDIA_TYPES
    # Every conditional change of a report, an indicator, a claim or a hold documents its 409
    conditional = [
        ("post", "/v1/reports"),
        ("post", "/v1/reports/{id}/decision"),
        ("post", "/v1/reports/{id}/decision/confirm"),
        ("post", "/v1/reports/{id}/information"),
        ("post", "/v1/review/reports/{id}/claim"),
        ("post", "/v1/indicators/{id}/suspend"),
        ("post", "/v1/indicators/{id}/reinstate"),
        ("delete", "/v1/indicators/{id}"),
        ("delete", "/v1/legal-holds/{id}"),
    ]
    for method, path in conditional:
        conflict = paths[path][method]["responses"]["409"]
        assert "application/problem+json" in conflict["content"], (method, path)

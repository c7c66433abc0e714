"""Which roles each route admits: the one place this is declared.

The authorizer turns it into an IAM policy that allows exactly the routes of the caller's role
(so API Gateway's cached answer for a key is right for every route), and handlers check it again
for the route they serve (defence in depth). A route missing here is refused to everyone.
"""

from __future__ import annotations

from collections.abc import Mapping

from hashmatch.access.model import Role

PUBLIC: frozenset[Role] = frozenset()  # no authorizer on the route at all

ROUTE_ROLES: Mapping[tuple[str, str], frozenset[Role]] = {
    ("GET", "/v1/health"): PUBLIC,
    ("GET", "/v1/openapi.json"): PUBLIC,
    ("GET", "/v1/whoami"): frozenset(Role),
    ("POST", "/v1/match"): frozenset({Role.PROVIDER}),
    ("POST", "/v1/reports"): frozenset({Role.PROVIDER}),
    ("GET", "/v1/reports"): frozenset({Role.PROVIDER}),
    ("GET", "/v1/reports/{id}"): frozenset({Role.PROVIDER}),
    ("POST", "/v1/reports/{id}/information"): frozenset({Role.PROVIDER}),
    ("GET", "/v1/review/queue"): frozenset({Role.REVIEWER}),
    ("GET", "/v1/review/reports/{id}"): frozenset({Role.REVIEWER}),
    ("POST", "/v1/review/reports/{id}/claim"): frozenset({Role.REVIEWER}),
    ("DELETE", "/v1/review/reports/{id}/claim"): frozenset({Role.REVIEWER}),
    ("POST", "/v1/review/reports/{id}/information-request"): frozenset({Role.REVIEWER}),
    ("POST", "/v1/reports/{id}/decision"): frozenset({Role.REVIEWER}),
    ("POST", "/v1/reports/{id}/decision/confirm"): frozenset({Role.REVIEWER}),
    ("POST", "/v1/indicators"): frozenset({Role.CURATOR}),
    ("GET", "/v1/indicators"): frozenset({Role.CURATOR}),
    ("POST", "/v1/indicators/import"): frozenset({Role.CURATOR}),
    ("POST", "/v1/indicators/negative"): frozenset({Role.CURATOR}),
    ("GET", "/v1/indicators/{id}"): frozenset({Role.CURATOR}),
    ("DELETE", "/v1/indicators/{id}"): frozenset({Role.CURATOR}),
    ("POST", "/v1/indicators/{id}/suspend"): frozenset({Role.CURATOR}),
    ("POST", "/v1/indicators/{id}/reinstate"): frozenset({Role.CURATOR}),
    ("POST", "/v1/legal-holds"): frozenset({Role.REVIEWER, Role.AUDITOR}),
    ("GET", "/v1/legal-holds"): frozenset({Role.REVIEWER, Role.AUDITOR}),
    ("DELETE", "/v1/legal-holds/{id}"): frozenset({Role.REVIEWER, Role.AUDITOR}),
    ("GET", "/v1/audit"): frozenset({Role.AUDITOR}),
    ("GET", "/v1/statistics"): frozenset({Role.AUDITOR}),
    ("GET", "/v1/transparency/{year}"): PUBLIC,
    ("GET", "/v1/transparency/{year}/report.html"): PUBLIC,
}


def roles_for(method: str, resource: str) -> frozenset[Role] | None:
    """The roles a route admits, PUBLIC for an open route, None for a route nobody may call."""
    return ROUTE_ROLES.get((method.upper(), resource))


def routes_of(role: Role) -> list[tuple[str, str]]:
    return sorted(route for route, roles in ROUTE_ROLES.items() if role in roles)


def policy_routes(role: Role) -> list[tuple[str, str]]:
    """(method, resource) of every route ``role`` may call; path parameters become ``*``."""
    return [(method, _wildcard_path(resource)) for method, resource in routes_of(role)]


def _wildcard_path(resource: str) -> str:
    parts = ["*" if part.startswith("{") else part for part in resource.strip("/").split("/")]
    return "/" + "/".join(parts)

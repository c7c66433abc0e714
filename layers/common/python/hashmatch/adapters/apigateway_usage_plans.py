"""API Gateway adapter of the UsagePlans port: one API key per client, in its role's plan.

The key's value is the client's usage key (derived from its id, not a secret); the authorizer
returns it as usageIdentifierKey so API Gateway throttles and counts each client separately.
"""

from __future__ import annotations

from typing import Any

from hashmatch.access.model import ApiClient, Role
from hashmatch.adapters.aws import translated_errors


class ApiGatewayUsagePlans:
    def __init__(self, apigateway: Any, plan_by_role: dict[Role, str]) -> None:
        self._apigateway = apigateway
        self._plan_by_role = plan_by_role

    def enrol(self, client: ApiClient) -> None:
        with translated_errors("creating the client's usage key"):
            key = self._apigateway.create_api_key(
                name=client.client_id,
                description=f"usage key of {client.role.value} client {client.client_id}",
                enabled=True,
                value=client.usage_key,
            )
            self._apigateway.create_usage_plan_key(
                usagePlanId=self._plan_by_role[client.role], keyId=key["id"], keyType="API_KEY"
            )

    def withdraw(self, client: ApiClient) -> None:
        with translated_errors("disabling the client's usage key"):
            keys = self._apigateway.get_api_keys(nameQuery=client.client_id)["items"]
            for key in keys:
                self._apigateway.update_api_key(
                    apiKey=key["id"],
                    patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}],
                )

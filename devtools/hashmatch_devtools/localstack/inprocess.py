"""The template's stores in an in-process moto (`mock_aws`), for integration tests and benchmarks.

The same code path as the local stack (stores created from template.yaml by moto's
CloudFormation, environments resolved through stack outputs), without a server: the caller has
started `mock_aws` and set the AWS test environment. ``api_gateway()`` gives the template's API
as the local stack emulates it (routes, the authorizer, gateway responses), called in-process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from hashmatch_devtools.localstack.api_gateway import ApiGateway
from hashmatch_devtools.localstack.lambda_runtime import load_function
from hashmatch_devtools.localstack.resources import (
    ACCOUNT_ID,
    LOCAL_API_ID,
    LocalTemplate,
    ProvisionedStores,
    load_local_template,
    provision_stores,
)


@dataclass(frozen=True)
class InProcessStores:
    stores: ProvisionedStores
    environment: dict[str, str]  # the union of every function's environment
    template: LocalTemplate

    def physical_id(self, logical_id: str) -> str:
        return self.stores.resources[logical_id].physical_id

    def api_gateway(self) -> ApiGateway:
        """The template's (one) API, its handlers called in this process."""
        model, identities = self.template.model, self.template.identities
        functions = {
            logical_id: load_function(
                spec,
                template_dir=model.directory,
                name=identities.function_names[logical_id],
                arn=identities.function_arn(logical_id),
                environment=self.stores.environments[logical_id],
            )
            for logical_id, spec in model.functions.items()
        }
        (api,) = model.apis.values()
        return ApiGateway(
            api, functions, region=identities.region, account_id=ACCOUNT_ID, api_id=LOCAL_API_ID
        )


def provision_in_process(
    template_path: Path,
    *,
    region: str,
    stack_name: str,
    parameter_overrides: Mapping[str, str] | None = None,
) -> InProcessStores:
    """Create the template's stores in the active `mock_aws` and resolve the functions' env."""
    template = load_local_template(
        template_path, region=region, stack_name=stack_name, parameter_overrides=parameter_overrides
    )
    clients: dict[str, Any] = {
        name: boto3.client(name, region_name=region) for name in ("sqs", "dynamodb", "s3")
    }
    stores = provision_stores(
        template.model,
        cloudformation=boto3.client("cloudformation", region_name=region),
        clients=clients,
        parameters=template.parameters,
        identities=template.identities,
    )
    environment: dict[str, str] = {}
    for variables in stores.environments.values():
        environment.update(variables)
    return InProcessStores(stores=stores, environment=environment, template=template)

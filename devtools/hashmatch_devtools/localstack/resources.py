"""Create the template's stores in moto from the template itself; resolve function environments.

The template's own store resources (types in :data:`STORE_TYPES`) are deployed as a CloudFormation
stack into moto, so names, GSIs, streams, redrive policies and KMS keys come from exactly what we
deploy. Everything else (functions, the API, roles, log groups, SAM-generated resources) is
stripped: moto cannot run it, and the local stack emulates it in-process. References from a kept
resource or an environment variable to a stripped one are replaced by the local identity of that
resource (a function's local name and ARN, the local API id) or a clearly fake placeholder.

Each function's environment variables are added as stack Outputs, so moto resolves ``!Ref``,
``!GetAtt`` and ``!Sub`` over the created stores just as CloudFormation would.

moto ignores a few store settings it parses (TTL, bucket versioning, public access block, Object
Lock); they are applied after creation with the service APIs so local behaviour matches. Not
applied: bucket lifecycle rules and PITR (moto never runs them anyway).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashmatch_devtools.localstack.errors import LocalStackError
from hashmatch_devtools.localstack.logs import logger
from hashmatch_devtools.localstack.moto_dynamodb import make_writes_atomic
from hashmatch_devtools.localstack.template import (
    FUNCTION_TYPE,
    ParameterResolver,
    TemplateModel,
    load_template,
)

# The stores the local stack creates (moto's CloudFormation supports each). An allowlist, not a
# list of the project's resources: any resource of these types in the template is created.
STORE_TYPES = frozenset(
    {
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::SNS::Topic",
        "AWS::SSM::Parameter",
    }
)
# Types whose GetAtt Arn moto answers; used to report each store's ARN.
_TYPES_WITH_ARN = frozenset(
    {"AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::KMS::Key"}
)
_KEPT_RESOURCE_KEYS = ("Type", "Properties", "DependsOn", "Condition")
_PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::Region",
        "AWS::StackName",
        "AWS::StackId",
        "AWS::Partition",
        "AWS::URLSuffix",
        "AWS::NoValue",
        "AWS::NotificationARNs",
    }
)
ACCOUNT_ID = "123456789012"  # moto's default account
LOCAL_API_ID = "local"
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")
_ENV_OUTPUT_PREFIX = "LocalEnv"
_ARN_OUTPUT_PREFIX = "LocalArn"
MARKER_RESOURCE_ID = "LocalStackMarker"


@dataclass(frozen=True)
class StackResource:
    """One store created in moto. ``physical_id`` is what ``!Ref`` gives (a queue's is its URL)."""

    logical_id: str
    resource_type: str
    physical_id: str
    arn: str | None
    url: str | None = None  # queues: the URL on the local moto endpoint

    def as_dict(self) -> dict[str, str | None]:
        return {
            "type": self.resource_type,
            "physical_id": self.physical_id,
            "arn": self.arn,
            "url": self.url,
        }


@dataclass(frozen=True)
class LocalIdentities:
    """How stripped resources are named locally (what a ``!Ref``/``!GetAtt`` to them becomes)."""

    region: str
    account_id: str
    stack_name: str
    api_id: str
    function_names: Mapping[str, str]

    def function_arn(self, logical_id: str) -> str:
        name = self.function_names[logical_id]
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    def ref(self, logical_id: str, resource_type: str | None) -> str:
        if logical_id in self.function_names:
            return self.function_names[logical_id]
        if resource_type == "AWS::Serverless::Api" or logical_id == "ServerlessRestApi":
            return self.api_id
        return f"{self.stack_name}-{logical_id}"

    def get_att(self, logical_id: str, attribute: str, resource_type: str | None) -> str:
        if logical_id in self.function_names and attribute == "Arn":
            return self.function_arn(logical_id)
        name = self.ref(logical_id, resource_type)
        is_role = resource_type == "AWS::IAM::Role" or logical_id.endswith("Role")
        if attribute == "Arn" and is_role:
            # SAM generates <Function>Role; key and bucket policies often name it.
            return f"arn:aws:iam::{self.account_id}:role/{name}"
        if attribute == "Arn":
            return f"arn:aws:local:{self.region}:{self.account_id}:{name}"
        return f"{self.ref(logical_id, resource_type)}-{attribute}"


@dataclass(frozen=True)
class ProvisionedStores:
    resources: Mapping[str, StackResource]
    environments: Mapping[str, Mapping[str, str]]  # function logical id -> resolved variables
    stripped: Mapping[str, str]  # logical id -> type, for what was not created in moto


def build_moto_template(
    model: TemplateModel, identities: LocalIdentities
) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """The CloudFormation template deployed into moto, and which Output holds which env value."""
    body = model.body
    resources: Mapping[str, Any] = body["Resources"]
    kept_ids = {lid for lid, res in resources.items() if res.get("Type") in STORE_TYPES}
    sanitizer = _Sanitizer(
        kept_ids=kept_ids,
        parameters=set(model.parameter_defaults),
        resource_types=model.resource_types,
        identities=identities,
    )
    kept: dict[str, Any] = {}
    for logical_id in sorted(kept_ids):
        resource = {k: v for k, v in resources[logical_id].items() if k in _KEPT_RESOURCE_KEYS}
        depends_on = resource.get("DependsOn")
        if depends_on is not None:
            names = [depends_on] if isinstance(depends_on, str) else list(depends_on)
            resource["DependsOn"] = [name for name in names if name in kept_ids]
            if not resource["DependsOn"]:
                del resource["DependsOn"]
        kept[logical_id] = sanitizer.clean(resource)
    if not kept:
        # CloudFormation refuses a stack without resources; a template without stores is legal.
        kept[MARKER_RESOURCE_ID] = {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Type": "String", "Value": "hashmatch local stack"},
        }

    outputs: dict[str, Any] = {}
    output_of_variable: dict[tuple[str, str], str] = {}
    output_of_value: dict[str, str] = {}
    for function in model.functions.values():
        for name, value in function.environment.items():
            if not isinstance(value, dict):
                continue
            cleaned = sanitizer.clean(value)
            key = json.dumps(cleaned, sort_keys=True)
            if key not in output_of_value:
                output_of_value[key] = f"{_ENV_OUTPUT_PREFIX}{len(output_of_value)}"
                outputs[output_of_value[key]] = {"Value": cleaned}
            output_of_variable[(function.logical_id, name)] = output_of_value[key]
    for logical_id in kept_ids:
        if resources[logical_id]["Type"] in _TYPES_WITH_ARN:
            outputs[f"{_ARN_OUTPUT_PREFIX}{logical_id}"] = {
                "Value": {"Fn::GetAtt": [logical_id, "Arn"]}
            }

    template: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": kept}
    for section in ("Parameters", "Mappings", "Conditions"):
        if body.get(section):
            template[section] = copy.deepcopy(body[section])
    if outputs:
        template["Outputs"] = outputs
    return template, output_of_variable


def provision_stores(
    model: TemplateModel,
    *,
    cloudformation: Any,
    clients: Mapping[str, Any],
    parameters: Mapping[str, str],
    identities: LocalIdentities,
    existing: bool = False,
) -> ProvisionedStores:
    """Deploy the stores into moto and return them with each function's resolved environment.

    ``existing``: moto holds a restored state in which the stack may already exist (the local
    stack's saved state): it is then kept with its data, and updated if the template's stores
    changed since (new stores are created; moto applies what it can of changed ones).
    """
    # Concurrent requests must meet DynamoDB's atomicity, which moto lacks (moto_dynamodb).
    make_writes_atomic()
    template, output_of_variable = build_moto_template(model, identities)
    stack_name = identities.stack_name
    stack_parameters = [
        {"ParameterKey": key, "ParameterValue": value}
        for key, value in parameters.items()
        if key in template.get("Parameters", {})
    ]
    before: set[str] = set()
    if existing and _stack_exists(cloudformation, stack_name):
        before = {
            item["LogicalResourceId"]
            for item in cloudformation.describe_stack_resources(StackName=stack_name)[
                "StackResources"
            ]
        }
        _update_if_changed(cloudformation, stack_name, template, stack_parameters)
    else:
        try:
            cloudformation.create_stack(
                StackName=stack_name,
                TemplateBody=json.dumps(template),
                Parameters=stack_parameters,
            )
        except Exception as error:
            raise LocalStackError(
                f"moto could not create the template's stores: {error}"
            ) from error
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise LocalStackError(f"moto stack {stack_name} is {stack['StackStatus']}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    described = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    resources: dict[str, StackResource] = {}
    for item in described:
        logical_id = item["LogicalResourceId"]
        if logical_id == MARKER_RESOURCE_ID and logical_id not in model.resource_types:
            continue
        resource_type = item["ResourceType"]
        url = None
        if resource_type == "AWS::SQS::Queue":
            queue_name = item["PhysicalResourceId"].rsplit("/", 1)[-1]
            url = clients["sqs"].get_queue_url(QueueName=queue_name)["QueueUrl"]
        resources[logical_id] = StackResource(
            logical_id=logical_id,
            resource_type=resource_type,
            physical_id=item["PhysicalResourceId"],
            arn=outputs.get(f"{_ARN_OUTPUT_PREFIX}{logical_id}"),
            url=url,
        )
    # Stores kept from a restored state have their settings already (and a bucket with objects
    # takes no Object Lock configuration any more): only new ones are set up.
    created = {lid: r for lid, r in resources.items() if lid not in before}
    _apply_settings_moto_ignores(model, created, clients, parameters)

    environments: dict[str, dict[str, str]] = {}
    for function in model.functions.values():
        variables: dict[str, str] = {}
        for name, value in function.environment.items():
            output_key = output_of_variable.get((function.logical_id, name))
            variables[name] = outputs[output_key] if output_key else _scalar_text(value)
        environments[function.logical_id] = variables
    stripped = {lid: rtype for lid, rtype in model.resource_types.items() if lid not in resources}
    return ProvisionedStores(resources=resources, environments=environments, stripped=stripped)


def _stack_exists(cloudformation: Any, stack_name: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError:  # ValidationError: no stack of that name
        return False
    return bool(stacks) and stacks[0]["StackStatus"] != "DELETE_COMPLETE"


def _update_if_changed(
    cloudformation: Any, stack_name: str, template: dict[str, Any], parameters: list[Any]
) -> None:
    body = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
    current = json.loads(body) if isinstance(body, str) else body
    if current == json.loads(json.dumps(template)):
        return
    logger.info("the template's stores changed since the state was saved: updating them")
    try:
        cloudformation.update_stack(
            StackName=stack_name, TemplateBody=json.dumps(template), Parameters=parameters
        )
    except Exception as error:
        raise LocalStackError(
            f"moto could not update the saved stores to the template ({error}); start with "
            "--fresh to discard the saved state"
        ) from error


def _apply_settings_moto_ignores(
    model: TemplateModel,
    resources: Mapping[str, StackResource],
    clients: Mapping[str, Any],
    parameters: Mapping[str, str],
) -> None:
    body_resources: Mapping[str, Any] = model.body["Resources"]
    for logical_id, resource in resources.items():
        properties = body_resources.get(logical_id, {}).get("Properties") or {}
        if resource.resource_type == "AWS::DynamoDB::Table":
            ttl = properties.get("TimeToLiveSpecification") or {}
            if ttl.get("Enabled") is True and isinstance(ttl.get("AttributeName"), str):
                clients["dynamodb"].update_time_to_live(
                    TableName=resource.physical_id,
                    TimeToLiveSpecification={
                        "Enabled": True,
                        "AttributeName": ttl["AttributeName"],
                    },
                )
        elif resource.resource_type == "AWS::S3::Bucket":
            versioning = (properties.get("VersioningConfiguration") or {}).get("Status")
            if versioning in ("Enabled", "Suspended"):
                clients["s3"].put_bucket_versioning(
                    Bucket=resource.physical_id, VersioningConfiguration={"Status": versioning}
                )
            block = properties.get("PublicAccessBlockConfiguration")
            if isinstance(block, dict) and all(isinstance(v, bool) for v in block.values()):
                clients["s3"].put_public_access_block(
                    Bucket=resource.physical_id, PublicAccessBlockConfiguration=block
                )
            lock = _object_lock_configuration(properties, parameters)
            if lock is not None:
                # Versioning is on by now (Object Lock needs it), and the bucket is empty.
                clients["s3"].put_object_lock_configuration(
                    Bucket=resource.physical_id, ObjectLockConfiguration=lock
                )


def _object_lock_configuration(
    properties: Mapping[str, Any], parameters: Mapping[str, str]
) -> dict[str, Any] | None:
    """The bucket's ObjectLockConfiguration for the S3 API (Days/Years resolved), if it has one."""
    if properties.get("ObjectLockEnabled") is not True:
        return None
    configuration = properties.get("ObjectLockConfiguration") or {}
    retention = (configuration.get("Rule") or {}).get("DefaultRetention") or {}
    lock: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
    if retention:
        default: dict[str, Any] = {"Mode": retention["Mode"]}
        for unit in ("Days", "Years"):
            if unit in retention:
                value = retention[unit]
                if isinstance(value, dict) and set(value) == {"Ref"}:
                    value = parameters[value["Ref"]]
                default[unit] = int(value)
        lock["Rule"] = {"DefaultRetention": default}
    return lock


class _Sanitizer:
    """Rewrites references to resources moto will not create into their local identities."""

    def __init__(
        self,
        *,
        kept_ids: set[str],
        parameters: set[str],
        resource_types: Mapping[str, str],
        identities: LocalIdentities,
    ) -> None:
        self._kept = kept_ids
        self._parameters = parameters
        self._types = resource_types
        self._identities = identities

    def _is_resolvable(self, name: str) -> bool:
        return name in self._kept or name in self._parameters or name in _PSEUDO_PARAMETERS

    def clean(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.clean(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str) and not self._is_resolvable(argument):
                return self._identities.ref(argument, self._types.get(argument))
            if key == "Fn::GetAtt":
                logical_id, attribute = (
                    argument.split(".", 1) if isinstance(argument, str) else argument
                )
                if logical_id not in self._kept:
                    return self._identities.get_att(
                        logical_id, attribute, self._types.get(logical_id)
                    )
            if key == "Fn::Sub":
                return {"Fn::Sub": self._clean_sub(argument)}
        return {key: self.clean(item) for key, item in value.items()}

    def _clean_sub(self, argument: Any) -> Any:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            logical_id, _, attribute = name.partition(".")
            if name in variables or self._is_resolvable(logical_id):
                return match.group(0)
            resource_type = self._types.get(logical_id)
            if attribute:
                return self._identities.get_att(logical_id, attribute, resource_type)
            return self._identities.ref(logical_id, resource_type)

        cleaned_text = _SUB_VARIABLE.sub(replace, text)
        if isinstance(argument, str):
            return cleaned_text
        return [cleaned_text, {name: self.clean(v) for name, v in variables.items()}]


@dataclass(frozen=True)
class LocalTemplate:
    """A template read for one local stack: its parameter values and its local identities."""

    model: TemplateModel
    parameters: dict[str, str]
    identities: LocalIdentities


def load_local_template(
    template_path: Path,
    *,
    region: str,
    stack_name: str,
    parameter_overrides: Mapping[str, str] | None = None,
) -> LocalTemplate:
    """Read the template as CloudFormation would deploy it as ``stack_name`` in moto's account."""
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::StackName": stack_name,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    model = load_template(
        template_path, parameter_overrides=parameter_overrides, pseudo_parameters=pseudo
    )
    parameters = model.parameter_values(parameter_overrides)
    resolver = ParameterResolver(parameters, pseudo)
    identities = LocalIdentities(
        region=region,
        account_id=ACCOUNT_ID,
        stack_name=stack_name,
        api_id=LOCAL_API_ID,
        function_names=local_function_names(model, resolver.resolve, stack_name),
    )
    return LocalTemplate(model=model, parameters=parameters, identities=identities)


def local_function_names(model: TemplateModel, resolve: Any, stack_name: str) -> dict[str, str]:
    """Each function's name: its FunctionName when given, else CloudFormation's stack-LogicalId."""
    names: dict[str, str] = {}
    for logical_id, function in model.functions.items():
        if function.function_name is None:
            names[logical_id] = f"{stack_name}-{logical_id}"
        else:
            names[logical_id] = str(resolve(function.function_name))
    for logical_id, resource_type in model.resource_types.items():
        if resource_type == FUNCTION_TYPE and logical_id not in names:
            raise LocalStackError(f"function {logical_id} was not read from the template")
    return names


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        raise LocalStackError("an environment variable has no value")
    return str(value)

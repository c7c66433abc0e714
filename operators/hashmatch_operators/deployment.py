"""Where an operator command acts: a deployed stack (AWS credentials) or the running local stack.

Either way the result is the standard AWS environment plus the settings the services read, so
operator commands use the same composition root (hashmatch.bootstrap) as the functions.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_STATE_FILE = Path(".local-stack/state.json")

# Settings the operator commands need, by the stack Output (deployed) or logical id (local).
_OUTPUT_SETTINGS = {
    "ClientsTableName": "CLIENTS_TABLE",
    "OrganisationsTableName": "ORGANISATIONS_TABLE",
    "ProviderUsagePlanId": "PROVIDER_USAGE_PLAN_ID",
    "StaffUsagePlanId": "STAFF_USAGE_PLAN_ID",
    "AuditTableName": "AUDIT_TABLE",
    "ProbingTableName": "PROBING_TABLE",
    "AuditAnchorBucketName": "AUDIT_ANCHOR_BUCKET",
    "KeyArn": "AUDIT_CHECKPOINT_KEY",
    "StatisticsTableName": "STATISTICS_TABLE",
    "TransparencyBucketName": "TRANSPARENCY_BUCKET",
}
_LOCAL_SETTINGS = {
    "ClientsTable": "CLIENTS_TABLE",
    "OrganisationsTable": "ORGANISATIONS_TABLE",
    "AuditTable": "AUDIT_TABLE",
    "ProbingTable": "PROBING_TABLE",
    "AuditAnchorBucket": "AUDIT_ANCHOR_BUCKET",
    "HashmatchKey": "AUDIT_CHECKPOINT_KEY",
    "StatisticsTable": "STATISTICS_TABLE",
    "TransparencyBucket": "TRANSPARENCY_BUCKET",
}
# Settings from the stack's Parameters (the transparency report's suppression and thresholds).
_PARAMETER_SETTINGS = {"TransparencySmallCellThreshold": "SMALL_CELL_THRESHOLD"}
_THRESHOLD_PARAMETERS = {
    "pdq": "PdqMatchThreshold",
    "phash": "PhashMatchThreshold",
    "dhash": "DhashMatchThreshold",
}


class DeploymentNotFound(RuntimeError):
    pass


def add_deployment_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("where (default: the running local stack)")
    where.add_argument("--stack-name", help="a deployed stack (uses your AWS credentials)")
    where.add_argument("--region", help="the stack's region (default: your AWS configuration)")
    where.add_argument(
        "--state-file",
        type=Path,
        default=DEFAULT_STATE_FILE,
        help=f"the local stack's state file (default: {DEFAULT_STATE_FILE})",
    )


def use_deployment(args: argparse.Namespace) -> str:
    """Point this process at the chosen deployment; returns a one-line description of it."""
    from hashmatch import bootstrap
    from hashmatch.adapters.aws import clear_client_cache
    from hashmatch.settings import clear_settings_cache

    if args.stack_name:
        description = _use_stack(args.stack_name, args.region)
    else:
        description = _use_local_stack(args.state_file)
    clear_settings_cache()
    clear_client_cache()
    bootstrap.reset()
    return description


def local_operator_settings(physical_ids: Mapping[str, str]) -> dict[str, str]:
    """The settings operator commands read, from a local stack's physical ids by logical id
    (its functions' environments do not name every table an operator uses)."""
    return {variable: physical_ids[logical_id] for logical_id, variable in _LOCAL_SETTINGS.items()}


def _use_stack(stack_name: str, region: str | None) -> str:
    import boto3

    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
    stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}
    for output, variable in _OUTPUT_SETTINGS.items():
        if output in outputs:
            os.environ[variable] = outputs[output]
    parameters = {
        item["ParameterKey"]: item["ParameterValue"] for item in stacks[0].get("Parameters", [])
    }
    _use_parameters(parameters)
    return f"stack {stack_name}"


def _use_parameters(parameters: dict[str, str]) -> None:
    for parameter, variable in _PARAMETER_SETTINGS.items():
        if parameter in parameters:
            os.environ[variable] = parameters[parameter]
    thresholds = {
        name: int(parameters[parameter])
        for name, parameter in _THRESHOLD_PARAMETERS.items()
        if parameter in parameters
    }
    if thresholds:
        os.environ["MATCH_THRESHOLDS"] = json.dumps(thresholds)


def _use_local_stack(state_file: Path) -> str:
    if not state_file.exists():
        raise DeploymentNotFound(
            f"no local stack state at {state_file}: start one with `make run` "
            "(or `hashmatch serve`), or name a deployed stack with --stack-name"
        )
    state = json.loads(state_file.read_text())
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": state["aws_endpoint"],
            "AWS_DEFAULT_REGION": state["region"],
            # moto accepts any credentials; never use real ones against the local stack.
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }
    )
    os.environ.update(
        local_operator_settings(
            {name: resource["physical_id"] for name, resource in state["resources"].items()}
        )
    )
    _use_parameters(state.get("parameters", {}))
    return f"local stack at {state['api_url']}"

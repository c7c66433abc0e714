"""Every AWS call a function makes in the tests, checked against the role template.yaml gives it.

moto does not enforce IAM: a call that a function's role does not allow passes every test here
and fails in AWS (AccessDenied, answered as a 503 or a dead-lettered message). So the
integration and end-to-end tiers record each call a handler makes, with the resource it names
(the handler is found on the call stack: a frame of ``functions/<name>/app.py``), and at the end
of the session every call is checked against the statements of that function's role:

- the action: the call's IAM action (``dynamodb:TransactWriteItems`` is the actions of its
  parts, ``s3:HeadObject`` is ``s3:GetObject``, a batch is its single action, ...);
- the resource: the table, index, bucket, object, queue, key or secret, named as the template
  names it (``IndicatorsTable``, ``IndicatorsTable/index/NeedsReview``, ``SnapshotBucket/index/
  current.hmsnap``) and matched against each statement's resources the way IAM matches ARNs
  (``*`` as a wildcard; a table's ARN does not cover its indexes);
- what the call implies: reading or writing a queue, bucket or table encrypted with the stack
  key needs ``kms:Decrypt`` (and ``kms:GenerateDataKey`` to write to a queue or bucket).

Conditions are not evaluated (they only narrow a grant). A call from test code or an operator
command (no handler on the stack) is not checked: operators act with their own credentials.

The same goes for settings: the tiers run every handler in one process with the union of the
functions' environments, so a function whose template environment lacks a variable its
settings require works here and fails in Lambda. Each settings model a handler loads is recorded
too, and every variable it requires must be in that function's environment (or the template's
Globals).
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

from hashmatch_devtools.localstack.template import load_template

ROOT = Path(__file__).resolve().parents[1]
_HANDLER_MODULE = re.compile(r"^functions\.(\w+)\.app$")

# botocore operation -> the IAM action it needs, where the two differ.
_ACTIONS = {
    ("s3", "HeadObject"): "GetObject",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "GetObjectLockConfiguration"): "GetBucketObjectLockConfiguration",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("dynamodb", "TransactGetItems"): "GetItem",
}
_TRANSACT_PARTS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# Calls that need no permission.
_FREE = {("sts", "GetCallerIdentity")}


@dataclass(frozen=True)
class Need:
    """One permission a call needs: an IAM action on a resource, named as the template does."""

    function: str  # the function's logical id
    action: str  # e.g. "dynamodb:Query"
    resource: str  # e.g. "IndicatorsTable/index/NeedsReview"
    call: str  # the call that needs it, for the report


class Recorder:
    """Records the calls handlers make (one process; the local stack runs one at a time)."""

    def __init__(self) -> None:
        self.physical: dict[str, str] = {}  # a physical name, ARN or URL -> its logical id
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self.settings: set[tuple[str, type[Any]]] = set()  # (handler module, settings model)
        self._lock = threading.Lock()
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        original = BaseClient._make_api_call  # type: ignore[attr-defined]
        recorder = self

        def recorded(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            function = _calling_handler()
            if function is not None:
                service = client.meta.service_model.service_name
                with recorder._lock:
                    recorder.calls.append((function, service, operation_name, dict(api_params)))
            return original(client, operation_name, api_params)

        BaseClient._make_api_call = recorded  # type: ignore[attr-defined]

        from hashmatch import settings

        load = settings._load

        def loaded(model: type[Any]) -> Any:
            function = _calling_handler()
            if function is not None:
                with recorder._lock:
                    recorder.settings.add((function, model))
            return load(model)  # type: ignore[arg-type]

        loaded.cache_clear = load.cache_clear  # type: ignore[attr-defined]
        settings._load = loaded  # type: ignore[assignment]
        self._installed = True

    def know(self, resources: Mapping[str, Any]) -> None:
        """The deployment's resources: logical id -> an object with physical_id, arn, url."""
        with self._lock:
            for logical_id, resource in resources.items():
                for name in (resource.physical_id, resource.arn, resource.url):
                    if name:
                        self.physical[str(name)] = logical_id


RECORDER = Recorder()


def _calling_handler() -> str | None:
    """The handler module (``match_hashes``) on the current thread's stack, if any."""
    frame = sys._getframe(2)
    while frame is not None:
        found = _HANDLER_MODULE.match(frame.f_globals.get("__name__", ""))
        if found:
            return found.group(1)
        frame = frame.f_back  # type: ignore[assignment]
    return None


# -- what a call needs --------------------------------------------------------------------------


def needs(
    function: str,
    service: str,
    operation: str,
    params: Mapping[str, Any],
    logical: Mapping[str, str],
    encrypted: Mapping[str, str],
    template_ids: Iterable[str] = (),
) -> list[Need]:
    """The permissions one call needs. ``logical`` maps physical names to logical ids;
    ``encrypted`` maps a logical id to the logical id of the KMS key that encrypts it;
    ``template_ids`` are the template's logical ids (a store the deployment made outside
    CloudFormation is named ``<stack>-<logical id>``)."""
    if (service, operation) in _FREE:
        return []
    call = f"{service}:{operation}"

    def named(value: str) -> str:
        if value in logical:
            return logical[value]
        for physical, logical_id in logical.items():  # an ARN or URL that ends in the name
            if value.endswith(("/" + physical, ":" + physical)) or physical.endswith("/" + value):
                return logical_id
        for logical_id in template_ids:
            if value.endswith("-" + logical_id):
                return logical_id
        return f"<not in the template: {value}>"

    found: list[Need] = []

    def need(action: str, resource: str) -> None:
        found.append(Need(function, f"{service}:{action}", resource, call))

    def implied(logical_id: str, *actions: str) -> None:
        key = encrypted.get(logical_id.split("/")[0])
        if key is not None:
            for action in actions:
                found.append(Need(function, f"kms:{action}", key, f"{call} (encrypted)"))

    action = _ACTIONS.get((service, operation), operation)
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                ((part, body),) = item.items()
                table = named(body["TableName"])
                need(_TRANSACT_PARTS[part], table)
                implied(table, "Decrypt")
        elif operation == "TransactGetItems":
            for item in params["TransactItems"]:
                table = named(item["Get"]["TableName"])
                need("GetItem", table)
                implied(table, "Decrypt")
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            for name in params["RequestItems"]:
                need(action, named(name))
                implied(named(name), "Decrypt")
        else:
            table = named(params["TableName"])
            index = params.get("IndexName")
            need(action, f"{table}/index/{index}" if index else table)
            implied(table, "Decrypt")
    elif service == "s3":
        bucket = named(params["Bucket"])
        if operation == "DeleteObjects":
            for item in params["Delete"]["Objects"]:
                need(action, f"{bucket}/{item['Key']}")
        elif "Key" in params:
            need(action, f"{bucket}/{params['Key']}")
            if action == "GetObject":
                implied(bucket, "Decrypt")
            elif action == "PutObject":
                implied(bucket, "GenerateDataKey")
        else:
            need(action, bucket)
    elif service == "sqs":
        queue = named(params.get("QueueUrl", params.get("QueueName", "")))
        need(action, queue)
        if action == "SendMessage":
            implied(queue, "GenerateDataKey", "Decrypt")
        elif action == "ReceiveMessage":
            implied(queue, "Decrypt")
    elif service == "kms":
        key_id = params.get("KeyId")
        keys = sorted({v for k, v in logical.items() if v in encrypted.values()})
        need(action, named(key_id) if key_id else (keys[0] if len(keys) == 1 else "<a key>"))
    elif service == "secretsmanager":
        need(action, named(params["SecretId"]))
    else:
        need(action, "<unchecked resource>")
    return found


# -- what a role allows -------------------------------------------------------------------------


def _resource_pattern(value: Any) -> str:
    """A statement's resource as a pattern over the names ``needs`` gives."""
    if value == "*":
        return "*"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        return re.sub(r"\$\{(\w+)\.Arn\}", r"\1", text if isinstance(text, str) else text[0])
    return f"<unresolved {value!r}>"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allowed(statements: Iterable[Mapping[str, Any]], need: Need) -> bool:
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if not any(fnmatchcase(need.action, a) for a in _as_list(statement["Action"])):
            continue
        patterns = [_resource_pattern(r) for r in _as_list(statement["Resource"])]
        if any(fnmatchcase(need.resource, p) for p in patterns):
            return True
    return False


@dataclass(frozen=True)
class TemplateRoles:
    statements: dict[str, list[dict[str, Any]]]  # handler module name -> its role's statements
    environments: dict[str, frozenset[str]]  # handler module name -> its variables' names
    logical_ids: dict[str, str]  # handler module name -> the function's logical id
    encrypted: dict[str, str]  # logical id of a store -> logical id of its KMS key
    resource_ids: frozenset[str]  # every logical id in the template

    @classmethod
    def load(cls, path: Path = ROOT / "template.yaml") -> TemplateRoles:
        body = load_template(path).body
        resources = body["Resources"]
        shared = (((body.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get(
            "Variables"
        ) or {}
        environments: dict[str, frozenset[str]] = {}
        statements: dict[str, list[dict[str, Any]]] = {}
        logical_ids: dict[str, str] = {}
        encrypted: dict[str, str] = {}
        for logical_id, resource in resources.items():
            properties = resource.get("Properties", {})
            kind = resource["Type"]
            if kind == "AWS::Serverless::Function":
                module = properties["Handler"].split(".")[1]
                role = resources[properties["Role"]["Fn::GetAtt"][0]]["Properties"]
                statements[module] = [
                    s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]
                ]
                logical_ids[module] = logical_id
                own = (properties.get("Environment") or {}).get("Variables") or {}
                environments[module] = frozenset(shared) | frozenset(own)
            key = _encryption_key(kind, properties)
            if key is not None:
                encrypted[logical_id] = key
        return cls(statements, environments, logical_ids, encrypted, frozenset(resources))


def _encryption_key(kind: str, properties: Mapping[str, Any]) -> str | None:
    if kind == "AWS::SQS::Queue":
        value = properties.get("KmsMasterKeyId")
    elif kind == "AWS::DynamoDB::Table":
        value = (properties.get("SSESpecification") or {}).get("KMSMasterKeyId")
    elif kind == "AWS::S3::Bucket":
        rules = (properties.get("BucketEncryption") or {}).get(
            "ServerSideEncryptionConfiguration", []
        )
        value = next(
            (
                r["ServerSideEncryptionByDefault"].get("KMSMasterKeyID")
                for r in rules
                if "ServerSideEncryptionByDefault" in r
            ),
            None,
        )
    else:
        return None
    if isinstance(value, dict):
        ref = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0]
        return str(ref) if ref else None
    return None


def violations(recorder: Recorder, roles: TemplateRoles) -> list[str]:
    """Each permission some recorded call needed that its function's role does not grant."""
    missing: dict[tuple[str, str, str], str] = {}
    for module, service, operation, params in recorder.calls:
        if module not in roles.statements:
            missing[(module, "-", "-")] = "a handler with no function in template.yaml"
            continue
        for need in needs(
            roles.logical_ids[module],
            service,
            operation,
            params,
            recorder.physical,
            roles.encrypted,
            roles.resource_ids,
        ):
            if not allowed(roles.statements[module], need):
                missing.setdefault((need.function, need.action, need.resource), need.call)
    return [
        f"{function}: {action} on {resource} (needed by {call})"
        for (function, action, resource), call in sorted(missing.items())
    ]


def missing_settings(recorder: Recorder, roles: TemplateRoles) -> list[str]:
    """Each variable a settings model a handler loaded requires that its function lacks."""
    missing: set[str] = set()
    for module, model in recorder.settings:
        environment = roles.environments.get(module)
        if environment is None:
            continue  # reported by violations()
        for name, field in model.model_fields.items():
            if field.is_required() and name.upper() not in environment:
                function = roles.logical_ids[module]
                missing.add(f"{function}: environment variable {name.upper()} ({model.__name__})")
    return sorted(missing)

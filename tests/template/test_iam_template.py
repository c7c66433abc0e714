"""Least privilege and what survives: roles, the key policy, retention of stateful resources,
the authorizer's input check, the open routes' throttling and reserved concurrency."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

import pytest

from hashmatch.access.model import new_api_key
from tests.template.conftest import resources_of_type

STATEFUL_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::KMS::Key")
SUBSTITUTED = {"AWS::Partition": "aws", "AWS::Region": "eu-central-1", "AWS::AccountId": "1"}


def statements_of(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def substituted(text: str, stack: str = "hm-test") -> str:
    for name, value in {**SUBSTITUTED, "AWS::StackName": stack}.items():
        text = text.replace("${" + name + "}", value)
    return text


def sub_text(value: Any) -> str:
    return value["Fn::Sub"] if isinstance(value, dict) else value


def test_every_function_has_its_own_role_and_no_role_has_a_managed_policy(cfn_template):
    functions = resources_of_type(cfn_template, "AWS::Lambda::Function")
    roles = resources_of_type(cfn_template, "AWS::IAM::Role")

    used = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert sorted(used) == sorted(set(used)) == sorted(roles)
    for name, role in roles.items():
        assert "ManagedPolicyArns" not in role["Properties"], name


def test_only_xray_is_granted_on_every_resource(cfn_template):
    # X-Ray's write actions have no resource-level permissions; everything else names its ARN.
    for name, role in resources_of_type(cfn_template, "AWS::IAM::Role").items():
        for statement in statements_of(role):
            if "*" in as_list(statement["Resource"]):
                assert all(a.startswith("xray:") for a in as_list(statement["Action"])), name


def test_every_function_writes_only_to_its_own_log_group(cfn_template):
    resources = cfn_template["Resources"]
    for name, function in resources_of_type(cfn_template, "AWS::Lambda::Function").items():
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        logs = [s for s in statements_of(role) if any("logs:" in a for a in as_list(s["Action"]))]
        assert logs == [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": {"Fn::GetAtt": [group, "Arn"]},
            }
        ], name


def test_the_authorizer_may_only_get_one_client_by_key_digest(cfn_template):
    role = cfn_template["Resources"]["AuthorizeFunctionRole"]
    data = [
        (as_list(s["Action"]), s["Resource"])
        for s in statements_of(role)
        if s["Sid"] not in ("WriteOwnLogs", "WriteTraces")
    ]

    assert data == [
        (["dynamodb:GetItem"], {"Fn::GetAtt": ["ClientsTable", "Arn"]}),
        (["kms:Decrypt"], {"Fn::GetAtt": ["HashmatchKey", "Arn"]}),
    ]


def key_statement(cfn_template, sid: str) -> dict[str, Any]:
    policy = cfn_template["Resources"]["HashmatchKey"]["Properties"]["KeyPolicy"]
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == sid]
    return dict(statement)


def test_cloudwatch_logs_may_use_the_key_only_for_this_stacks_log_groups(cfn_template):
    statement = key_statement(cfn_template, "CloudWatchLogsEncryptsThisStacksLogGroups")
    patterns = [
        substituted(sub_text(p))
        for p in statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    ]
    groups = resources_of_type(cfn_template, "AWS::Logs::LogGroup")

    assert groups
    for name, group in groups.items():
        arn = substituted(
            "arn:aws:logs:eu-central-1:1:log-group:" + sub_text(group["Properties"]["LogGroupName"])
        )
        assert any(fnmatchcase(arn, p) for p in patterns), name
        other_stack = arn.replace("hm-test", "someone-else")
        assert not any(fnmatchcase(other_stack, p) for p in patterns), name


def test_cloudwatch_alarms_may_use_the_key_only_for_this_stacks_alarms(cfn_template):
    statement = key_statement(cfn_template, "CloudWatchAlarmsPublishToTheEncryptedAlarmTopic")
    condition = statement["Condition"]

    assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source = sub_text(condition["ArnLike"]["aws:SourceArn"])
    assert source.endswith(":alarm:${AWS::StackName}-*")
    for name, alarm in resources_of_type(cfn_template, "AWS::CloudWatch::Alarm").items():
        assert sub_text(alarm["Properties"]["AlarmName"]).startswith("${AWS::StackName}-"), name


@pytest.mark.parametrize("type_name", STATEFUL_TYPES)
def test_every_stateful_resource_outlives_a_stack_deletion_or_replacement(cfn_template, type_name):
    resources = resources_of_type(cfn_template, type_name)

    assert resources
    for name, resource in resources.items():
        assert resource.get("DeletionPolicy") == "Retain", name
        assert resource.get("UpdateReplacePolicy") == "Retain", name
        if type_name == "AWS::DynamoDB::Table":
            assert resource["Properties"]["DeletionProtectionEnabled"] is True, name


def authorizer_of(cfn_template) -> dict[str, Any]:
    (api,) = resources_of_type(cfn_template, "AWS::ApiGateway::RestApi").values()
    definitions = api["Properties"]["Body"]["securityDefinitions"]
    return dict(definitions["ClientKeyAuthorizer"]["x-amazon-apigateway-authorizer"])


def test_the_gateway_refuses_what_is_no_key_of_ours_before_the_authorizer_runs(cfn_template):
    expression = re.compile(authorizer_of(cfn_template)["identityValidationExpression"])

    for good in (f"Bearer {new_api_key()}", f"bearer {new_api_key()}"):
        assert expression.fullmatch(good), good
    for bad in (
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer hm_",
        f"Bearer {new_api_key()} extra",
        "Bearer hm_" + "a" * 200,
        "Bearer sk_live_0123456789abcdef0123",
    ):
        assert not expression.fullmatch(bad), bad


def test_an_authorizer_failure_is_a_retryable_503_problem(cfn_template):
    (api,) = resources_of_type(cfn_template, "AWS::ApiGateway::RestApi").values()
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]

    for kind in ("AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR"):
        response = responses[kind]
        assert response["statusCode"] == "503", kind
        assert response["responseParameters"]["gatewayresponse.header.Retry-After"] == "'2'"
        assert "dependency-unavailable" in response["responseTemplates"]["application/json"]


def test_open_routes_are_throttled_apart_from_the_clients(cfn_template):
    (api,) = resources_of_type(cfn_template, "AWS::ApiGateway::RestApi").values()
    open_routes = {
        (method.upper(), path)
        for path, methods in api["Properties"]["Body"]["paths"].items()
        for method, operation in methods.items()
        if not operation.get("security")
    }
    (stage,) = resources_of_type(cfn_template, "AWS::ApiGateway::Stage").values()
    settings = {
        # "/~1v1~1health": a slash, then the resource path with each "/" escaped as "~1".
        (s["HttpMethod"], s["ResourcePath"][1:].replace("~1", "/")): s
        for s in stage["Properties"]["MethodSettings"]
    }

    assert open_routes
    for route in open_routes:
        assert settings[route]["ThrottlingRateLimit"] == {"Ref": "PublicRateLimit"}, route
        assert settings[route]["ThrottlingBurstLimit"] == {"Ref": "PublicBurstLimit"}, route


@pytest.mark.parametrize(
    ("function", "reserved"),
    [
        ("AuthorizeFunction", {"Ref": "AuthorizerReservedConcurrency"}),
        ("MatchHashesFunction", {"Ref": "MatchReservedConcurrency"}),
        ("IntakeReportsFunction", 10),
        ("BuildIndexFunction", 1),
        ("EraseExpiredFunction", 1),
    ],
)
def test_functions_that_could_starve_others_or_must_run_alone_reserve_concurrency(
    cfn_template, function, reserved
):
    properties = cfn_template["Resources"][function]["Properties"]

    assert properties["ReservedConcurrentExecutions"] == reserved


def test_intake_reserves_what_its_event_source_may_use(cfn_template):
    intake = cfn_template["Resources"]["IntakeReportsFunction"]["Properties"]
    (mapping,) = [
        mapping
        for mapping in resources_of_type(cfn_template, "AWS::Lambda::EventSourceMapping").values()
        if mapping["Properties"]["FunctionName"] == {"Ref": "IntakeReportsFunction"}
    ]

    assert (
        mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        == (intake["ReservedConcurrentExecutions"])
    )

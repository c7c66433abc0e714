"""The CloudFormation that the SAM transform produces: EU only, KMS everywhere, logs, tracing."""

from __future__ import annotations

from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from hashmatch.access.model import Role
from tests.template.conftest import TEMPLATE_PATH, resources_of_type


def evaluate(expression: Any, region: str) -> Any:
    """Evaluate the few intrinsic functions a Rules assertion may use, for one region."""
    if isinstance(expression, dict):
        ((name, argument),) = expression.items()
        if name == "Ref" and argument == "AWS::Region":
            return region
        if name == "Fn::Contains":
            values, value = (evaluate(part, region) for part in argument)
            return value in values
        if name == "Fn::Equals":
            left, right = (evaluate(part, region) for part in argument)
            return left == right
        if name == "Fn::Not":
            return not evaluate(argument[0], region)
        if name in ("Fn::And", "Fn::Or"):
            results = [evaluate(part, region) for part in argument]
            return all(results) if name == "Fn::And" else any(results)
        raise AssertionError(f"unsupported intrinsic in Rules: {name}")
    if isinstance(expression, list):
        return [evaluate(part, region) for part in expression]
    return expression


def region_is_accepted(template: dict[str, Any], region: str) -> bool:
    return all(
        evaluate(assertion["Assert"], region)
        for rule in template["Rules"].values()
        for assertion in rule["Assertions"]
    )


@pytest.mark.parametrize(
    "region", ["eu-central-1", "eu-west-1", "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1"]
)
def test_regions_in_eu_member_states_are_accepted(cfn_template, region):
    assert region_is_accepted(cfn_template, region)


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-west-2", "eu-central-2", "me-central-1", "eu-west-4", "EU-WEST-1"]
)
def test_every_other_region_is_refused(cfn_template, region):
    # eu-west-2 (London) and eu-central-2 (Zurich) are European but not in the EU.
    assert not region_is_accepted(cfn_template, region)


def test_the_rules_survive_the_sam_transform(sam_template, cfn_template):
    assert cfn_template["Rules"] == sam_template["Rules"]


def test_one_customer_managed_key_with_rotation(cfn_template):
    keys = resources_of_type(cfn_template, "AWS::KMS::Key")
    assert list(keys) == ["HashmatchKey"]
    assert keys["HashmatchKey"]["Properties"]["EnableKeyRotation"] is True


def is_our_key(reference: Any) -> bool:
    return reference in ({"Ref": "HashmatchKey"}, {"Fn::GetAtt": ["HashmatchKey", "Arn"]})


def test_every_table_is_encrypted_with_our_key(cfn_template):
    tables = resources_of_type(cfn_template, "AWS::DynamoDB::Table")
    assert tables
    for name, table in tables.items():
        sse = table["Properties"]["SSESpecification"]
        assert sse["SSEEnabled"] is True, name
        assert sse["SSEType"] == "KMS", name
        assert is_our_key(sse["KMSMasterKeyId"]), name
        assert table["Properties"]["PointInTimeRecoverySpecification"][
            "PointInTimeRecoveryEnabled"
        ], name


def test_every_queue_is_encrypted_with_our_key(cfn_template):
    for name, queue in resources_of_type(cfn_template, "AWS::SQS::Queue").items():
        assert is_our_key(queue["Properties"]["KmsMasterKeyId"]), name


def test_every_bucket_is_encrypted_with_our_key_and_private(cfn_template):
    for name, bucket in resources_of_type(cfn_template, "AWS::S3::Bucket").items():
        rules = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        default = rules[0]["ServerSideEncryptionByDefault"]
        assert default["SSEAlgorithm"] == "aws:kms", name
        assert is_our_key(default["KMSMasterKeyID"]), name
        block = bucket["Properties"]["PublicAccessBlockConfiguration"]
        assert all(block.values()), name


def test_every_log_group_has_retention_and_our_key(cfn_template):
    groups = resources_of_type(cfn_template, "AWS::Logs::LogGroup")
    assert groups
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert is_our_key(group["Properties"]["KmsKeyId"]), name


def test_every_function_logs_to_its_own_log_group_and_is_traced(cfn_template):
    functions = resources_of_type(cfn_template, "AWS::Lambda::Function")
    groups = resources_of_type(cfn_template, "AWS::Logs::LogGroup")
    used_groups = []
    for name, function in functions.items():
        properties = function["Properties"]
        assert properties["TracingConfig"] == {"Mode": "Active"}, name
        assert properties["Architectures"] == ["arm64"], name
        assert properties["Runtime"] == "python3.13", name
        assert is_our_key(properties["KmsKeyArn"]), name
        group = properties["LoggingConfig"]["LogGroup"]["Ref"]
        assert group in groups, name
        used_groups.append(group)
    assert len(used_groups) == len(set(used_groups)), "functions share a log group"


def test_no_function_captures_responses_or_errors_in_its_traces(cfn_template):
    functions = resources_of_type(cfn_template, "AWS::Lambda::Function")
    assert functions
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false", name
        assert variables["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false", name
        assert variables["POWERTOOLS_LOGGER_LOG_EVENT"] == "false", name
        # Powertools' own debug output logs route arguments, request bodies included.
        assert "POWERTOOLS_DEBUG" not in variables, name


def test_the_api_is_regional_traced_throttled_and_access_logged(cfn_template):
    (stage,) = resources_of_type(cfn_template, "AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["TracingEnabled"] is True
    assert properties["AccessLogSetting"]["DestinationArn"] == {
        "Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]
    }
    access_format = properties["AccessLogSetting"]["Format"]
    for personal in ("sourceIp", "userAgent", "identity.", "querystring"):
        assert personal not in access_format
    stage_wide, *public = properties["MethodSettings"]
    assert stage_wide["ResourcePath"] == "/*"
    assert stage_wide["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRateLimit"}
    # The open routes (health, the OpenAPI document, the public transparency reports) have a
    # throttle of their own.
    assert {s["ResourcePath"] for s in public} == {
        "/~1v1~1health",
        "/~1v1~1openapi.json",
        "/~1v1~1transparency~1{year}",
        "/~1v1~1transparency~1{year}~1report.html",
    }
    assert {s["ThrottlingRateLimit"]["Ref"] for s in public} == {"PublicRateLimit"}
    (api,) = resources_of_type(cfn_template, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert api["Properties"]["ApiKeySourceType"] == "AUTHORIZER"


def test_the_authorizer_caches_its_answer_by_the_authorization_header(cfn_template):
    (api,) = resources_of_type(cfn_template, "AWS::ApiGateway::RestApi").values()
    definition = api["Properties"]["Body"]["securityDefinitions"]["ClientKeyAuthorizer"]
    authorizer = definition["x-amazon-apigateway-authorizer"]
    assert definition["name"] == "Authorization"
    assert authorizer["type"] == "token"
    # SAM resolves the parameter while transforming; the default is what we ship.
    default_ttl = cfn_template["Parameters"]["AuthorizerCacheSeconds"]["Default"]
    assert authorizer["authorizerResultTtlInSeconds"] == default_ttl


def test_only_health_the_openapi_document_and_published_reports_are_open(cfn_template):
    (api,) = resources_of_type(cfn_template, "AWS::ApiGateway::RestApi").values()
    paths = api["Properties"]["Body"]["paths"]
    open_routes = [
        f"{method.upper()} {path}"
        for path, methods in paths.items()
        for method, operation in methods.items()
        if not operation.get("security")
    ]
    assert sorted(open_routes) == [
        "GET /v1/health",
        "GET /v1/openapi.json",
        "GET /v1/transparency/{year}",
        "GET /v1/transparency/{year}/report.html",
    ]


def test_layers_are_built_by_makefile_for_arm64(sam_template):
    for name in ("CommonLayer", "DepsLayer"):
        metadata = sam_template["Resources"][name]["Metadata"]
        assert metadata == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}, name


def test_every_role_is_metered_by_exactly_one_usage_plan_locally_as_when_deployed(sam_template):
    plans = {
        logical_id: resource
        for logical_id, resource in sam_template["Resources"].items()
        if resource["Type"] == "AWS::ApiGateway::UsagePlan"
    }

    metered = [
        role
        for resource in plans.values()
        for role in resource["Metadata"]["LocalStack"]["AuthorizerContext"]["role"]
    ]

    # The local stack places callers by role; ClientService joins keys to the same plans.
    assert sorted(metered) == sorted(role.value for role in Role)


class _DuplicateKeyChecker(yaml.SafeLoader):
    """Records every mapping key written twice (YAML loaders keep the last one silently;
    cfn-lint refuses the template, samtranslator does not)."""

    duplicates: list[str] = []


def _checked_mapping(loader: _DuplicateKeyChecker, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            loader.duplicates.append(f"{key} (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node)


_DuplicateKeyChecker.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _checked_mapping,
)
_DuplicateKeyChecker.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_no_key_is_written_twice_in_the_template():
    _DuplicateKeyChecker.duplicates = []
    yaml.load(TEMPLATE_PATH.read_text(), Loader=_DuplicateKeyChecker)  # noqa: S506

    assert _DuplicateKeyChecker.duplicates == []

"""The local stack's stores, environments, state file, on-demand schedules and clock."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from hashmatch.clock import CLOCK_OFFSET_VARIABLE
from hashmatch_devtools.localstack.banner import describe
from hashmatch_devtools.localstack.errors import LocalStackError
from hashmatch_devtools.localstack.stack import LocalStack
from tests.integration.local_stack_fixture import FIXTURE_TEMPLATE


@pytest.fixture(scope="module")
def state_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def stack(state_directory: Path) -> Iterator[LocalStack]:
    with LocalStack(
        FIXTURE_TEMPLATE,
        api_port=0,
        run_schedules=False,
        run_pollers=False,
        parameter_overrides={"Greeting": "hi"},
        stack_name="fixture",
        state_directory=state_directory,
    ) as running:
        yield running


def _client(stack: LocalStack, service: str) -> Any:
    session: Any = boto3.session.Session()
    return session.client(service, endpoint_url=stack.aws_endpoint, region_name=stack.region)


def test_stores_are_created_with_the_templates_names(stack: LocalStack) -> None:
    resources = stack.resources

    assert resources["ItemsTable"].physical_id == "fixture-items"
    assert resources["WorkQueue"].arn == "arn:aws:sqs:eu-central-1:123456789012:fixture-work"
    assert resources["EvidenceBucket"].physical_id == "fixture-evidence-123456789012"
    assert resources["DataKeyAlias"].physical_id == "alias/fixture-data"
    assert "EchoFunction" not in resources


def test_table_keeps_its_indexes_and_ttl(stack: LocalStack) -> None:
    dynamodb = _client(stack, "dynamodb")

    table = dynamodb.describe_table(TableName="fixture-items")["Table"]
    ttl = dynamodb.describe_time_to_live(TableName="fixture-items")["TimeToLiveDescription"]

    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["by-owner"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_queue_keeps_its_redrive_policy_and_kms_key(stack: LocalStack) -> None:
    sqs = _client(stack, "sqs")

    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.resources["WorkQueue"].url, AttributeNames=["All"]
    )["Attributes"]

    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == stack.resources["WorkDeadLetterQueue"].arn
    assert attributes["KmsMasterKeyId"] == stack.resources["DataKey"].physical_id


def test_bucket_keeps_versioning_and_kms_encryption(stack: LocalStack) -> None:
    s3 = _client(stack, "s3")
    bucket = stack.resources["EvidenceBucket"].physical_id

    versioning = s3.get_bucket_versioning(Bucket=bucket)
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]

    assert versioning["Status"] == "Enabled"
    rule = encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule["KMSMasterKeyID"] == stack.resources["DataKey"].arn


def test_function_environment_is_resolved_from_the_template(stack: LocalStack) -> None:
    environment = stack.functions["EchoFunction"].environment

    assert environment["FIXTURE_ITEMS_TABLE"] == "fixture-items"
    assert environment["FIXTURE_WORK_QUEUE_ARN"] == stack.resources["WorkQueue"].arn
    assert environment["FIXTURE_GREETING"] == "hi from eu-central-1 (test)"
    assert environment["FIXTURE_RETENTION_DAYS"] == "7"
    assert environment["FIXTURE_FLAG"] == "true"
    assert environment["FIXTURE_SELF_ARN"] == (
        "arn:aws:lambda:eu-central-1:123456789012:function:fixture-EchoFunction"
    )


def test_environment_of_all_functions_is_in_the_process(stack: LocalStack) -> None:
    assert os.environ["FIXTURE_ITEMS_TABLE"] == "fixture-items"
    assert os.environ["AWS_ENDPOINT_URL"] == stack.aws_endpoint
    # Per-function identity variables keep the Globals value in the shared process.
    assert os.environ["POWERTOOLS_SERVICE_NAME"] == "fixture"


def test_queue_url_from_the_environment_works_against_moto(stack: LocalStack) -> None:
    sqs = boto3.client("sqs")  # configured by the process environment only

    sqs.send_message(QueueUrl=os.environ["FIXTURE_WORK_QUEUE_URL"], MessageBody="hello")

    received = sqs.receive_message(QueueUrl=str(stack.resources["WorkQueue"].url))
    assert [m["Body"] for m in received["Messages"]] == ["hello"]


def test_state_file_tells_other_commands_where_the_stack_is(
    stack: LocalStack, state_directory: Path
) -> None:
    state = json.loads((state_directory / "state.json").read_text())

    assert (state["api_url"], state["aws_endpoint"]) == (stack.api_url, stack.aws_endpoint)
    assert state["resources"]["ItemsTable"]["physical_id"] == "fixture-items"


def test_schedule_runs_on_demand_from_python(stack: LocalStack) -> None:
    result = stack.run_schedule("TickFunction")

    assert result == {"detailType": "Scheduled Event", "source": "aws.events", "stage": "test"}


def test_schedule_runs_on_demand_over_http(stack: LocalStack) -> None:
    response = requests.post(f"{stack.api_url}/_local/schedules/TickFunction", timeout=10)

    assert response.status_code == 200
    assert response.json()["result"]["detailType"] == "Scheduled Event"


def test_unscheduled_function_cannot_be_run_as_a_schedule(stack: LocalStack) -> None:
    with pytest.raises(LocalStackError):
        stack.run_schedule("EchoFunction")


def test_clock_override_sets_the_offset_variable(stack: LocalStack) -> None:
    requests.post(f"{stack.api_url}/_local/clock", json={"offset_seconds": 0}, timeout=10)

    response = requests.post(f"{stack.api_url}/_local/clock", json={"advance_days": 2}, timeout=10)

    assert response.json()["offset_seconds"] == 172800
    assert os.environ[CLOCK_OFFSET_VARIABLE] == "172800.0"


def test_overview_lists_routes_and_schedules(stack: LocalStack) -> None:
    overview = requests.get(f"{stack.api_url}/_local/", timeout=10).json()

    assert {
        "method": "GET",
        "path": "/greet/{name}",
        "function": "GreetFunction",
        "authorizer": None,
    } in overview["routes"]
    assert overview["schedules"][0]["function"] == "TickFunction"


def test_describe_says_how_to_call_the_stack(stack: LocalStack) -> None:
    banner = describe(stack)

    assert f"curl -s -X POST {stack.api_url}/_local/schedules/TickFunction" in banner
    assert "fixture-items" in banner
    assert "Events not driven locally: TickFunction.OnDeploy (EventBridgeRule)" in banner


def test_second_stack_in_the_same_process_is_refused(stack: LocalStack) -> None:
    with pytest.raises(LocalStackError, match="already runs"):
        LocalStack(FIXTURE_TEMPLATE, api_port=0).start()

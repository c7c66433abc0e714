"""The local stack keeps its stores' data across restarts (localstack.persistence).

On the fixture template: items, queued messages, object versions and KMS ciphertexts made before
a stop are all there after the next start; --fresh discards them; a state saved by another moto
version is refused, not half-loaded; a store added to the template is created beside the kept
data; and the state is saved while the stack runs, not only at a clean stop.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
import shutil
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hashmatch_devtools.localstack.errors import LocalStackError
from hashmatch_devtools.localstack.persistence import MotoState, SavedState, _StatePickler
from hashmatch_devtools.localstack.resources import load_local_template, provision_stores
from hashmatch_devtools.localstack.stack import LocalStack
from tests.integration.local_stack_fixture import FIXTURE_TEMPLATE

REGION = "eu-central-1"
STORE_CLIENTS = ("sqs", "dynamodb", "s3")


def a_stack(directory: Path, **options: Any) -> LocalStack:
    return LocalStack(
        FIXTURE_TEMPLATE,
        api_port=0,
        run_schedules=False,
        run_pollers=False,  # messages stay on the queue for the test to find
        state_directory=directory,
        persist=True,
        **options,
    )


def client(stack: LocalStack, service: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.aws_endpoint,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_items_messages_objects_and_ciphertexts_survive_a_restart(tmp_path):
    # Given a stack whose stores were written to, then stopped
    with a_stack(tmp_path) as first:
        resources = first.resources
        client(first, "dynamodb").put_item(
            TableName=resources["ItemsTable"].physical_id,
            Item={"pk": {"S": "item-1"}, "owner": {"S": "o"}},
        )
        client(first, "sqs").send_message(QueueUrl=resources["WorkQueue"].url, MessageBody="m-1")
        bucket = resources["EvidenceBucket"].physical_id
        for body in (b"v1", b"v2"):
            client(first, "s3").put_object(Bucket=bucket, Key="evidence", Body=body)
        sealed = client(first, "kms").encrypt(
            KeyId=resources["DataKey"].physical_id, Plaintext=b"sealed before the restart"
        )["CiphertextBlob"]

    # When it starts again
    with a_stack(tmp_path) as second:
        dynamodb, sqs, s3, kms = (client(second, s) for s in ("dynamodb", "sqs", "s3", "kms"))
        item = dynamodb.get_item(
            TableName=second.resources["ItemsTable"].physical_id, Key={"pk": {"S": "item-1"}}
        )
        (message,) = sqs.receive_message(QueueUrl=second.resources["WorkQueue"].url)["Messages"]
        versions = s3.list_object_versions(Bucket=bucket, Prefix="evidence")["Versions"]
        opened = kms.decrypt(CiphertextBlob=sealed)["Plaintext"]

    # Then everything is there: the same key decrypts what it encrypted before
    assert second.restored
    assert item["Item"]["owner"] == {"S": "o"}
    assert message["Body"] == "m-1"
    assert len(versions) == 2
    assert opened == b"sealed before the restart"
    assert second.resources["DataKey"].physical_id == resources["DataKey"].physical_id


def test_a_fresh_start_discards_the_kept_data(tmp_path):
    with a_stack(tmp_path) as first:
        table = first.resources["ItemsTable"].physical_id
        client(first, "dynamodb").put_item(
            TableName=table, Item={"pk": {"S": "item-1"}, "owner": {"S": "o"}}
        )

    with a_stack(tmp_path, fresh=True) as second:
        items = client(second, "dynamodb").scan(TableName=table)["Items"]

    assert not second.restored
    assert items == []


def test_without_persist_the_stack_keeps_nothing(tmp_path):
    with LocalStack(FIXTURE_TEMPLATE, api_port=0, run_schedules=False, state_directory=tmp_path):
        pass

    assert not (tmp_path / "moto-state.pickle").exists()


def test_a_state_from_another_moto_version_is_refused_and_left_alone(tmp_path):
    with a_stack(tmp_path):
        pass
    path = tmp_path / "moto-state.pickle"
    saved: SavedState = pickle.loads(path.read_bytes())  # noqa: S301 - the test's own file
    buffer = io.BytesIO()
    _StatePickler(buffer).dump(dataclasses.replace(saved, moto_version="0.0.1"))
    path.write_bytes(buffer.getvalue())

    with pytest.raises(LocalStackError, match="--fresh"):
        a_stack(tmp_path).start()

    assert path.read_bytes() == buffer.getvalue()  # the failed start saved nothing over it


@pytest.mark.usefixtures("aws_test_environment")
def test_a_store_added_to_the_template_is_created_beside_the_kept_data(tmp_path):
    # Given stores provisioned from the fixture template, with an item
    changed = tmp_path / "template.yaml"
    shutil.copy(FIXTURE_TEMPLATE, changed)
    text = changed.read_text().replace(
        "\n  WorkDeadLetterQueue:",
        "\n  NotesTable:\n    Type: AWS::DynamoDB::Table\n    Properties:\n"
        '      TableName: !Sub "${AWS::StackName}-notes"\n      BillingMode: PAY_PER_REQUEST\n'
        "      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n"
        "      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n\n  WorkDeadLetterQueue:",
    )
    changed.write_text(text)
    with mock_aws():
        provision(FIXTURE_TEMPLATE, existing=False)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.put_item(TableName="s-items", Item={"pk": {"S": "kept"}, "owner": {"S": "o"}})

        # When the changed template is provisioned over them
        stores = provision(changed, existing=True)
        kept = dynamodb.get_item(TableName="s-items", Key={"pk": {"S": "kept"}})

    # Then the new table exists and the old one kept its item
    assert stores.resources["NotesTable"].physical_id == "s-notes"
    assert "Item" in kept


def provision(template: Path, *, existing: bool) -> Any:
    local = load_local_template(template, region=REGION, stack_name="s")
    return provision_stores(
        local.model,
        cloudformation=boto3.client("cloudformation", region_name=REGION),
        clients={
            name: boto3.client(name, region_name=REGION) for name in ("sqs", "dynamodb", "s3")
        },
        parameters=local.parameters,
        identities=local.identities,
        existing=existing,
    )


@pytest.mark.usefixtures("aws_test_environment")
def test_the_state_is_saved_while_running_not_only_at_a_clean_stop(tmp_path):
    state = MotoState(tmp_path)
    with mock_aws():
        boto3.client("sqs", region_name=REGION).create_queue(QueueName="kept-queue")
        state.start_autosave(interval=0.05)
        deadline = time.monotonic() + 10
        while not state.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        state.stop_autosave()  # the process "dies": no save at stop
    with mock_aws():  # a new, empty moto
        restored = state.restore()
        queues = boto3.client("sqs", region_name=REGION).list_queues().get("QueueUrls", [])

    assert restored is not None
    assert [url.rsplit("/", 1)[1] for url in queues] == ["kept-queue"]

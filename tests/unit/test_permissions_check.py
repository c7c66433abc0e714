"""The permission check of tests/permissions.py itself: what a call needs, what a role allows."""

from __future__ import annotations

from pathlib import Path

from tests.permissions import Need, Recorder, TemplateRoles, allowed, needs, violations

TEMPLATE = """
Resources:
  Key:
    Type: AWS::KMS::Key
  Things:
    Type: AWS::DynamoDB::Table
    Properties:
      SSESpecification: {SSEEnabled: true, SSEType: KMS, KMSMasterKeyId: !Ref Key}
  Queue:
    Type: AWS::SQS::Queue
    Properties: {KmsMasterKeyId: !Ref Key}
  Bucket:
    Type: AWS::S3::Bucket
  DoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: functions.do_things.app.lambda_handler
      Role: !GetAtt DoFunctionRole.Arn
  DoFunctionRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: [dynamodb:GetItem, dynamodb:Query]
                Resource: !GetAtt Things.Arn
              - Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt Queue.Arn
              - Effect: Allow
                Action: s3:GetObject
                Resource: !Sub "${Bucket.Arn}/index/*"
              - Effect: Allow
                Action: kms:Decrypt
                Resource: !GetAtt Key.Arn
"""
PHYSICAL = {"t-things": "Things", "https://sqs/q-queue": "Queue", "b-bucket": "Bucket", "k1": "Key"}


def check(tmp_path: Path, *calls: tuple[str, str, dict[str, object]]) -> list[str]:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    recorder = Recorder()
    recorder.physical.update(PHYSICAL)
    recorder.calls.extend(("do_things", service, op, params) for service, op, params in calls)
    return violations(recorder, TemplateRoles.load(path))


def test_calls_the_role_allows_pass(tmp_path):
    assert (
        check(
            tmp_path,
            ("dynamodb", "GetItem", {"TableName": "t-things", "Key": {}}),
            ("s3", "GetObject", {"Bucket": "b-bucket", "Key": "index/current"}),
            ("s3", "HeadObject", {"Bucket": "b-bucket", "Key": "index/current"}),
        )
        == []
    )


def test_an_action_the_role_lacks_is_reported_with_its_call(tmp_path):
    found = check(tmp_path, ("dynamodb", "PutItem", {"TableName": "t-things", "Item": {}}))

    assert found == ["DoFunction: dynamodb:PutItem on Things (needed by dynamodb:PutItem)"]


def test_a_tables_arn_does_not_cover_its_indexes(tmp_path):
    found = check(tmp_path, ("dynamodb", "Query", {"TableName": "t-things", "IndexName": "ByDay"}))

    assert found == ["DoFunction: dynamodb:Query on Things/index/ByDay (needed by dynamodb:Query)"]


def test_an_object_outside_the_granted_prefix_is_reported(tmp_path):
    found = check(tmp_path, ("s3", "GetObject", {"Bucket": "b-bucket", "Key": "other/x"}))

    assert found == ["DoFunction: s3:GetObject on Bucket/other/x (needed by s3:GetObject)"]


def test_a_transaction_needs_each_parts_action(tmp_path):
    items = [{"Put": {"TableName": "t-things"}}, {"Update": {"TableName": "t-things"}}]

    found = check(tmp_path, ("dynamodb", "TransactWriteItems", {"TransactItems": items}))

    assert [line.split(" (")[0] for line in found] == [
        "DoFunction: dynamodb:PutItem on Things",
        "DoFunction: dynamodb:UpdateItem on Things",
    ]


def test_sending_to_an_encrypted_queue_needs_the_key_to_generate_data_keys(tmp_path):
    found = check(tmp_path, ("sqs", "SendMessage", {"QueueUrl": "https://sqs/q-queue"}))

    assert found == [
        "DoFunction: kms:GenerateDataKey on Key (needed by sqs:SendMessage (encrypted))"
    ]


def test_a_handler_without_a_function_in_the_template_is_reported(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    recorder = Recorder()
    recorder.calls.append(("ghost", "sts", "GetCallerIdentity", {}))

    assert violations(recorder, TemplateRoles.load(path)) == [
        "ghost: - on - (needed by a handler with no function in template.yaml)"
    ]


def test_a_wildcard_action_allows_and_a_deny_does_not():
    need = Need("F", "dynamodb:GetItem", "Things", "dynamodb:GetItem")
    wildcard = {
        "Effect": "Allow",
        "Action": "dynamodb:*",
        "Resource": {"Fn::GetAtt": ["Things", "Arn"]},
    }
    deny = {**wildcard, "Effect": "Deny"}

    assert allowed([wildcard], need)
    assert not allowed([deny], need)


def test_a_queue_url_names_its_queue():
    found = needs("F", "sqs", "ReceiveMessage", {"QueueUrl": "https://sqs/q-queue"}, PHYSICAL, {})

    assert found == [Need("F", "sqs:ReceiveMessage", "Queue", "sqs:ReceiveMessage")]


def test_a_required_setting_missing_from_the_functions_environment_is_reported(tmp_path):
    from pydantic import BaseModel

    from tests.permissions import missing_settings

    class ThingSettings(BaseModel):
        things_table: str
        page_size: int = 10

    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    recorder = Recorder()
    recorder.settings.add(("do_things", ThingSettings))

    assert missing_settings(recorder, TemplateRoles.load(path)) == [
        "DoFunction: environment variable THINGS_TABLE (ThingSettings)"
    ]
    path.write_text(
        TEMPLATE.replace(
            "      Role: !GetAtt DoFunctionRole.Arn\n",
            "      Role: !GetAtt DoFunctionRole.Arn\n"
            "      Environment: {Variables: {THINGS_TABLE: !Ref Things}}\n",
        )
    )
    assert missing_settings(recorder, TemplateRoles.load(path)) == []

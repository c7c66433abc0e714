"""The review pieces of the template: the outbound and notification queues, their dead-letter
queues and alarms, the consumers' wiring, the recipients' secret, and each function's role."""

from __future__ import annotations

from typing import Any

import pytest

from hashmatch.adapters.dynamodb_indicators import NEEDS_REVIEW_INDEX
from hashmatch.reports.delivering import MAX_RECEIVES
from tests.template.conftest import resources_of_type

CONSUMERS = {
    "OutboundQueue": "ForwardReportsFunction",
    "NotificationsQueue": "NotifyProvidersFunction",
}
DEAD_LETTERS = {
    "OutboundQueue": ("OutboundDeadLetterQueue", "OutboundDeadLetterAlarm"),
    "NotificationsQueue": ("NotificationsDeadLetterQueue", "NotificationsDeadLetterAlarm"),
}


def statements(cfn_template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = cfn_template["Resources"][f"{function}Role"]
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def allowed(cfn_template: dict[str, Any], function: str) -> set[tuple[str, str]]:
    """(action, resource as written) of every statement of the function's inline policies."""
    pairs = set()
    for statement in statements(cfn_template, function):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        for action in actions:
            for resource in resources:
                pairs.add((action, str(resource)))
    return pairs


@pytest.mark.parametrize("queue", sorted(DEAD_LETTERS))
def test_each_outbound_queue_dead_letters_after_the_consumers_last_receive(cfn_template, queue):
    properties = cfn_template["Resources"][queue]["Properties"]
    dead_letter_queue, _ = DEAD_LETTERS[queue]

    assert properties["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dead_letter_queue, "Arn"]},
        "maxReceiveCount": MAX_RECEIVES,
    }
    assert properties["KmsMasterKeyId"] == {"Ref": "HashmatchKey"}


@pytest.mark.parametrize("queue", sorted(CONSUMERS))
def test_the_visibility_timeout_is_six_times_the_consumers_timeout(cfn_template, queue):
    consumer = cfn_template["Resources"][CONSUMERS[queue]]["Properties"]

    assert (
        cfn_template["Resources"][queue]["Properties"]["VisibilityTimeout"]
        == 6 * consumer["Timeout"]
    )


@pytest.mark.parametrize("queue", sorted(CONSUMERS))
def test_each_consumer_reports_partial_batch_failures(cfn_template, queue):
    mappings = resources_of_type(cfn_template, "AWS::Lambda::EventSourceMapping").values()
    (mapping,) = [
        m["Properties"]
        for m in mappings
        if m["Properties"]["FunctionName"] == {"Ref": CONSUMERS[queue]}
    ]

    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


@pytest.mark.parametrize("queue", sorted(DEAD_LETTERS))
def test_the_first_dead_letter_raises_an_alarm_to_the_alarm_topic(cfn_template, queue):
    dead_letter_queue, alarm_name = DEAD_LETTERS[queue]
    alarm = cfn_template["Resources"][alarm_name]["Properties"]

    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_queue, "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_only_forward_reports_reads_the_recipients_secret_which_the_stack_key_encrypts(
    cfn_template,
):
    secret = cfn_template["Resources"]["RecipientCredentialsSecret"]["Properties"]
    readers = {
        function
        for function in resources_of_type(cfn_template, "AWS::Lambda::Function")
        if any(
            action.startswith("secretsmanager:") for action, _ in allowed(cfn_template, function)
        )
    }

    assert secret["KmsKeyId"] == {"Ref": "HashmatchKey"}
    assert readers == {"ForwardReportsFunction"}
    assert allowed(cfn_template, "ForwardReportsFunction") >= {
        ("secretsmanager:GetSecretValue", str({"Ref": "RecipientCredentialsSecret"}))
    }


def test_review_reports_updates_reports_but_never_creates_deletes_or_scans(cfn_template):
    actions = {action for action, _ in allowed(cfn_template, "ReviewReportsFunction")}

    assert {"dynamodb:GetItem", "dynamodb:UpdateItem", "sqs:SendMessage"} <= actions
    assert not {"dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:BatchWriteItem"} & actions
    assert ("dynamodb:PutItem", str({"Fn::GetAtt": ["ReportsTable", "Arn"]})) not in allowed(
        cfn_template, "ReviewReportsFunction"
    )


def test_review_reports_sends_only_to_the_outbound_and_notification_queues(cfn_template):
    sent_to = {
        r for a, r in allowed(cfn_template, "ReviewReportsFunction") if a == "sqs:SendMessage"
    }

    assert sent_to == {
        str({"Fn::GetAtt": ["OutboundQueue", "Arn"]}),
        str({"Fn::GetAtt": ["NotificationsQueue", "Arn"]}),
    }


def test_the_consumers_may_only_back_off_their_own_queue(cfn_template):
    for queue, function in CONSUMERS.items():
        backed_off = {
            r for a, r in allowed(cfn_template, function) if a == "sqs:ChangeMessageVisibility"
        }
        assert backed_off == {str({"Fn::GetAtt": [queue, "Arn"]})}, function


def test_the_review_workflows_parameters_have_the_documented_defaults(sam_template):
    parameters = sam_template["Parameters"]

    assert parameters["ReviewClaimLeaseMinutes"]["Default"] == 30
    assert parameters["DoNotInformMaxDays"]["Default"] == 548
    assert parameters["DoNotInformMaxDays"]["MaxValue"] == 548
    assert parameters["RecipientEndpoints"]["Default"] == "{}"


def test_the_reverification_list_is_a_sparse_index_on_the_indicators(cfn_template):
    indexes = cfn_template["Resources"]["IndicatorsTable"]["Properties"]["GlobalSecondaryIndexes"]
    (index,) = [i for i in indexes if i["IndexName"] == NEEDS_REVIEW_INDEX]

    assert [part["AttributeName"] for part in index["KeySchema"]] == ["review_flag", "review_key"]

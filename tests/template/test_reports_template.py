"""The reports pieces of the template: queue settings, DLQ alarm, intake wiring, table indexes."""

from __future__ import annotations

from hashmatch.adapters.dynamodb_reports import (
    BY_PROVIDER_INDEX,
    BY_PROVIDER_STATUS_INDEX,
    DUE_INDEX,
    PART_INDEXES,
    REVIEW_QUEUE_INDEX,
)
from tests.template.conftest import resources_of_type


def event_source_of(cfn_template, function: str) -> dict:
    mappings = resources_of_type(cfn_template, "AWS::Lambda::EventSourceMapping").values()
    (mapping,) = [m for m in mappings if m["Properties"]["FunctionName"] == {"Ref": function}]
    return mapping["Properties"]


def test_the_reports_queue_dead_letters_after_five_receives(cfn_template):
    queue = cfn_template["Resources"]["ReportsQueue"]["Properties"]

    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ReportsDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }


def test_the_visibility_timeout_is_six_times_the_intake_timeout(cfn_template):
    queue = cfn_template["Resources"]["ReportsQueue"]["Properties"]
    intake = cfn_template["Resources"]["IntakeReportsFunction"]["Properties"]

    assert queue["VisibilityTimeout"] == 6 * intake["Timeout"]


def test_queue_retention_comes_from_the_parameters(cfn_template):
    resources = cfn_template["Resources"]

    assert resources["ReportsQueue"]["Properties"]["MessageRetentionPeriod"] == {
        "Ref": "ReportQueueRetentionSeconds"
    }
    assert resources["ReportsDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == {
        "Ref": "DeadLetterRetentionSeconds"
    }
    assert cfn_template["Parameters"]["ReportQueueRetentionSeconds"]["Default"] == 4 * 86400
    assert cfn_template["Parameters"]["DeadLetterRetentionSeconds"]["Default"] == 14 * 86400


def test_intake_reports_partial_batch_failures_from_the_reports_queue(cfn_template):
    mapping = event_source_of(cfn_template, "IntakeReportsFunction")

    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["ReportsQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10


def test_the_first_dead_lettered_report_raises_an_alarm_to_the_alarm_topic(cfn_template):
    alarm = cfn_template["Resources"]["ReportsDeadLetterAlarm"]["Properties"]

    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ReportsDeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "GreaterThanOrEqualToThreshold",
        1,
    )
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    topic = cfn_template["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "HashmatchKey"}


def test_the_reports_table_indexes_serve_providers_and_reviewers(cfn_template):
    table = cfn_template["Resources"]["ReportsTable"]["Properties"]
    indexes = {
        index["IndexName"]: [part["AttributeName"] for part in index["KeySchema"]]
        for index in table["GlobalSecondaryIndexes"]
    }

    assert indexes == {
        BY_PROVIDER_INDEX: ["provider", "filed_key"],
        BY_PROVIDER_STATUS_INDEX: ["provider_status", "filed_key"],
        REVIEW_QUEUE_INDEX: ["status", "review_key"],
        DUE_INDEX: ["due_day", "report_id"],  # erase_expired's due-date index
        # ... and those of the parts of a report with periods of their own
        **{index: [day, "report_id"] for index, day, _ in PART_INDEXES.values()},
    }


def test_the_idempotency_table_has_powertools_key_and_expiry(cfn_template):
    table = cfn_template["Resources"]["IdempotencyTable"]["Properties"]

    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}

"""Published reports are immutable and the public side can only read them."""

from __future__ import annotations

from typing import Any

from tests.template.conftest import resources_of_type


def statements_of(cfn_template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = cfn_template["Resources"][f"{function}Role"]["Properties"]
    return [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        actions = statement["Action"]
        found.update([actions] if isinstance(actions, str) else actions)
    return found


def test_reports_are_locked_in_compliance_mode_for_the_parameter_s_days(cfn_template):
    bucket = cfn_template["Resources"]["TransparencyBucket"]["Properties"]

    assert bucket["ObjectLockEnabled"] is True
    retention = bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention == {"Mode": "COMPLIANCE", "Days": {"Ref": "TransparencyReportLockDays"}}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(bucket["PublicAccessBlockConfiguration"].values())


def test_the_public_function_may_only_read_published_reports(cfn_template):
    statements = statements_of(cfn_template, "ServeTransparencyFunction")

    # Beyond what every function has (its own log group, traces): read the reports, nothing else.
    own = {s["Sid"] for s in statements} - {"WriteOwnLogs", "WriteTraces"}
    assert actions_of([s for s in statements if s["Sid"] in own]) == {
        "s3:GetObject",
        "s3:ListBucket",
        "kms:Decrypt",
    }


def test_only_the_publisher_writes_reports_and_it_may_not_delete_them(cfn_template):
    writers = [
        name
        for name in resources_of_type(cfn_template, "AWS::Lambda::Function")
        if "s3:PutObject" in actions_of(statements_of(cfn_template, name))
        and any(
            "TransparencyBucket" in str(s["Resource"])
            for s in statements_of(cfn_template, name)
            if "s3:PutObject" in actions_of([s])
        )
    ]
    assert writers == ["PublishStatisticsFunction"]
    actions = actions_of(statements_of(cfn_template, "PublishStatisticsFunction"))
    assert not {a for a in actions if "Delete" in a or a.endswith("*")}


def test_the_publisher_runs_daily_and_the_small_cell_threshold_is_a_parameter(cfn_template):
    function = cfn_template["Resources"]["PublishStatisticsFunction"]["Properties"]
    variables = function["Environment"]["Variables"]

    assert variables["SMALL_CELL_THRESHOLD"] == {"Ref": "TransparencySmallCellThreshold"}
    assert cfn_template["Parameters"]["TransparencySmallCellThreshold"]["Default"] == 5
    rules = resources_of_type(cfn_template, "AWS::Events::Rule")
    schedules = [r["Properties"]["ScheduleExpression"] for r in rules.values()]
    assert "cron(0 6 * * ? *)" in schedules

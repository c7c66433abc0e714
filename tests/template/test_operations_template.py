"""Operations in the template: every function, queue and schedule is alarmed, every alarm reaches
the alarm topic and has a runbook in docs/operations.md, custom-metric alarms watch metrics the
code emits, and the dashboard shows only alarms that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hashmatch.observability import SERVICE_NAME, STACK_DIMENSION, MetricName
from tests.template.conftest import resources_of_type

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
RUNBOOK_HEADING = re.compile(r"^#{2,4} .*`<stack>-([a-z0-9-]+)`", re.MULTILINE)


def alarms(cfn_template) -> dict[str, dict[str, Any]]:
    return {
        name: alarm["Properties"]
        for name, alarm in resources_of_type(cfn_template, "AWS::CloudWatch::Alarm").items()
    }


def alarm_name(properties: dict[str, Any]) -> str:
    """The alarm's name as the runbooks spell it: <stack>-... for ${AWS::StackName}-..."""
    return str(properties["AlarmName"]["Fn::Sub"]).replace("${AWS::StackName}", "<stack>")


def watched_metrics(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm reads: {Namespace, MetricName, Dimensions}, plain or in math."""
    if "MetricName" in properties:
        return [properties]
    return [m["MetricStat"]["Metric"] for m in properties["Metrics"] if "MetricStat" in m]


def dimension(metric: dict[str, Any], name: str) -> Any:
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}.get(name)


def alarmed(cfn_template, metric_name: str, namespace: str = "AWS/Lambda") -> set[str]:
    """Logical ids of the functions (or queues) whose `metric_name` some alarm watches."""
    found = set()
    for properties in alarms(cfn_template).values():
        for metric in watched_metrics(properties):
            if (metric["Namespace"], metric["MetricName"]) == (namespace, metric_name):
                value = dimension(metric, "FunctionName") or dimension(metric, "QueueName")
                found.add(value.get("Ref") or value.get("Fn::GetAtt", [None])[0])
    return found


def test_every_function_has_an_errors_and_a_throttles_alarm(cfn_template):
    functions = set(resources_of_type(cfn_template, "AWS::Lambda::Function"))

    assert functions - alarmed(cfn_template, "Errors") == set()
    assert functions - alarmed(cfn_template, "Throttles") == set()


def test_every_scheduled_function_is_alarmed_when_it_stops_running(cfn_template):
    scheduled = {
        rule["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0]
        for rule in resources_of_type(cfn_template, "AWS::Events::Rule").values()
    }
    not_running = {
        name
        for name, properties in alarms(cfn_template).items()
        if properties.get("MetricName") == "Invocations"
        and properties["ComparisonOperator"] == "LessThanThreshold"
        and properties["TreatMissingData"] == "breaching"
    }

    assert scheduled == {
        "BuildIndexFunction",
        "EraseExpiredFunction",
        "AnchorAuditFunction",
        "PublishStatisticsFunction",
    }
    assert alarmed(cfn_template, "Invocations") == scheduled
    assert len(not_running) == len(scheduled)


def test_every_dead_letter_queue_alarms_on_its_first_message(cfn_template):
    queues = resources_of_type(cfn_template, "AWS::SQS::Queue")
    dead_letter_queues = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    first_message = {
        name
        for name, properties in alarms(cfn_template).items()
        if properties.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and properties["Threshold"] == 1
        and properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    }

    assert dead_letter_queues
    assert dead_letter_queues <= alarmed(
        cfn_template, "ApproximateNumberOfMessagesVisible", "AWS/SQS"
    )
    assert len(first_message) >= len(dead_letter_queues)


def test_every_alarm_notifies_the_alarm_topic_and_has_a_runbook(cfn_template):
    runbooks = set(RUNBOOK_HEADING.findall(OPERATIONS.read_text(encoding="utf-8")))

    named = set()
    for logical_id, properties in alarms(cfn_template).items():
        name = alarm_name(properties)
        named.add(name.removeprefix("<stack>-"))
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert properties["OKActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert name.removeprefix("<stack>-") in runbooks, f"no runbook for {name}"
        description = " ".join(properties["AlarmDescription"].split())
        assert f'docs/operations.md, "{name.removeprefix("<stack>-")}"' in description

    assert runbooks - named == set(), "runbooks of alarms that do not exist"


def test_alarms_on_our_own_metrics_watch_what_the_code_emits_for_this_stack(cfn_template):
    emitted = {metric.value for metric in MetricName}

    watched = set()
    for properties in alarms(cfn_template).values():
        for metric in watched_metrics(properties):
            if metric["Namespace"] != SERVICE_NAME:
                continue
            watched.add(metric["MetricName"])
            assert dimension(metric, "service") == SERVICE_NAME
            assert dimension(metric, STACK_DIMENSION) == {"Ref": "AWS::StackName"}

    assert watched
    assert watched <= emitted


def test_a_stale_or_unbuilt_index_alarms_after_the_parameters_minutes(cfn_template):
    stale = alarms(cfn_template)["IndexStaleAlarm"]

    assert stale["Threshold"] == {"Ref": "IndexStaleMinutes"}
    assert stale["TreatMissingData"] == "breaching"
    (metric,) = watched_metrics(stale)
    assert metric["MetricName"] == MetricName.INDEX_STALENESS_SECONDS


def test_operators_may_be_subscribed_by_a_parameter(cfn_template):
    subscription = cfn_template["Resources"]["AlarmEmailSubscription"]

    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert cfn_template["Parameters"]["AlarmEmail"]["Default"] == ""
    topic = cfn_template["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "HashmatchKey"}


def test_the_dashboard_is_json_and_shows_only_alarms_that_exist(cfn_template):
    body = cfn_template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]
    text = body["Fn::Sub"]
    names = {alarm_name(p).removeprefix("<stack>-") for p in alarms(cfn_template).values()}

    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))
    shown = [
        arn.rsplit(":alarm:", 1)[1].removeprefix("${AWS::StackName}-")
        for widget in dashboard["widgets"]
        if widget["type"] == "alarm"
        for arn in re.findall(r'"(arn:[^"]+:alarm:[^"]+)"', text)
    ]
    assert shown
    assert set(shown) <= names

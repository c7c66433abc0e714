"""Retention in the template: one source per period. TTL backstops, the S3 lifecycle rule, SQS
message retention, CloudWatch log retention and the functions' retention policy all come from
the same Parameters, and no retention number is written anywhere else."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from hashmatch.retention_policy import RetentionPolicy
from tests.template.conftest import resources_of_type

DAY_SECONDS = 86_400
# The property names that hold a retention period, wherever they appear.
RETENTION_PROPERTIES = frozenset(
    {"RetentionInDays", "MessageRetentionPeriod", "NoncurrentDays", "ExpirationInDays"}
)
POLICY_PARAMETERS = {
    "match_events": "MatchEventRetentionDays",
    "unfounded_reports": "UnfoundedReportRetentionDays",
    "forwarded_reports": "ForwardedReportRetentionDays",
    "revoked_provenance": "RevokedProvenanceRetentionDays",
    "audit_entries": "AuditRetentionDays",
    "statistics": "StatisticsRetentionDays",
    "legal_hold_max": "LegalHoldMaxDays",
    "claims": "ClaimRetentionDays",
    "information_requests": "InformationRequestRetentionDays",
    "outbound_messages": "OutboundMessageRetentionDays",
    "probing_sketches": "ProbingSketchRetentionDays",
}


def walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), item
            yield from walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, (*path, str(index)))


def default(template: dict[str, Any], parameter: str) -> int:
    return int(template["Parameters"][parameter]["Default"])


def retention_days_of(function: dict[str, Any]) -> dict[str, str]:
    """RETENTION_DAYS as written: policy key -> the Parameter its value names.

    The variable is a JSON object whose values are ``${Parameter}`` substitutions: replacing
    each with its quoted name leaves JSON that says which Parameter feeds which key.
    """
    text = function["Properties"]["Environment"]["Variables"]["RETENTION_DAYS"]["Fn::Sub"]
    named: dict[str, str] = json.loads(re.sub(r"\$\{(\w+)\}", r'"\1"', text))
    return named


def test_every_function_gets_the_whole_policy_from_the_parameters(cfn_template):
    functions = resources_of_type(cfn_template, "AWS::Lambda::Function")

    for name, function in functions.items():
        assert retention_days_of(function) == POLICY_PARAMETERS, name


def test_the_policy_the_functions_read_is_the_parameters_defaults(sam_template):
    days = {key: default(sam_template, parameter) for key, parameter in POLICY_PARAMETERS.items()}

    policy = RetentionPolicy.model_validate(days)

    assert policy.match_events.days == 90
    assert policy.unfounded_reports.days == 30
    assert policy.forwarded_reports.days == 365
    assert policy.audit_entries.days == 1826  # 5 years
    assert policy.legal_hold_max.days == 548  # 18 months
    assert policy.claims.days == 7
    assert policy.information_requests.days == 30
    assert policy.outbound_messages.days == 90


def test_every_retention_property_refers_to_a_parameter(cfn_template):
    found = [
        (path, value)
        for path, value in walk(cfn_template["Resources"])
        if path[-1] in RETENTION_PROPERTIES
    ]

    assert found
    for path, value in found:
        assert isinstance(value, dict), f"{'.'.join(path)} is written as a number"
        assert value.get("Ref") in cfn_template["Parameters"], ".".join(path)


def test_log_groups_keep_logs_for_log_retention_days(cfn_template):
    groups = resources_of_type(cfn_template, "AWS::Logs::LogGroup")

    assert {g["Properties"]["RetentionInDays"]["Ref"] for g in groups.values()} == {
        "LogRetentionDays"
    }
    assert default(cfn_template, "LogRetentionDays") == 30


def test_queues_keep_messages_4_days_and_dead_letters_14_days(cfn_template):
    resources = cfn_template["Resources"]

    queue = resources["ReportsQueue"]["Properties"]["MessageRetentionPeriod"]
    dead_letters = resources["ReportsDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"]

    assert queue == {"Ref": "ReportQueueRetentionSeconds"}
    assert dead_letters == {"Ref": "DeadLetterRetentionSeconds"}
    assert default(cfn_template, "ReportQueueRetentionSeconds") == 4 * DAY_SECONDS
    assert default(cfn_template, "DeadLetterRetentionSeconds") == 14 * DAY_SECONDS


def test_replaced_snapshots_expire_by_the_lifecycle_rule(cfn_template):
    rules = cfn_template["Resources"]["SnapshotBucket"]["Properties"]["LifecycleConfiguration"]

    (rule,) = rules["Rules"]

    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == {
        "Ref": "SnapshotVersionRetentionDays"
    }


def test_ttl_backstops_are_on_the_tables_whose_writers_get_the_policy(cfn_template):
    functions = resources_of_type(cfn_template, "AWS::Lambda::Function")
    ttl = {
        name: table["Properties"]["TimeToLiveSpecification"]["AttributeName"]
        for name, table in resources_of_type(cfn_template, "AWS::DynamoDB::Table").items()
        if "TimeToLiveSpecification" in table["Properties"]
    }
    writers = {
        "MatchEventsTable": "MatchHashesFunction",
        "ReportsTable": "IntakeReportsFunction",
    }

    # The TTL values are computed by the adapters from the same policy (due date + the longest
    # legal hold), so the tables only name the attribute.
    assert ttl["MatchEventsTable"] == "expires_at_epoch"
    assert ttl["ReportsTable"] == "expires_at_epoch"
    assert ttl["ProbingTable"] == "erase_after_epoch"
    assert "AuditTable" not in ttl  # TTL would erase entries without a checkpoint
    for table, writer in writers.items():
        assert retention_days_of(functions[writer]) == POLICY_PARAMETERS, table


def test_due_date_indexes_let_erasure_find_what_is_due_without_a_scan(cfn_template):
    resources = cfn_template["Resources"]

    def index_keys(table: str, index: str) -> list[str]:
        indexes = resources[table]["Properties"]["GlobalSecondaryIndexes"]
        (found,) = [i for i in indexes if i["IndexName"] == index]
        return [part["AttributeName"] for part in found["KeySchema"]]

    assert index_keys("MatchEventsTable", "ByDueDay") == ["due_day", "match_id"]
    assert index_keys("ReportsTable", "ByDueDay") == ["due_day", "report_id"]
    assert index_keys("ProbingTable", "ByDueDay") == ["due_day", "id"]
    assert index_keys("IndicatorsTable", "ProvenanceDue") == ["provenance_due_day", "id"]
    assert index_keys("LegalHoldsTable", "ByEndDay") == ["end_day", "hold_id"]
    assert index_keys("ReportsTable", "ClaimsDue") == ["claim_due_day", "report_id"]
    assert index_keys("ReportsTable", "InformationDue") == ["information_due_day", "report_id"]
    assert index_keys("ReportsTable", "OutboundDue") == ["outbound_due_day", "report_id"]


def test_a_forwarded_copy_outlives_its_dead_letter_so_a_redrive_still_finds_it(sam_template):
    parameters = sam_template["Parameters"]

    dead_letter_days = default(sam_template, "DeadLetterRetentionSeconds") / DAY_SECONDS

    assert parameters["OutboundMessageRetentionDays"]["MinValue"] > dead_letter_days


def test_erase_expired_may_not_scan_and_queries_only_due_date_indexes(cfn_template):
    role = cfn_template["Resources"]["EraseExpiredFunctionRole"]
    statements = [
        statement
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]

    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    (query,) = [s for s in statements if s["Action"] == "dynamodb:Query"]

    assert "dynamodb:Scan" not in actions
    assert [r.get("Fn::Sub", "") for r in query["Resource"]][:5] == [
        "${MatchEventsTable.Arn}/index/ByDueDay",
        "${ReportsTable.Arn}/index/ByDueDay",
        "${IndicatorsTable.Arn}/index/ProvenanceDue",
        "${LegalHoldsTable.Arn}/index/ByTarget",
        "${LegalHoldsTable.Arn}/index/ByEndDay",
    ]


def test_erase_expired_runs_hourly_one_at_a_time(sam_template):
    function = sam_template["Resources"]["EraseExpiredFunction"]["Properties"]

    assert function["Events"]["Hourly"]["Properties"]["Schedule"] == "rate(1 hour)"
    assert function["ReservedConcurrentExecutions"] == 1

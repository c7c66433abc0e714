"""The audit chain's anchors in the template: an Object Lock bucket in compliance mode, written
every 5 minutes and by erasure, and nobody's role able to remove or unlock an anchor."""

from __future__ import annotations

from typing import Any

from tests.template.conftest import resources_of_type

ANCHOR_WRITERS = {"AnchorAuditFunctionRole", "EraseExpiredFunctionRole"}
NEVER_GRANTED = ("s3:Delete", "s3:PutObjectRetention", "s3:PutBucketObjectLock", "s3:Bypass")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def mentions_the_anchor_bucket(resource: Any) -> bool:
    return "AuditAnchorBucket" in str(resource)


def test_anchors_are_locked_in_compliance_mode_for_a_parameters_days(cfn_template):
    bucket = cfn_template["Resources"]["AuditAnchorBucket"]["Properties"]

    assert bucket["ObjectLockEnabled"] is True
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {
            "DefaultRetention": {"Mode": "COMPLIANCE", "Days": {"Ref": "AuditAnchorRetentionDays"}}
        },
    }
    default = cfn_template["Parameters"]["AuditAnchorRetentionDays"]["Default"]
    assert default == cfn_template["Parameters"]["AuditRetentionDays"]["Default"]


def test_only_the_anchor_function_and_erasure_write_anchors_and_no_role_removes_one(cfn_template):
    writers = set()
    for name, role in resources_of_type(cfn_template, "AWS::IAM::Role").items():
        for policy in role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                if not mentions_the_anchor_bucket(statement["Resource"]):
                    continue
                actions = as_list(statement["Action"])
                assert not [a for a in actions if a.startswith(NEVER_GRANTED)], name
                assert actions == ["s3:PutObject"], name
                writers.add(name)

    assert writers == ANCHOR_WRITERS


def test_the_head_is_anchored_every_five_minutes_and_erasure_knows_the_bucket(sam_template):
    resources = sam_template["Resources"]
    anchor = resources["AnchorAuditFunction"]["Properties"]
    erase = resources["EraseExpiredFunction"]["Properties"]

    assert anchor["Events"]["EveryFiveMinutes"]["Properties"]["Schedule"] == "rate(5 minutes)"
    for function in (anchor, erase):
        assert function["Environment"]["Variables"]["AUDIT_ANCHOR_BUCKET"] == {
            "Ref": "AuditAnchorBucket"
        }


def test_buckets_without_access_logs_have_their_object_access_in_the_trail(sam_template):
    resources = sam_template["Resources"]
    trail = resources["AccessTrail"]["Properties"]
    (selector,) = trail["EventSelectors"]
    (data,) = selector["DataResources"]
    traced = {value["Fn::Sub"].split(".Arn}")[0].removeprefix("${") for value in data["Values"]}
    skipping_access_logs = {
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::S3::Bucket"
        and any(
            skip["id"] == "CKV_AWS_18"
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
        )
    }

    assert (trail["EnableLogFileValidation"], trail["IsLogging"]) == (True, True)
    assert trail["KMSKeyId"] == {"Fn::GetAtt": ["HashmatchKey", "Arn"]}
    assert (data["Type"], selector["ReadWriteType"]) == ("AWS::S3::Object", "All")
    assert trail["S3BucketName"] == {"Ref": "AccessTrailBucket"}
    # Every bucket that skips S3 access logs is in the trail, but the trail's own destination.
    assert skipping_access_logs - traced == {"AccessTrailBucket"}

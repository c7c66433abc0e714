"""Concurrency and faults of review over HTTP on the local stack: two reviewers deciding one
report at once; a recipient that fails twice and then takes the message; a recipient that
always fails, whose message ends in the dead-letter queue where the template's alarm fires."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.yaml_helper import yaml_parse

from hashmatch import bootstrap
from hashmatch.access.model import OrganisationKind, Principal, Role
from hashmatch_client.sdk import ApiError, HashmatchClient
from hashmatch_devtools.fake_recipients import FakeRecipients
from hashmatch_devtools.localstack.stack import LocalStack
from tests.e2e.helpers import wait_for
from tests.factories import a_match_event, in_new_organisation

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
EUROPOL_ONLY = {"outcome": "forward", "europol_only": True, "internal_note": "unclear state"}


class Desk:
    """A provider with reports to file and two reviewers, over the API."""

    def __init__(self, stack: LocalStack) -> None:
        service = bootstrap.client_service()

        def create(role: Role, owner: str) -> Any:
            return service.create(
                role=role,
                organisation_id=in_new_organisation(
                    service,
                    owner,
                    OrganisationKind.PROVIDER
                    if role is Role.PROVIDER
                    else OrganisationKind.AUTHORITY,
                ),
                purpose="review faults test",
                legal_basis="test",
                valid_for=timedelta(days=1),
                databases=("known",),
                hash_types=("pdq",),
            )

        provider = create(Role.PROVIDER, "E2E Faults Hosting")
        self.principal = Principal.of(provider.client)
        self.provider = HashmatchClient(stack.api_url, provider.api_key)
        self.alice = HashmatchClient(stack.api_url, create(Role.REVIEWER, "EU Centre A").api_key)
        self.bob = HashmatchClient(stack.api_url, create(Role.REVIEWER, "EU Centre B").api_key)

    def stored_report(self) -> str:
        """A filed report taken in by intake (its match event made in place of a scan)."""
        event = a_match_event(self.principal, datetime.now(UTC))
        bootstrap.match_event_store().put_many([event])
        filed = self.provider.file_report(
            {
                "match_ids": [event.match_id],
                "content_ref": "upload-9a1",
                "content_type": "image",
                "detected_at": datetime.now(UTC).isoformat(),
                "legal_basis": "Regulation (EU) 2021/1232",
            }
        )
        report_id = str(filed["report_id"])
        wait_for(lambda: self._stored(report_id), "intake")
        return report_id

    def _stored(self, report_id: str) -> bool:
        try:
            return self.provider.get_report(report_id)["status"] == "stored"
        except ApiError:
            return False

    def deliveries(self, report_id: str) -> list[tuple[str, int]]:
        history = self.alice.review_report(report_id)["history"]
        return [(h["step"], h["attempt"]) for h in history if h["recipient"] == "europol"]


@pytest.fixture
def desk(local_stack: LocalStack, recipients: FakeRecipients) -> Desk:
    recipients.reset()
    return Desk(local_stack)


def test_two_reviewers_deciding_one_report_at_once_one_wins_the_other_gets_409(desk):
    report_id = desk.stored_report()
    unfounded = {"outcome": "manifestly_unfounded", "reasons": ["outside_scope"]}

    def decide(client: HashmatchClient, body: dict[str, Any]) -> int:
        try:
            client.decide(report_id, body)
        except ApiError as refused:
            return refused.status
        return 200

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(decide, [desk.alice, desk.bob], [EUROPOL_ONLY, unfounded]))

    assert sorted(answers) == [200, 409]
    status = desk.alice.review_report(report_id)["status"]
    assert status == ("forwarded" if answers[0] == 200 else "unfounded")


def test_a_recipient_failing_twice_then_succeeding_receives_once_and_the_history_shows_it(
    desk, recipients
):
    report_id = desk.stored_report()
    recipients.fail("europol", next_tries=2, report_id=report_id)

    desk.alice.decide(report_id, EUROPOL_ONLY)

    wait_for(lambda: ("delivered", 3) in desk.deliveries(report_id), "the delivery")
    assert desk.deliveries(report_id) == [
        ("delivery_failed", 1),
        ("delivery_failed", 2),
        ("delivered", 3),
    ]
    taken = [m for m in recipients.received("europol") if m["report"]["report_id"] == report_id]
    assert len(taken) == 1
    assert recipients.tries("europol", report_id) == 3


def dead_letter_alarm_fires(stack: LocalStack) -> bool:
    """The template's OutboundDeadLetterAlarm, evaluated on the local queue: its metric
    (ApproximateNumberOfMessagesVisible of the dead-letter queue) against its threshold."""
    alarm = yaml_parse(TEMPLATE.read_text())["Resources"]["OutboundDeadLetterAlarm"]["Properties"]
    ((queue_id, _),) = [d["Value"]["Fn::GetAtt"] for d in alarm["Dimensions"]]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.aws_endpoint,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    url = stack.resources[queue_id].url
    assert url is not None
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) >= int(alarm["Threshold"])


def test_a_recipient_that_always_fails_ends_in_the_dead_letter_queue_and_the_alarm_fires(
    local_stack, desk, recipients
):
    assert not dead_letter_alarm_fires(local_stack)
    report_id = desk.stored_report()
    recipients.fail("europol", always=True)

    desk.alice.decide(report_id, EUROPOL_ONLY)

    wait_for(lambda: dead_letter_alarm_fires(local_stack), "the dead-letter alarm", timeout=120)
    assert desk.deliveries(report_id)[-1] == ("delivery_abandoned", 15)
    (delivery,) = desk.alice.review_report(report_id)["deliveries"]
    assert (delivery["state"], delivery["attempts"]) == ("abandoned", 15)
    assert recipients.received("europol") == []
    recipients.fail("europol")  # healed, for the tests after this one

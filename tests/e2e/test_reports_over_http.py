"""Filing reports over HTTP on the local stack: concurrent filings and the Location header.

Regression tests of issue 11, item 1 (one report per match: ten concurrent filings citing one
match id give exactly one report and nine 409s) and item 14 (a Location the local stack can
follow).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from hashmatch import bootstrap
from hashmatch.access.model import Principal, Role
from hashmatch_devtools.localstack.stack import LocalStack
from tests.factories import a_match_event, in_new_organisation

CONCURRENT_FILINGS = 10


@pytest.fixture(scope="module")
def provider(local_stack: LocalStack) -> tuple[str, Principal]:
    service = bootstrap.client_service()
    created = service.create(
        role=Role.PROVIDER,
        organisation_id=in_new_organisation(service, "Concurrent Hosting SA"),
        purpose="end-to-end test",
        legal_basis="test",
        valid_for=timedelta(days=1),
        databases=("known",),
        hash_types=("pdq",),
    )
    return created.api_key, Principal.of(created.client)


def a_stored_match(principal: Principal) -> str:
    event = a_match_event(principal, datetime.now(UTC))
    bootstrap.match_event_store().put_many([event])
    return event.match_id


def report(match_id: str, content_ref: str) -> dict[str, Any]:
    return {
        "match_ids": [match_id],
        "content_ref": content_ref,
        "content_type": "image",
        "detected_at": datetime.now(UTC).isoformat(),
        "legal_basis": "Regulation (EU) 2021/1232",
    }


def file(stack: LocalStack, key: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{stack.api_url}/v1/reports",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_ten_concurrent_filings_citing_one_match_give_one_report_and_nine_409s(
    local_stack, provider
):
    key, principal = provider
    match_id = a_stored_match(principal)
    start = threading.Barrier(CONCURRENT_FILINGS)

    def file_one(number: int) -> requests.Response:
        start.wait()
        return file(local_stack, key, report(match_id, f"upload-{number}"))

    with ThreadPoolExecutor(max_workers=CONCURRENT_FILINGS) as pool:
        answers = list(pool.map(file_one, range(CONCURRENT_FILINGS)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] + [409] * (CONCURRENT_FILINGS - 1)
    (accepted,) = [answer.json() for answer in answers if answer.status_code == 202]
    for refused in (answer for answer in answers if answer.status_code == 409):
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["errors"][0]["msg"] == (
            f"{match_id}: already cited by {accepted['report_id']}"
        )
    listed = wait_for_stored(local_stack, key, accepted["report_id"])
    assert [r["report_id"] for r in listed if match_id in r["match_ids"]] == [accepted["report_id"]]


def test_the_location_of_a_filed_report_can_be_followed(local_stack, provider):
    key, principal = provider
    filed = file(local_stack, key, report(a_stored_match(principal), "upload-location"))

    url = urljoin(local_stack.api_url + "/", filed.headers["Location"])
    wait_for_stored(local_stack, key, filed.json()["report_id"])
    followed = requests.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10)

    assert filed.status_code == 202
    assert followed.status_code == 200
    assert followed.json()["report_id"] == filed.json()["report_id"]


def wait_for_stored(stack: LocalStack, key: str, report_id: str) -> list[dict[str, Any]]:
    """The provider's stored reports, once intake (the local stack's poller) stored this one."""
    deadline = time.monotonic() + 30
    while True:
        listing = requests.get(
            f"{stack.api_url}/v1/reports",
            params={"status": "stored", "limit": "100"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        ).json()["reports"]
        if any(r["report_id"] == report_id for r in listing) or time.monotonic() > deadline:
            return list(listing)
        time.sleep(0.2)

"""GET /v1/statistics, the publication of a year and the public routes, in-process on moto."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.publish_statistics import app as publish_statistics
from functions.serve_transparency import app as serve_transparency
from hashmatch import bootstrap
from hashmatch.adapters.aws import s3_client
from hashmatch.adapters.s3_published_reports import report_key
from hashmatch.audit.model import AuditAction
from hashmatch.statistics.counting import QueryCount
from hashmatch.statistics.model import QueryOutcome
from tests.integration.conftest import Deployment, api_event

AUDITOR = {
    "client_id": "cl_" + "u" * 24,
    "role": "auditor",
    "organisation_id": "org_" + "u" * 24,
    "owner": "EU Centre",
    "databases": "",
    "hash_types": "",
}
LAST_YEAR = datetime.now(UTC).year - 1


def get(handler: Any, context: Any, resource: str, path: str, **options: Any) -> dict[str, Any]:
    event = api_event("GET", resource, path=path, **options)
    response: dict[str, Any] = handler.lambda_handler(event, context)
    return response


def header(response: dict[str, Any], name: str) -> str:
    return str(response["multiValueHeaders"][name][0])


def statistics(context: Any, query: dict[str, str], accept: str | None = None) -> dict[str, Any]:
    headers = {"Accept": accept} if accept else None
    return get(
        publish_statistics,
        context,
        "/v1/statistics",
        "/v1/statistics",
        principal=AUDITOR,
        query=query,
        headers=headers,
    )


def count_queries(day: str, number: int) -> None:
    bootstrap.statistics().queries_answered(
        request_key=f"r-{day}",
        day=datetime.fromisoformat(day).date(),
        provider="Example Hosting SA",
        queries={QueryCount("pdq", QueryOutcome.NO_MATCH): number},
        matches={},
    )


@pytest.mark.usefixtures("deployment")
def test_an_auditor_reads_counters_over_a_period_as_json_or_csv(lambda_context):
    count_queries(f"{LAST_YEAR}-03-01", 4)
    count_queries(f"{LAST_YEAR}-03-02", 6)
    count_queries(f"{LAST_YEAR}-04-01", 100)
    period = {"from": f"{LAST_YEAR}-03-01", "to": f"{LAST_YEAR}-03-31", "dimension": "queries"}

    answer = statistics(lambda_context, period)
    as_csv = statistics(lambda_context, period, accept="text/csv")

    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["from"] == f"{LAST_YEAR}-03-01"
    assert body["counters"] == [
        {
            "dimension": "queries",
            "values": {
                "provider": "Example Hosting SA",
                "hash_type": "pdq",
                "outcome": "no_match",
                "reason": "-",
            },
            "count": 10,
        }
    ]
    assert header(as_csv, "Content-Type").startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv["body"])))
    assert [(r["dimension"], r["provider"], r["count"]) for r in rows] == [
        ("queries", "Example Hosting SA", "10")
    ]


@pytest.mark.usefixtures("deployment")
def test_a_period_of_any_length_is_summed(lambda_context):
    count_queries(f"{LAST_YEAR}-03-01", 4)

    answer = statistics(lambda_context, {"from": "1900-01-01", "to": "2999-12-31"})

    assert answer["statusCode"] == 200
    counters = json.loads(answer["body"])["counters"]
    assert sum(c["count"] for c in counters if c["dimension"] == "queries") == 4


@pytest.mark.usefixtures("deployment")
def test_a_period_whose_from_is_after_its_to_has_no_days_and_sums_nothing(lambda_context):
    count_queries(f"{LAST_YEAR}-03-01", 4)

    answer = statistics(lambda_context, {"from": f"{LAST_YEAR}-03-02", "to": f"{LAST_YEAR}-03-01"})

    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["counters"] == []


@pytest.mark.usefixtures("deployment")
@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-03-01", "to": "2026-03-02", "dimension": "people"},
        {"from": "2026-03-01"},
        {"from": "yesterday", "to": "2026-03-01"},
    ],
)
def test_a_bad_period_or_dimension_is_a_422_problem(lambda_context, query):
    answer = statistics(lambda_context, query)

    assert answer["statusCode"] == 422
    assert header(answer, "Content-Type") == "application/problem+json"
    assert json.loads(answer["body"])["errors"]


def test_a_year_is_published_immutably_and_served_to_the_public(
    deployment: Deployment, lambda_context
):
    # Given counters of last year
    count_queries(f"{LAST_YEAR}-06-01", 12)

    # When it is published on demand, twice
    first = publish_statistics.lambda_handler({"year": LAST_YEAR}, lambda_context)
    again = publish_statistics.lambda_handler({"year": LAST_YEAR}, lambda_context)

    # Then it is published once, its digest in the audit log
    assert first == again
    assert first["published"] == LAST_YEAR
    entries = bootstrap.audit_log().entries_from(1)
    published = [e for e in entries if e.action == AuditAction.TRANSPARENCY_PUBLISHED]
    assert [e.details["sha256"] for e in published] == [first["sha256"]]
    # and the public reads it, without a key
    page = get(
        serve_transparency,
        lambda_context,
        "/v1/transparency/{year}/report.html",
        f"/v1/transparency/{LAST_YEAR}/report.html",
        path_parameters={"year": str(LAST_YEAR)},
    )
    report = get(
        serve_transparency,
        lambda_context,
        "/v1/transparency/{year}",
        f"/v1/transparency/{LAST_YEAR}",
        path_parameters={"year": str(LAST_YEAR)},
    )
    assert page["statusCode"] == 200
    assert header(page, "Content-Type").startswith("text/html")
    assert report["statusCode"] == 200
    assert header(report, "Cache-Control").startswith("public")
    assert json.loads(report["body"])["figures"][4]["count"] == 12
    # and nobody can replace or delete it: Object Lock, compliance mode
    bucket = deployment.physical_id("TransparencyBucket")
    head = s3_client().head_object(Bucket=bucket, Key=report_key(LAST_YEAR, "report.json"))
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError):
        s3_client().delete_object(
            Bucket=bucket, Key=report_key(LAST_YEAR, "report.json"), VersionId=head["VersionId"]
        )


@pytest.mark.usefixtures("deployment")
@pytest.mark.parametrize(("year", "status"), [("2024", 404), ("1999", 422), ("20x4", 422)])
def test_a_year_not_published_is_404_and_a_bad_year_422(lambda_context, year, status):
    answer = get(
        serve_transparency,
        lambda_context,
        "/v1/transparency/{year}",
        f"/v1/transparency/{year}",
        path_parameters={"year": year},
    )

    assert answer["statusCode"] == status
    assert header(answer, "Content-Type") == "application/problem+json"


@pytest.mark.usefixtures("deployment")
def test_the_current_year_cannot_be_published_yet(lambda_context):
    from hashmatch.errors import Conflict

    with pytest.raises(Conflict):
        publish_statistics.lambda_handler({"year": LAST_YEAR + 1}, lambda_context)

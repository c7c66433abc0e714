"""Property-based API tests: schemathesis drives the local stack from docs/openapi.json.

Every generated request is sent once with the key of each role. Whatever a role may or may not
do, the service answers with a status and a body that the OpenAPI document allows, and never
with a 5xx.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import unsupported_method

from hashmatch import bootstrap
from hashmatch.access.model import Role
from hashmatch_devtools.localstack.stack import LocalStack
from tests.factories import in_new_organisation

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
# More for an exploratory run: HASHMATCH_SCHEMATHESIS_EXAMPLES=200 make test-e2e
EXAMPLES_PER_OPERATION = int(os.environ.get("HASHMATCH_SCHEMATHESIS_EXAMPLES", "15"))
# Every check but unsupported_method: API Gateway answers 403 for a method a path lacks, not 405.
EXCLUDED_CHECKS = [unsupported_method]


@pytest.fixture(scope="module")
def role_keys(local_stack: LocalStack) -> dict[Role, str]:
    return {
        role: bootstrap.client_service()
        .create(
            role=role,
            organisation_id=in_new_organisation(
                bootstrap.client_service(), f"Schemathesis {role.value}"
            ),
            purpose="property-based API tests",
            legal_basis="test",
            valid_for=timedelta(days=1),
            databases=("known", "new", "solicitation"),
            hash_types=("pdq", "phash", "dhash", "md5", "sha1", "sha256"),
        )
        .api_key
        for role in Role
    }


# The import's bodies are text. A generated string is sent as it is, in UTF-8; a value of
# another JSON type (a negative case of `type: string`) has no spelling as text that is not
# also a string, so it is sent as no body at all, which the import refuses.
@schemathesis.serializer(
    "text/csv", "application/jsonl", "application/x-ndjson", "application/x-jsonlines"
)
def text_body(ctx: Any, value: Any) -> bytes | None:
    return value.encode("utf-8") if isinstance(value, str) else None


# Loaded at import (schemathesis's fixture loader does not work with this pytest); the base URL
# of the local stack is given per call.
schema = schemathesis.openapi.from_path(OPENAPI)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,  # the same cases in every CI run; explore more with the variable above
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_conforms_and_none_is_a_server_error(case, local_stack, role_keys):
    if "Authorization" not in (case.headers or {}):
        # An open route, or schemathesis probing a request without the header: sent as is.
        case.call_and_validate(base_url=local_stack.api_url, excluded_checks=EXCLUDED_CHECKS)
        return
    for key in role_keys.values():
        case.headers = {**case.headers, "Authorization": f"Bearer {key}"}
        case.call_and_validate(base_url=local_stack.api_url, excluded_checks=EXCLUDED_CHECKS)

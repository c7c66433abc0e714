"""The local stack's reading of a template, without starting anything."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hashmatch_devtools.localstack.api_gateway import RouteTable, policy_allows
from hashmatch_devtools.localstack.errors import LocalStackError
from hashmatch_devtools.localstack.resources import LocalIdentities, build_moto_template
from hashmatch_devtools.localstack.schedules import UnsupportedSchedule, parse_schedule
from hashmatch_devtools.localstack.template import RouteSpec, load_template
from tests.integration.local_stack_fixture import FIXTURE_TEMPLATE

METHOD_ARN = "arn:aws:execute-api:eu-central-1:123456789012:local/test/GET/items/42"


def _route(path: str, method: str = "GET") -> RouteSpec:
    return RouteSpec(api_id="Api", path=path, method=method, function_id=path, authorizer=None)


def test_routes_take_the_default_authorizer_unless_they_opt_out() -> None:
    # Given the fixture template
    model = load_template(FIXTURE_TEMPLATE)

    # When its routes are read
    authorizers = {(r.method, r.path): r.authorizer for r in model.routes}

    # Then routes without Auth use the API's default and Authorizer: NONE routes are open
    assert authorizers[("GET", "/items/{id}")] == "TokenAuthorizer"
    assert authorizers[("ANY", "/public/{proxy+}")] is None


def test_authorizer_settings_come_from_the_template() -> None:
    model = load_template(FIXTURE_TEMPLATE)

    authorizer = model.apis["FixtureApi"].authorizers["TokenAuthorizer"]

    assert (authorizer.function_id, authorizer.payload_type) == ("AuthorizeFunction", "TOKEN")
    assert (authorizer.identity_headers, authorizer.ttl_seconds) == (("Authorization",), 60)


def test_stage_name_resolves_from_a_parameter_override() -> None:
    model = load_template(FIXTURE_TEMPLATE, parameter_overrides={"Stage": "local"})

    assert model.apis["FixtureApi"].stage_name == "local"


def test_unknown_parameter_override_is_refused() -> None:
    with pytest.raises(LocalStackError, match="Stag"):
        load_template(FIXTURE_TEMPLATE, parameter_overrides={"Stag": "local"})


def test_function_settings_merge_globals_with_the_functions_own() -> None:
    model = load_template(FIXTURE_TEMPLATE)

    echo = model.functions["EchoFunction"]
    tick = model.functions["TickFunction"]

    assert (echo.timeout_seconds, echo.memory_mb) == (9, 256)
    assert (tick.timeout_seconds, tick.memory_mb) == (5, 128)
    assert echo.environment["POWERTOOLS_SERVICE_NAME"] == "echo"
    assert echo.environment["FIXTURE_ITEMS_TABLE"] == {"Ref": "ItemsTable"}


def test_queue_and_schedule_events_are_read() -> None:
    model = load_template(FIXTURE_TEMPLATE)

    (work,) = model.functions["ConsumeFunction"].sqs_events
    (hourly,) = model.functions["TickFunction"].schedule_events

    assert (work.queue_logical_id, work.batch_size, work.report_batch_item_failures) == (
        "WorkQueue",
        10,
        True,
    )
    assert hourly.expression == "rate(1 hour)"


def test_events_the_local_stack_cannot_drive_are_reported() -> None:
    model = load_template(FIXTURE_TEMPLATE)

    assert model.functions["TickFunction"].unsupported_events == ("OnDeploy (EventBridgeRule)",)


def test_moto_template_keeps_only_stores_and_rewrites_references_to_the_rest() -> None:
    # Given the fixture template, whose key policy names a SAM-generated role
    model = load_template(FIXTURE_TEMPLATE)
    identities = LocalIdentities(
        region="eu-central-1",
        account_id="123456789012",
        stack_name="s",
        api_id="local",
        function_names={lid: f"s-{lid}" for lid in model.functions},
    )

    # When the template for moto is built
    template, _ = build_moto_template(model, identities)

    # Then it holds the stores only, has no Rules, and no reference to a stripped resource
    assert set(template["Resources"]) == {
        "DataKey",
        "DataKeyAlias",
        "ItemsTable",
        "WorkQueue",
        "WorkDeadLetterQueue",
        "EvidenceBucket",
    }
    assert "Rules" not in template
    role_principal = template["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"][1]
    role_arn = "arn:aws:iam::123456789012:role/s-ConsumeFunctionRole"
    assert role_principal["Principal"]["AWS"] == role_arn


@pytest.mark.parametrize(
    ("path", "expected_route", "expected_parameters"),
    [
        ("/items/special", "/items/special", {}),
        ("/items/42", "/items/{id}", {"id": "42"}),
        ("/files/a/b/c.txt", "/files/{proxy+}", {"proxy": "a/b/c.txt"}),
        ("/items/42/", "/items/{id}", {"id": "42"}),
    ],
)
def test_route_matching_prefers_literal_segments_and_extracts_parameters(
    path: str, expected_route: str, expected_parameters: dict[str, str]
) -> None:
    table = RouteTable([_route("/items/{id}"), _route("/items/special"), _route("/files/{proxy+}")])

    matched = table.match("GET", path)

    assert matched is not None
    assert (matched[0].path, matched[1]) == (expected_route, expected_parameters)


def test_route_matching_finds_nothing_for_other_paths_or_methods() -> None:
    table = RouteTable([_route("/items/{id}"), _route("/things", "ANY")])

    assert table.match("GET", "/items") is None
    assert table.match("DELETE", "/items/1") is None
    assert table.match("DELETE", "/things") is not None


def test_reserved_local_prefix_cannot_be_a_template_route() -> None:
    with pytest.raises(ValueError, match="reserved"):
        RouteTable([_route("/_local/things")])


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([("Allow", "arn:aws:execute-api:eu-central-1:123456789012:local/test/*")], True),
        ([("Allow", "arn:aws:execute-api:*:*:local/test/GET/items/??")], True),
        ([("Allow", "arn:aws:execute-api:*:*:local/test/POST/*")], False),
        (
            [
                ("Allow", "arn:aws:execute-api:*:*:local/*"),
                ("Deny", "arn:aws:execute-api:*:*:local/test/GET/items/*"),
            ],
            False,
        ),
        ([], False),
    ],
)
def test_policy_evaluation_follows_iam(statements: list[tuple[str, str]], allowed: bool) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource}
            for effect, resource in statements
        ],
    }

    assert policy_allows(policy, METHOD_ARN) is allowed


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        (
            "rate(1 minute)",
            datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC),
            datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC),
        ),
        ("rate(2 hours)", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 2, tzinfo=UTC)),
        (
            "cron(0 * * * ? *)",
            datetime(2026, 1, 1, 5, 10, tzinfo=UTC),
            datetime(2026, 1, 1, 6, 0, tzinfo=UTC),
        ),
        (
            "cron(30 2 ? * MON *)",
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 1, 5, 2, 30, tzinfo=UTC),
        ),
        (
            "cron(0/15 8-9 1 JAN ? 2026)",
            datetime(2026, 1, 1, 8, 20, tzinfo=UTC),
            datetime(2026, 1, 1, 8, 30, tzinfo=UTC),
        ),
    ],
)
def test_schedule_expressions_give_the_next_run(
    expression: str, after: datetime, expected: datetime
) -> None:
    assert parse_schedule(expression).next_after(after) == expected


@pytest.mark.parametrize("expression", ["cron(0 0 L * ? *)", "cron(0 0 ? * 2#1 *)", "every hour"])
def test_unsupported_schedule_expressions_are_refused(expression: str) -> None:
    with pytest.raises(UnsupportedSchedule):
        parse_schedule(expression)

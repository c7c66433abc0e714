"""API Gateway TOKEN authorizer: `Authorization: Bearer <key>` -> the caller's principal.

The answer allows exactly the routes of the caller's role (hashmatch.access.routes), so the
answer API Gateway caches for a key is right for every route; it carries the principal as
context for the handlers and the client's usage key for per-client throttling and quotas.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from hashmatch import bootstrap
from hashmatch.access.model import usage_key_of
from hashmatch.access.routes import policy_routes
from hashmatch.errors import Forbidden, Unauthorized
from hashmatch.observability import MetricName, logger, measured_handler, metrics


class AuthorizerUnauthorized(Exception):
    """Raised with the exact message 'Unauthorized': API Gateway then answers 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@logger.inject_lambda_context(clear_state=True)
@measured_handler
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def lambda_handler(event: APIGatewayAuthorizerTokenEvent, context: LambdaContext) -> dict[str, Any]:
    try:
        principal = bootstrap.client_service().authenticate(event.authorization_token)
    except Unauthorized as refused:
        logger.info("key refused", extra={"reason": refused.detail})
        # Lambda counts the 401 as an error too: the errors alarm subtracts these.
        metrics.add_metric(name=MetricName.KEYS_REFUSED, unit=MetricUnit.Count, value=1)
        raise AuthorizerUnauthorized() from refused
    except Forbidden as refused:
        logger.info("client refused", extra={"reason": refused.detail})
        denial = APIGatewayAuthorizerResponse.from_route_arn(event.method_arn, "refused")
        denial.deny_all_routes()
        return denial.asdict()

    answer = APIGatewayAuthorizerResponse.from_route_arn(
        event.method_arn,
        principal_id=principal.client_id,
        context=principal.to_context(),
        usage_identifier_key=usage_key_of(principal.client_id),
    )
    for method, resource in policy_routes(principal.role):
        answer.allow_route(method, resource)
    logger.info("client admitted", extra={"client_id": principal.client_id})
    return answer.asdict()

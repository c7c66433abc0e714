"""Test authorizer: the token names the answer it gives."""

from typing import Any

calls: list[str] = []


def _policy(effect: str, resource: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = event["authorizationToken"]
    calls.append(token)
    # arn:aws:execute-api:region:account:api/stage/METHOD/path -> every method and path
    api_stage = "/".join(event["methodArn"].split("/")[:2])
    if token == "Bearer unknown":
        raise Exception("Unauthorized")  # API Gateway keys on this exact message
    if token == "Bearer broken":
        raise RuntimeError("database down")
    if token == "Bearer malformed":
        return {"principalId": "x"}
    if token == "Bearer denied":
        return {"principalId": "denied", "policyDocument": _policy("Deny", f"{api_stage}/*")}
    if token == "Bearer items-only":
        return {
            "principalId": "reader",
            "policyDocument": _policy("Allow", f"{api_stage}/GET/items/*"),
        }
    if token.startswith("Bearer throttled"):
        return {
            "principalId": "throttled",
            "policyDocument": _policy("Allow", f"{api_stage}/*"),
            "context": {"role": "throttled"},
            "usageIdentifierKey": token,
        }
    return {
        "principalId": "client-1",
        "policyDocument": _policy("Allow", f"{api_stage}/*"),
        "context": {"role": "provider", "quota": 3, "active": True},
    }

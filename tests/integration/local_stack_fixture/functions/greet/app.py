"""A Powertools resolver handler: proves the proxy events are the shape Powertools expects."""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

app = APIGatewayRestResolver()


@app.get("/greet/<name>")
def greet(name: str) -> dict[str, Any]:
    return {"greeting": f"hello {name}", "lang": app.current_event.get_query_string_value("lang")}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)

"""DynamoDB adapter of the ClientStore port.

Table layout: partition key ``key_digest`` (the authorizer's hot path is one strongly consistent
GetItem); GSI ``ByClientId`` on ``client_id`` for revocation and listing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from hashmatch.access.model import ApiClient
from hashmatch.adapters.aws import translated_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CLIENT_ID_INDEX = "ByClientId"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_item(client: ApiClient) -> dict[str, Any]:
    data = client.model_dump(mode="json", exclude_none=True)
    data["databases"] = list(client.databases)
    data["hash_types"] = list(client.hash_types)
    return {key: _serializer.serialize(value) for key, value in data.items()}


def _from_item(item: dict[str, Any]) -> ApiClient:
    data = {key: _deserializer.deserialize(value) for key, value in item.items()}
    return ApiClient.model_validate(data)


class DynamoDBClientStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def put_new(self, client: ApiClient) -> None:
        with translated_errors("storing the client"):
            self._dynamodb.put_item(
                TableName=self._table,
                Item=_to_item(client),
                ConditionExpression="attribute_not_exists(key_digest)",
            )

    def get_by_key_digest(self, key_digest: str) -> ApiClient | None:
        with translated_errors("reading the client"):
            answer = self._dynamodb.get_item(
                TableName=self._table,
                Key={"key_digest": {"S": key_digest}},
                ConsistentRead=True,
            )
        item = answer.get("Item")
        return _from_item(item) if item else None

    def get(self, client_id: str) -> ApiClient | None:
        with translated_errors("reading the client"):
            answer = self._dynamodb.query(
                TableName=self._table,
                IndexName=CLIENT_ID_INDEX,
                KeyConditionExpression="client_id = :id",
                ExpressionAttributeValues={":id": {"S": client_id}},
            )
        items = answer.get("Items", [])
        return _from_item(items[0]) if items else None

    def list_all(self) -> list[ApiClient]:
        # Operators list clients rarely and there are few of them: a paginated scan is right here.
        clients: list[ApiClient] = []
        with translated_errors("listing clients"):
            for page in self._dynamodb.get_paginator("scan").paginate(TableName=self._table):
                clients.extend(_from_item(item) for item in page.get("Items", []))
        return clients

    def replace(self, client: ApiClient) -> None:
        with translated_errors("updating the client"):
            self._dynamodb.put_item(
                TableName=self._table,
                Item=_to_item(client),
                ConditionExpression="attribute_exists(key_digest)",
            )

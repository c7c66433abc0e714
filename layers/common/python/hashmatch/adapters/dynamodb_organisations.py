"""DynamoDB adapter of the OrganisationStore port (table key: ``organisation_id``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from hashmatch.access.model import Organisation
from hashmatch.adapters.aws import translated_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _from_item(item: dict[str, Any]) -> Organisation:
    return Organisation.model_validate(
        {key: _deserializer.deserialize(value) for key, value in item.items()}
    )


class DynamoDBOrganisationStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def put_new(self, organisation: Organisation) -> None:
        data = organisation.model_dump(mode="json")
        with translated_errors("storing the organisation"):
            self._dynamodb.put_item(
                TableName=self._table,
                Item={key: _serializer.serialize(value) for key, value in data.items()},
                ConditionExpression="attribute_not_exists(organisation_id)",
            )

    def get(self, organisation_id: str) -> Organisation | None:
        with translated_errors("reading the organisation"):
            answer = self._dynamodb.get_item(
                TableName=self._table,
                Key={"organisation_id": {"S": organisation_id}},
                ConsistentRead=True,
            )
        item = answer.get("Item")
        return _from_item(item) if item else None

    def list_all(self) -> list[Organisation]:
        # Operators list organisations rarely and there are few: a paginated scan is right here.
        found: list[Organisation] = []
        with translated_errors("listing organisations"):
            for page in self._dynamodb.get_paginator("scan").paginate(TableName=self._table):
                found.extend(_from_item(item) for item in page.get("Items", []))
        return found

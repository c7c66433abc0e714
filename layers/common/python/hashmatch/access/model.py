"""API clients and the principal the authorizer hands to handlers."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hashmatch.endpoints import HttpsUrl
from hashmatch.input_types import FreeText

KEY_PREFIX = "hm_"
# 32 random bytes, URL-safe: the key is a bearer secret, shown once and stored only as a digest.
_KEY_BYTES = 32

ClientId = Annotated[str, StringConstraints(pattern=r"^cl_[0-9a-f]{24}$")]
ORGANISATION_ID_PATTERN = r"^org_[0-9a-f]{24}$"
OrganisationId = Annotated[str, StringConstraints(pattern=ORGANISATION_ID_PATTERN)]
OrganisationName = Annotated[FreeText, Field(max_length=200)]


class Role(StrEnum):
    PROVIDER = "provider"
    CURATOR = "curator"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"


class OrganisationKind(StrEnum):
    PROVIDER = "provider"  # an online service provider
    AUTHORITY = "authority"  # a national authority, a court, or the EU Centre itself


class Organisation(BaseModel):
    """A provider or an authority: what clients belong to, and what reports, idempotency keys
    and cursors are scoped by. Its name is for people; everything is keyed by its id."""

    model_config = ConfigDict(frozen=True)

    organisation_id: OrganisationId
    name: OrganisationName
    kind: OrganisationKind
    created_at: datetime


class ClientStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class ApiClient(BaseModel):
    """A client record. ``key_digest`` is the SHA-256 of the key; the key itself is never stored."""

    model_config = ConfigDict(frozen=True)

    client_id: ClientId
    key_digest: str
    role: Role
    organisation_id: OrganisationId
    owner: OrganisationName = Field(description="the organisation's name when the client was made")
    databases: tuple[str, ...] = ()
    hash_types: tuple[str, ...] = ()
    purpose: str = Field(min_length=1, max_length=500)
    legal_basis: str = Field(min_length=1, max_length=200)
    created_at: datetime
    expires_at: datetime
    status: ClientStatus = ClientStatus.ACTIVE
    revoked_at: datetime | None = None
    # A provider's optional webhook: status changes of its reports are POSTed there, signed
    # with the secret (HMAC-SHA256, hashmatch.reports.notifications), which it was shown once.
    webhook_url: HttpsUrl | None = None
    webhook_secret: str | None = None

    def is_usable_at(self, now: datetime) -> bool:
        return self.status is ClientStatus.ACTIVE and now < self.expires_at

    @property
    def usage_key(self) -> str:
        return usage_key_of(self.client_id)


class Principal(BaseModel):
    """Who is calling, as the authorizer resolved it; handlers get it from the request context."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    role: Role
    organisation_id: str = Field(description="what the caller's data is scoped by")
    owner: str = Field(description="the organisation's name, for people")
    databases: tuple[str, ...] = ()
    hash_types: tuple[str, ...] = ()

    def to_context(self) -> dict[str, str]:
        """API Gateway authorizer context values must be strings, numbers or booleans."""
        return {
            "client_id": self.client_id,
            "role": self.role.value,
            "organisation_id": self.organisation_id,
            "owner": self.owner,
            "databases": ",".join(self.databases),
            "hash_types": ",".join(self.hash_types),
        }

    @classmethod
    def from_context(cls, context: Mapping[str, object]) -> Principal:
        def split(name: str) -> tuple[str, ...]:
            raw = str(context.get(name) or "")
            return tuple(part for part in raw.split(",") if part)

        return cls(
            client_id=str(context["client_id"]),
            role=Role(str(context["role"])),
            organisation_id=str(context["organisation_id"]),
            owner=str(context["owner"]),
            databases=split("databases"),
            hash_types=split("hash_types"),
        )

    @classmethod
    def of(cls, client: ApiClient) -> Principal:
        return cls(
            client_id=client.client_id,
            role=client.role,
            organisation_id=client.organisation_id,
            owner=client.owner,
            databases=client.databases,
            hash_types=client.hash_types,
        )


def new_organisation_id() -> str:
    return "org_" + secrets.token_hex(12)


def new_client_id() -> str:
    return "cl_" + secrets.token_hex(12)


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(_KEY_BYTES)


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(_KEY_BYTES)


def digest_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def usage_key_of(client_id: str) -> str:
    """The API Gateway API key value that meters a client in its role's usage plan.

    Derived from the client id, not a secret: API Gateway only counts requests against it.
    """
    return f"usage-{client_id}"

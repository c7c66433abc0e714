"""Creating, listing, revoking and authenticating API clients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import ValidationError

from hashmatch.access.model import (
    ApiClient,
    ClientStatus,
    Organisation,
    OrganisationKind,
    Principal,
    Role,
    digest_key,
    new_api_key,
    new_client_id,
    new_organisation_id,
    new_webhook_secret,
)
from hashmatch.access.ports import ClientStore, OrganisationStore, UsagePlans
from hashmatch.audit.model import AuditAction
from hashmatch.audit.ports import AuditLog
from hashmatch.clock import Clock
from hashmatch.errors import Forbidden, InvalidInput, NotFound, Unauthorized

BEARER_PREFIX = "bearer "
# Clients are created and revoked by an operator command with AWS credentials, not through the API.
OPERATOR = "operator"
MAX_VALIDITY = timedelta(days=366)


@dataclass(frozen=True)
class NewClient:
    """A created client and its key (and webhook secret): the only moment they are shown."""

    client: ApiClient
    api_key: str

    @property
    def webhook_secret(self) -> str | None:
        return self.client.webhook_secret


class ClientService:
    def __init__(
        self,
        store: ClientStore,
        clock: Clock,
        audit: AuditLog,
        usage_plans: UsagePlans | None = None,
        *,
        organisations: OrganisationStore,
    ) -> None:
        self._store = store
        self._organisations = organisations
        self._clock = clock
        self._audit = audit
        self._usage_plans = usage_plans

    # -- organisations -------------------------------------------------------------------------

    def create_organisation(self, *, name: str, kind: OrganisationKind) -> Organisation:
        """A new organisation: two with the same name are two organisations, never one."""
        organisation = Organisation(
            organisation_id=new_organisation_id(),
            name=name,
            kind=kind,
            created_at=self._clock.now(),
        )
        self._organisations.put_new(organisation)
        self._audit.record(
            AuditAction.ORGANISATION_CREATED,
            actor=OPERATOR,
            role=OPERATOR,
            targets=[organisation.organisation_id],
            details={"kind": kind.value},
        )
        return organisation

    def list_organisations(self) -> list[Organisation]:
        return sorted(
            self._organisations.list_all(), key=lambda o: (o.created_at, o.organisation_id)
        )

    # -- clients -------------------------------------------------------------------------------

    def create(
        self,
        *,
        role: Role,
        organisation_id: str,
        purpose: str,
        legal_basis: str,
        valid_for: timedelta,
        databases: tuple[str, ...] = (),
        hash_types: tuple[str, ...] = (),
        webhook_url: str | None = None,
    ) -> NewClient:
        if not timedelta(0) < valid_for <= MAX_VALIDITY:
            raise InvalidInput(f"validity must be between 1 second and {MAX_VALIDITY.days} days")
        if webhook_url is not None and role is not Role.PROVIDER:
            raise InvalidInput("only provider clients have a webhook (for their reports)")
        organisation = self._organisations.get(organisation_id)
        if organisation is None:
            raise NotFound(
                f"no organisation {organisation_id}: create it first "
                "(hashmatch clients organisations create)"
            )
        api_key = new_api_key()
        now = self._clock.now()
        try:
            client = ApiClient(
                client_id=new_client_id(),
                key_digest=digest_key(api_key),
                role=role,
                organisation_id=organisation.organisation_id,
                owner=organisation.name,
                databases=databases,
                hash_types=hash_types,
                purpose=purpose,
                legal_basis=legal_basis,
                created_at=now,
                expires_at=now + valid_for,
                webhook_url=webhook_url,
                webhook_secret=new_webhook_secret() if webhook_url is not None else None,
            )
        except ValidationError as error:  # a bad webhook URL, purpose or legal basis
            faults = (f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise InvalidInput("invalid client: " + "; ".join(faults)) from error
        self._store.put_new(client)
        if self._usage_plans is not None:
            self._usage_plans.enrol(client)
        self._audit.record(
            AuditAction.CLIENT_CREATED,
            actor=OPERATOR,
            role=OPERATOR,
            targets=[client.client_id],
            details={
                "role": role.value,
                "organisation_id": organisation.organisation_id,
                "expires_at": client.expires_at.isoformat(),
            },
        )
        return NewClient(client=client, api_key=api_key)

    def list_all(self) -> list[ApiClient]:
        return sorted(self._store.list_all(), key=lambda c: (c.created_at, c.client_id))

    def revoke(self, client_id: str) -> ApiClient:
        client = self._store.get(client_id)
        if client is None:
            raise NotFound(f"no client {client_id}")
        if client.status is ClientStatus.REVOKED:
            return client
        revoked = client.model_copy(
            update={"status": ClientStatus.REVOKED, "revoked_at": self._clock.now()}
        )
        self._store.replace(revoked)
        if self._usage_plans is not None:
            self._usage_plans.withdraw(revoked)
        self._audit.record(
            AuditAction.CLIENT_REVOKED, actor=OPERATOR, role=OPERATOR, targets=[client_id]
        )
        return revoked

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal behind an ``Authorization: Bearer <key>`` header.

        Unauthorized (401): no key or an unknown key. Forbidden (403): a known client that is
        revoked or expired.
        """
        if not authorization or not authorization.lower().startswith(BEARER_PREFIX):
            raise Unauthorized("expected 'Authorization: Bearer <api key>'")
        api_key = authorization[len(BEARER_PREFIX) :].strip()
        client = self._store.get_by_key_digest(digest_key(api_key)) if api_key else None
        if client is None:
            raise Unauthorized("unknown api key")
        if not client.is_usable_at(self._clock.now()):
            raise Forbidden(f"client {client.client_id} is {self._state(client)}")
        return Principal.of(client)

    def _state(self, client: ApiClient) -> str:
        return "revoked" if client.status is ClientStatus.REVOKED else "expired"

"""Domain objects and request bodies for tests of every tier, built one way everywhere."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from hashmatch.access.model import OrganisationKind, Principal, Role
from hashmatch.access.service import ClientService
from hashmatch.hashtypes import HashSource, HashType, MatchKind
from hashmatch.matching.events import MatchEvent, new_match_id
from hashmatch.reports.model import ContentType, Filing, ReportDetails, new_report_id


def a_principal(
    letter: str, role: Role = Role.PROVIDER, owner: str = "Example Hosting SA", **fields: Any
) -> Principal:
    """A caller whose client and organisation ids repeat ``letter`` (cl_aaa..., org_aaa...)."""
    return Principal(
        client_id="cl_" + letter * 24,
        role=role,
        organisation_id="org_" + letter * 24,
        owner=owner,
        **fields,
    )


def in_new_organisation(
    service: ClientService, name: str, kind: OrganisationKind = OrganisationKind.PROVIDER
) -> str:
    """The id of a new organisation for a test's clients (every client belongs to one)."""
    return service.create_organisation(name=name, kind=kind).organisation_id


def a_match_event(
    principal: Principal,
    matched_at: datetime,
    *,
    retention: timedelta = timedelta(days=90),
    **changes: Any,
) -> MatchEvent:
    """A stored-to-be match of ``principal``'s, kept for ``retention`` unless cited."""
    event = MatchEvent(
        match_id=new_match_id(),
        provider=principal.organisation_id,
        client_id=principal.client_id,
        indicator_id="ind_" + "0" * 22,
        database="known",
        media_type="image",
        hash_type="pdq",
        distance=3,
        threshold=31,
        index_version=1,
        matched_at=matched_at,
        expires_at=matched_at + retention,
    )
    return event.model_copy(update=changes) if changes else event


def a_filing(
    principal: Principal, filed_at: datetime, match_ids: tuple[str, ...], **details: Any
) -> Filing:
    """A report as ``principal`` files it, citing ``match_ids``, with plain details (any of
    which ``details`` replaces)."""
    stated: dict[str, Any] = {
        "match_ids": match_ids,
        "content_ref": "opaque-42",
        "content_type": ContentType.IMAGE,
        "detected_at": filed_at,
        "legal_basis": "Regulation (EU) 2021/1232",
        **details,
    }
    return Filing(
        report_id=new_report_id(),
        provider=principal.organisation_id,
        client_id=principal.client_id,
        filed_at=filed_at,
        details=ReportDetails(**stated),
    )


# -- indicators ---------------------------------------------------------------------------

CURATOR = "cl_" + "c" * 24


def pdq_hex(seed: int) -> str:
    return random.Random(seed).getrandbits(256).to_bytes(32, "big").hex()


def flip_bits(hex_value: str, count: int) -> str:
    value = int(hex_value, 16)
    for bit in range(count):
        value ^= 1 << (bit * 7 % 256)
    return f"{value:0{len(hex_value)}x}"


def submission(
    hash_value: str,
    *,
    hash_type: str = "pdq",
    database: str = "known",
    reference: str = "BKA-2026-0001",
    **overrides: Any,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "hash_type": hash_type,
        "hash": hash_value,
        "database": database,
        "media_type": "image",
        "provenance": {
            "authority": "Bundeskriminalamt",
            "member_state": "DE",
            "assessment_reference": reference,
            "assessed_at": "2026-03-01T10:00:00Z",
        },
    }
    item.update(overrides)
    return item


# -- hash types ---------------------------------------------------------------------------


class ToyHash(HashType):
    """A made-up 64-bit perceptual hash: nothing outside this class knows it exists. Register it
    for a test with ``HASH_TYPES.registered(ToyHash())``."""

    name = "toy64"
    bits = 64
    kind = MatchKind.HAMMING
    source = HashSource.IMAGE
    default_threshold = 4
    max_threshold = 8
    description = "a toy 64-bit hash, registered by a test"

"""What a report's review leaves on it: a claim, a decision, information requests, deliveries.

These are parts of the report entity (:class:`~hashmatch.reports.model.Report`), each with its
own retention (docs/retention.md): a lapsed claim, the texts of information requests and the
copy of what was forwarded are erased before the report is. The reason codes and their
provider-facing descriptions are the documented list (docs/review.md).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from hashmatch.countries import EU_MEMBER_STATES
from hashmatch.input_types import MultilineText

INFORMATION_REQUEST_ID_PATTERN = r"^ir_[0-9a-f]{24}$"
DELIVERY_ID_PATTERN = r"^dl_[0-9a-f]{24}$"
MAX_NOTE_LENGTH = 2000
# The recipient id of Europol; Member State authorities are named by their ISO 3166-1 code.
EUROPOL = "europol"
RECIPIENT_PATTERN = r"^(europol|[A-Z]{2})$"
_RECIPIENT = re.compile(RECIPIENT_PATTERN)


# Free text: a reviewer's internal note or question, a provider's answer (line breaks allowed;
# the one definition of such text is hashmatch.input_types).
Text = Annotated[MultilineText, Field(max_length=MAX_NOTE_LENGTH)]


def is_recipient(value: str) -> bool:
    return _RECIPIENT.fullmatch(value) is not None and (
        value == EUROPOL or value in EU_MEMBER_STATES
    )


class Claim(BaseModel):
    """A reviewer's lease on a report: nobody else decides it while the lease runs."""

    model_config = ConfigDict(frozen=True)

    holder: str = Field(description="The reviewer client holding it")
    since: AwareDatetime
    until: AwareDatetime
    # A lapsed claim is erased this long after it lapsed (ClaimRetentionDays).
    erase_after: AwareDatetime

    def is_live(self, now: datetime) -> bool:
        return now < self.until


# Why a report is manifestly unfounded. No docstring: it would become the enum's description.
class UnfoundedReason(StrEnum):
    INDICATOR_REVOKED = "indicator_revoked"
    INDICATOR_WRONG = "indicator_wrong"
    NOT_A_MATCH = "not_a_match"
    DUPLICATE = "duplicate"
    OUTSIDE_SCOPE = "outside_scope"


# What the provider reads for each reason (never the reviewer's internal note).
REASON_DESCRIPTIONS = MappingProxyType(
    {
        UnfoundedReason.INDICATOR_REVOKED: (
            "A cited indicator has been revoked or suspended: it no longer stands for assessed "
            "material."
        ),
        UnfoundedReason.INDICATOR_WRONG: (
            "A cited indicator was found to be wrong: it will be re-verified by the Centre."
        ),
        UnfoundedReason.NOT_A_MATCH: (
            "On inspection the content is not the material the indicator stands for."
        ),
        UnfoundedReason.DUPLICATE: "The same content was already reported.",
        UnfoundedReason.OUTSIDE_SCOPE: (
            "The report falls outside the scope of the Regulation (e.g. the material is not "
            "child sexual abuse material under EU law)."
        ),
    }
)
# Reasons that say the indicator (not the report) is at fault: each cited indicator goes on the
# curators' re-verification list and the decision is counted against it.
INDICATOR_FEEDBACK_REASONS = frozenset(
    {UnfoundedReason.INDICATOR_WRONG, UnfoundedReason.NOT_A_MATCH}
)


class Outcome(StrEnum):
    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
    FORWARD = "forward"


class ReviewDecision(BaseModel):
    """A reviewer's decision on a report (and, for four eyes, its confirmation)."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    decided_by: str
    decided_at: AwareDatetime
    reasons: tuple[UnfoundedReason, ...] = ()
    duplicate_of: str | None = None
    # The provider is shown duplicate_of only when that report is its own.
    duplicate_is_providers_own: bool = False
    member_state: str | None = Field(default=None, description="The competent Member State")
    europol_only: bool = False
    do_not_inform_until: AwareDatetime | None = None
    internal_note: str | None = Field(default=None, description="For the Centre only")
    four_eyes: bool = False
    confirmed_by: str | None = None
    confirmed_at: AwareDatetime | None = None


class InformationRequest(BaseModel):
    """A reviewer's question to the provider and the provider's answer.

    The texts are erased InformationRequestRetentionDays after the report's decision; the
    timestamps stay (``texts_erased_at`` says when the texts went).
    """

    model_config = ConfigDict(frozen=True)

    request_id: Annotated[str, StringConstraints(pattern=INFORMATION_REQUEST_ID_PATTERN)]
    asked_by: str
    asked_at: AwareDatetime
    question: str | None = None  # None once erased
    answered_by: str | None = None
    answered_at: AwareDatetime | None = None
    answer: str | None = None
    texts_erased_at: AwareDatetime | None = None

    @property
    def is_open(self) -> bool:
        return self.answered_at is None


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ABANDONED = "abandoned"  # every retry failed: the message is in the dead-letter queue


class Delivery(BaseModel):
    """How handing the forwarded report to one recipient went."""

    model_config = ConfigDict(frozen=True)

    delivery_id: Annotated[str, StringConstraints(pattern=DELIVERY_ID_PATTERN)]
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = Field(default=0, ge=0)
    last_attempt_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    receipt: str | None = Field(default=None, description="The recipient's reference, if given")


class Outbound(BaseModel):
    """What was forwarded, to whom, and how each delivery went.

    ``message`` is the forwarded report as sent (its JSON, :mod:`hashmatch.reports.outbound`);
    kept OutboundMessageRetentionDays after forwarding, then erased (``deliveries`` stay).
    """

    model_config = ConfigDict(frozen=True)

    forwarded_at: AwareDatetime
    message: str | None = None  # None once erased
    deliveries: dict[str, Delivery]
    erase_after: AwareDatetime
    message_erased_at: AwareDatetime | None = None


def new_information_request_id() -> str:
    return "ir_" + secrets.token_hex(12)


def new_delivery_id() -> str:
    return "dl_" + secrets.token_hex(12)

"""The reports queue's message: a filing in transit, versioned so intake can refuse what it
does not understand (it fails the record, which after its retries lands in the DLQ).

Version 2 nests the filing (with its :class:`~hashmatch.reports.model.ReportDetails`) as it is;
version 1 spelled every detail out and is no longer written or read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from hashmatch.errors import InvalidInput
from hashmatch.reports.model import Filing


class InvalidReportMessage(InvalidInput):
    """A queue message intake cannot take in. Its text names fields and error kinds only, never
    a value: it ends up in logs (Powertools' batch processor and Lambda print failed records'
    errors), and a filing holds the provider's content reference."""

    code = "invalid-report-message"
    title = "Invalid report message"


class ReportMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[2] = 2
    filing: Filing

    @classmethod
    def of(cls, filing: Filing) -> ReportMessage:
        return cls(filing=filing)

    @classmethod
    def parse(cls, body: str) -> ReportMessage:
        """The message in a queue record's body; InvalidReportMessage (without values) if not."""
        try:
            return cls.model_validate_json(body)
        except ValidationError as error:
            # `from None`: the ValidationError (whose text quotes the input) stays out of the
            # traceback that Lambda and the batch processor print.
            raise InvalidReportMessage(
                "not a report message: " + _described_without_values(error)
            ) from None

    def to_filing(self) -> Filing:
        """Validated again on the way in (``model_validate_json``): the queue is a boundary too."""
        return self.filing


def _described_without_values(error: ValidationError) -> str:
    """``filing.details.content_ref (string_too_long); version (literal_error)``: where and what
    kind, never the input (an unknown field's name is input too, so it is not repeated)."""
    faults = []
    for item in error.errors(include_url=False, include_context=False, include_input=False):
        location = [str(part) for part in item["loc"]]
        if item["type"] == "extra_forbidden" and location:
            location[-1] = "<an unknown field>"
        faults.append(f"{'.'.join(location) or 'the body'} ({item['type']})")
    return "; ".join(faults)

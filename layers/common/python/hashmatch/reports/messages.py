"""The reports queue's message: a filing in transit, versioned so intake can refuse what it
does not understand (it fails the record, which after its retries lands in the DLQ).

Version 2 nests the filing (with its :class:`~hashmatch.reports.model.ReportDetails`) as it is;
version 1 spelled every detail out and is no longer written or read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from hashmatch.reports.model import Filing


class ReportMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[2] = 2
    filing: Filing

    @classmethod
    def of(cls, filing: Filing) -> ReportMessage:
        return cls(filing=filing)

    def to_filing(self) -> Filing:
        """Validated again on the way in (``model_validate_json``): the queue is a boundary too."""
        return self.filing

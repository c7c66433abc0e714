"""The shapes of the ids the API hands out, on the ground floor: the packages that issue them
and the legal holds that name them (retention, which those packages depend on) read them here."""

from __future__ import annotations

MATCH_ID_PREFIX = "mt_"
MATCH_ID_PATTERN = r"^mt_[0-9a-f]{24}$"
REPORT_ID_PREFIX = "rp_"
REPORT_ID_PATTERN = r"^rp_[0-9a-f]{24}$"
INDICATOR_ID_PREFIX = "ind_"
# 22 hex digits (88 bits) keep ids at the snapshot's default width of 26 ASCII characters.
INDICATOR_ID_HEX_DIGITS = 22
INDICATOR_ID_PATTERN = rf"^{INDICATOR_ID_PREFIX}[0-9a-f]{{{INDICATOR_ID_HEX_DIGITS}}}$"

"""What a match answer discloses of the distance: a band for providers, exact for staff.

An exact distance is an oracle: a provider holding one matching image learns one bit of the
indicator per query by flipping a bit and watching the distance move (bench/oracle.py). A band
answers the question a provider has (is this the same image, a close copy, or near the edge of
the threshold?) without the per-bit signal: only a query that crosses a band edge changes the
answer. Reviewers and curators see exact distances (match events keep them; the review API shows
them). The probing detector (hashmatch.probing) stops what bands alone cannot: a provider that
sits on a band edge still learns a bit per query.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Band(StrEnum):
    EXACT = "exact"  # distance 0: the same hash
    CLOSE = "close"  # up to close_percent of the threshold
    NEAR = "near"  # the rest, up to the threshold


class Disclosure(StrEnum):
    BANDS = "bands"  # the default for providers
    EXACT = "exact"  # a deployment's explicit choice (ProviderDistanceDisclosure), and staff


@dataclass(frozen=True)
class DistanceBands:
    """``close_percent``: the share of the threshold (0-100) that is still ``close``."""

    close_percent: int = 50

    def __post_init__(self) -> None:
        if not 0 <= self.close_percent <= 100:
            raise ValueError(f"close_percent must be 0 to 100, got {self.close_percent}")

    def close_limit(self, threshold: int) -> int:
        return threshold * self.close_percent // 100

    def band(self, distance: int, threshold: int) -> Band:
        if distance <= 0:
            return Band.EXACT
        if distance <= self.close_limit(threshold):
            return Band.CLOSE
        return Band.NEAR

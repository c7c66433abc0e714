"""GET /v1/statistics's response model (JSON; CSV is rendered by statistics.query)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from hashmatch.statistics.query import PeriodCounts


class CounterView(BaseModel):
    dimension: str
    values: dict[str, str] = Field(description="The dimension's values, by name")
    count: int = Field(description="Summed over the period (indicators_active: at its end)")


class StatisticsView(BaseModel):
    """Counters summed over a period (docs/transparency.md names every dimension)."""

    period_from: date = Field(alias="from")
    period_to: date = Field(alias="to")
    counters: list[CounterView]

    @classmethod
    def of(cls, counts: PeriodCounts) -> StatisticsView:
        return cls.model_validate(
            {
                "from": counts.period.first,
                "to": counts.period.last,
                "counters": [
                    CounterView(dimension=c.dimension, values=c.named_values(), count=n)
                    for c, n in sorted(counts.counts.items())
                ],
            }
        )

"""Credits per model and channel, as plain data with Arrow / records / pandas views."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from smarketing.analytics.attribution.arrays import FloatArray
from smarketing.analytics.attribution.models import ModelName
from smarketing.analytics.attribution.paths import JourneyTotals

CREDIT_COLUMNS = ("model", "channel", "conversions", "value")
INTERVAL_COLUMNS = ("conversions_low", "conversions_high", "value_low", "value_high")


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelCredit:
    """One model's credit per channel (arrays aligned with `channels`)."""

    model: ModelName
    channels: tuple[str, ...]
    conversions: FloatArray
    value: FloatArray
    conversions_low: FloatArray | None = None
    conversions_high: FloatArray | None = None
    value_low: FloatArray | None = None
    value_high: FloatArray | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AttributionResult:
    """Every requested model's credit, the totals they sum to, and what was dropped."""

    credits: tuple[ChannelCredit, ...]
    totals: JourneyTotals
    ci: float | None = None
    replicates: int = 0

    @property
    def has_value(self) -> bool:
        return self.totals.has_value

    @property
    def columns(self) -> tuple[str, ...]:
        return CREDIT_COLUMNS + (INTERVAL_COLUMNS if self.ci is not None else ())

    def to_pylist(self) -> list[dict[str, Any]]:
        """One dict per model and channel; value columns are None without a value column."""
        rows: list[dict[str, Any]] = []
        for credit in self.credits:
            for i, channel in enumerate(credit.channels):
                row: dict[str, Any] = {
                    "model": credit.model,
                    "channel": channel,
                    "conversions": float(credit.conversions[i]),
                    "value": self._value(credit.value, i),
                }
                if self.ci is not None:
                    row["conversions_low"] = _at(credit.conversions_low, i)
                    row["conversions_high"] = _at(credit.conversions_high, i)
                    row["value_low"] = self._value(credit.value_low, i)
                    row["value_high"] = self._value(credit.value_high, i)
                rows.append(row)
        return rows

    def to_arrow(self) -> pa.Table:
        rows = self.to_pylist()
        schema = pa.schema(
            [("model", pa.string()), ("channel", pa.string())]
            + [(name, pa.float64()) for name in self.columns[2:]]
        )
        return pa.Table.from_pylist(rows, schema=schema)

    def to_pandas(self) -> Any:
        """A pandas DataFrame (needs pandas installed)."""
        return self.to_arrow().to_pandas()

    def credit_of(self, model: ModelName) -> ChannelCredit:
        for credit in self.credits:
            if credit.model == model:
                return credit
        raise KeyError(model)

    def _value(self, values: FloatArray | None, i: int) -> float | None:
        return _at(values, i) if self.has_value else None


def _at(values: FloatArray | None, i: int) -> float | None:
    return None if values is None else float(values[i])


def channel_order(names: Sequence[str]) -> list[str]:
    """Report order: by name, case-insensitively, then exactly."""
    return sorted(names, key=lambda name: (name.casefold(), name))

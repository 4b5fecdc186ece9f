"""Declarative journey data for the attribution tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa

from smarketing.analytics.attribution import AttributionResult, ModelName

Counts = tuple[float, float, float]
"""(conversions, value, nulls) of one path."""


def journey_table(rows: Mapping[str, Counts] | Sequence[tuple[str, Counts]]) -> pa.Table:
    """channelattribution's layout from {path: (conversions, value, nulls)} (or pairs)."""
    items = list(rows.items()) if isinstance(rows, Mapping) else list(rows)
    return pa.table(
        {
            "path": [path for path, _ in items],
            "total_conversions": [float(c[0]) for _, c in items],
            "total_conversion_value": [float(c[1]) for _, c in items],
            "total_null": [float(c[2]) for _, c in items],
        }
    )


def conversions_by_channel(result: AttributionResult, model: ModelName) -> dict[str, float]:
    credit = result.credit_of(model)
    return {name: float(x) for name, x in zip(credit.channels, credit.conversions, strict=True)}


def value_by_channel(result: AttributionResult, model: ModelName) -> dict[str, float]:
    credit = result.credit_of(model)
    return {name: float(x) for name, x in zip(credit.channels, credit.value, strict=True)}


def nonzero(credits: Mapping[str, float]) -> dict[str, float]:
    return {name: x for name, x in credits.items() if x != 0.0}

"""Who got what credit for one deal: every touch of its journey under every model.

Rule-based models split the journey by their rule, with the milestones of `w_shaped` and
`full_path` at the touches at or before the stored lead and opportunity transitions (and the
last touch as closed-won, for a won deal). Markov and Shapley are fitted on the population of
the period (`deal_journey.population_touches`) and split the journey among its channels in
proportion to their removal effects / Shapley values, then equally among each channel's
touches (`attribution.path_credit`).

Invariant: per model the touch shares are non-negative and sum to 1, and revenue credits sum
to the deal's value (its amount when won or open, 0 when lost), whenever the journey has a
touch; channel and team totals are sums of the touch credits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from smarketing.analytics.attribution.arrays import FloatArray
from smarketing.analytics.attribution.models import AttributionSettings, ModelName
from smarketing.analytics.attribution.path_credit import (
    DATA_DRIVEN,
    population_values,
    touch_credit,
)
from smarketing.analytics.attribution.touch_paths import touch_paths
from smarketing.analytics.reports.attribution import MODELS
from smarketing.analytics.reports.deal_journey import NO_TOUCH_NOTE, DealBasis
from smarketing.domain.stages import TouchTeam

DETAIL_COLUMNS = (
    "touch_id",
    "occurred_at",
    "person_id",
    "team",
    "kind",
    "name",
    "channel",
    "campaign_id",
    "campaign",
    "content_id",
    "content",
)
TOTAL_FIELDS = [("model", pa.string()), ("share", pa.float64()), ("revenue", pa.float64())]


@dataclass(frozen=True, kw_only=True, slots=True)
class DealCredit:
    """The breakdown: its basis, and the sections the surfaces show."""

    basis: DealBasis
    touches: pa.Table
    """One row per touch: the details, then the touch's share under each model (a column per
    model)."""
    credits: pa.Table
    """touch_id, model, share, revenue."""
    channels: pa.Table
    """model, channel, share, revenue: per channel on the journey."""
    teams: pa.Table
    """model, team, share, revenue: marketing and sales, for every model."""

    @property
    def notes(self) -> tuple[str, ...]:
        extra = () if self.touches.num_rows else (NO_TOUCH_NOTE,)
        return self.basis.notes + extra

    def summary(self) -> pa.Table:
        deal = self.basis.deal
        row: dict[str, Any] = {
            "deal_id": deal.id,
            "name": deal.name,
            "status": deal.status.value,
            "amount": float(deal.amount) if deal.amount is not None else None,
            "currency": deal.currency,
            "value": self.basis.value,
            "per": self.basis.per,
            "journey_id": self.basis.journey,
            "converted_at": self.basis.converted_at,
            "lookback_days": self.basis.lookback_days,
            "population_period": self.basis.period.label,
            "touches": self.touches.num_rows,
            "note": "; ".join(self.notes) or None,
        }
        return pa.Table.from_pylist([row])

    def sections(self) -> dict[str, pa.Table]:
        return {
            "deal": self.summary(),
            "touches": self.touches,
            "teams": self.teams,
            "channels": self.channels,
            "credits": self.credits,
        }


def deal_credit(
    basis: DealBasis,
    touches: pa.Table,
    population: pa.Table,
    settings: AttributionSettings,
) -> DealCredit:
    """Split `basis`'s deal over `touches` (rows of `deal_touches`) under every model."""
    n = touches.num_rows
    journey = touches.append_column("token", touches["channel"])
    for name, values in (
        ("conversion", pa.array([basis.deal.id] * n, pa.int64())),
        ("journey", pa.array([basis.journey] * n, pa.int64())),
        ("converted", pa.array([True] * n, pa.bool_())),
        ("value", pa.array([basis.value] * n, pa.float64())),
        ("converted_at", pa.array([basis.converted_at] * n, pa.timestamp("us"))),
    ):
        journey = journey.append_column(name, values)
    paths = touch_paths(journey, won=basis.won)
    fitted = population_values(touch_paths(population, won=True).paths, DATA_DRIVEN, settings)
    shares = touch_credit(paths.paths, MODELS, settings, fitted)
    rows = paths.rows
    wide = rows.select(list(DETAIL_COLUMNS))
    for model in MODELS:
        wide = wide.append_column(model, pa.array(shares[model], pa.float64()))
    touch_ids = rows["touch_id"].to_pylist()
    credits = [
        {
            "touch_id": touch_ids[i],
            "model": model,
            "share": float(share),
            "revenue": float(share) * basis.value,
        }
        for model in MODELS
        for i, share in enumerate(shares[model])
    ]
    return DealCredit(
        basis=basis,
        touches=wide,
        credits=pa.Table.from_pylist(
            credits,
            schema=pa.schema([("touch_id", pa.int64()), *TOTAL_FIELDS]),
        ),
        channels=_totals(rows["channel"].to_pylist(), shares, basis.value, "channel", None),
        teams=_totals(
            rows["team"].to_pylist(), shares, basis.value, "team", [t.value for t in TouchTeam]
        ),
    )


def _totals(
    labels: list[Any],
    shares: Mapping[ModelName, FloatArray],
    value: float,
    column: str,
    always: list[str] | None,
) -> pa.Table:
    """Per model and label: the sum of the touch shares and revenue credits (labels of the
    journey in first-seen order, plus `always` ones)."""
    names = [str(label) if label is not None else "(none)" for label in labels]
    order = list(dict.fromkeys([*(always or []), *names]))
    index = np.array([order.index(name) for name in names], dtype=np.int64)
    out: list[dict[str, Any]] = []
    for model in MODELS:
        sums = np.bincount(index, weights=shares[model], minlength=len(order))
        out.extend(
            {"model": model, column: label, "share": float(s), "revenue": float(s) * value}
            for label, s in zip(order, sums, strict=True)
        )
    schema = pa.schema([TOTAL_FIELDS[0], (column, pa.string()), *TOTAL_FIELDS[1:]])
    return pa.Table.from_pylist(out, schema=schema)

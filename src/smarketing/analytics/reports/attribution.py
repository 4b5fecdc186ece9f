"""The `attribution` report: credit for conversions in the period, every model side by side.

For each conversion kind (mql, sql, opportunity, won with revenue) and each dimension (channel,
campaign, content, team), the journeys come from `attribution.journeys` (per person or per
account, within the playbook's lookback) and are credited by every model of
`smarketing.analytics.attribution` with the playbook's settings. Credits per model sum to the
conversions (and revenue) of the period.
"""

from __future__ import annotations

import pyarrow as pa

from smarketing.analytics.attribution import (
    AttributionSettings,
    JourneyColumns,
    attribute,
)
from smarketing.analytics.attribution.journeys import (
    CONVERSION_KINDS,
    DIMENSIONS,
    JourneyQuery,
    journey_touches,
    paths_from_touches,
)
from smarketing.analytics.reports.registry import ReportContext, ReportDef, Sections, register

MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "w_shaped",
    "full_path",
    "markov",
    "shapley",
)


def _build(ctx: ReportContext) -> Sections:
    settings = ctx.playbook.attribution
    sections: Sections = {}
    for kind in CONVERSION_KINDS:
        for dimension in DIMENSIONS:
            query = JourneyQuery(
                kind=kind,
                per=settings.per,
                dimension=dimension,
                lookback_days=settings.lookback_days,
                start=ctx.period.start_at,
                end=ctx.period.end_at,
            )
            sections[f"{kind}:{dimension}"] = journey_touches(ctx.tables, query)
    return sections


def _finish(ctx: ReportContext, results: dict[str, pa.Table]) -> dict[str, pa.Table]:
    pb = ctx.playbook.attribution
    weights = pb.position_based
    settings = AttributionSettings(
        half_life_days=pb.time_decay_half_life_days,
        position_weights=(weights.first, weights.middle, weights.last),
    )
    rows: list[dict[str, object]] = []
    for key, touches in results.items():
        kind, dimension = key.split(":")
        paths = paths_from_touches(touches)
        if not sum(paths["total_conversions"].to_pylist()):
            continue
        result = attribute(
            paths, models=MODELS, settings=settings, columns=JourneyColumns(touch_times="times")
        )
        for credit in result.to_pylist():
            rows.append({"conversion": kind, "dimension": dimension, **credit})
    schema = pa.schema(
        [
            ("conversion", pa.string()),
            ("dimension", pa.string()),
            ("model", pa.string()),
            ("channel", pa.string()),
            ("conversions", pa.float64()),
            ("value", pa.float64()),
        ]
    )
    table = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)
    return {
        "credits": table.rename_columns(
            ["conversion", "dimension", "model", "credited", "conversions", "value"]
        )
    }


register(
    ReportDef(
        name="attribution",
        description="Credit for the period's conversions (mql, sql, opportunity, won) by channel, "
        "campaign, content and team, every model side by side.",
        build=_build,
        finish=_finish,
    )
)

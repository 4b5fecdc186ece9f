"""The `attribution` report: credit for conversions in the period, every model side by side.

For each conversion kind (mql, sql, opportunity, won with revenue) and each dimension (channel,
campaign, content, team), the journeys come from `attribution.journeys` (per person or per
account, within the playbook's lookback) and are credited by every model of
`smarketing.analytics.attribution` with the playbook's settings. The milestones of `w_shaped`
and `full_path` are the touches at or before the stored lead and opportunity transitions (see
`attribution.touch_paths`).

Invariant: per conversion kind, dimension and model, credits sum to the conversions (and
revenue) of the period that have at least one touch in their lookback window.

With a confidence level (`--ci 0.95`, `?ci=0.95`) every row also gets seeded bootstrap
percentile intervals (`conversions_low/high`, `value_low/high`); the same data gives the same
intervals on every engine. Without one, those columns are empty. The level is a choice of the
run, not of the playbook: it changes no credit, and the bootstrap repeats every model's fit
(Markov's solve included) `DEFAULT_REPLICATES` times, which a report over thousands of campaigns
should not pay unasked.
"""

from __future__ import annotations

import pyarrow as pa

from smarketing.analytics.attribution import AttributionSettings, attribute_journeys
from smarketing.analytics.attribution.bootstrap import DEFAULT_REPLICATES, check_interval
from smarketing.analytics.attribution.journeys import (
    CONVERSION_KINDS,
    DIMENSIONS,
    JourneyQuery,
    journey_touches,
)
from smarketing.analytics.attribution.models import ModelName
from smarketing.analytics.attribution.touch_paths import touch_paths
from smarketing.analytics.reports.registry import ReportContext, ReportDef, Sections, register
from smarketing.playbook.schema import Attribution

MODELS: tuple[ModelName, ...] = (
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
BOOTSTRAP_SEED = 0
CREDIT_SCHEMA = pa.schema(
    [
        ("conversion", pa.string()),
        ("dimension", pa.string()),
        ("model", pa.string()),
        ("credited", pa.string()),
        ("conversions", pa.float64()),
        ("value", pa.float64()),
        ("conversions_low", pa.float64()),
        ("conversions_high", pa.float64()),
        ("value_low", pa.float64()),
        ("value_high", pa.float64()),
    ]
)


def settings_from_playbook(pb: Attribution) -> AttributionSettings:
    """The models' settings from the playbook's `attribution` section."""
    weights = pb.position_based
    return AttributionSettings(
        half_life_days=pb.time_decay_half_life_days,
        position_weights=(weights.first, weights.middle, weights.last),
    )


def _build(ctx: ReportContext) -> Sections:
    if ctx.options.ci is not None:  # before any query runs
        check_interval(ctx.options.ci, DEFAULT_REPLICATES)
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


def credit_rows(
    touches: pa.Table,
    *,
    won: bool,
    settings: AttributionSettings,
    ci: float | None,
    replicates: int = DEFAULT_REPLICATES,
) -> list[dict[str, object]]:
    """Every model's credit per token of one kind and dimension's `journey_touches` rows."""
    paths = touch_paths(touches, won=won)
    if not paths.loaded.totals.conversions:
        return []
    result = attribute_journeys(
        paths.loaded,
        models=MODELS,
        settings=settings,
        ci=ci,
        replicates=replicates,
        seed=BOOTSTRAP_SEED,
    )
    return result.to_pylist()


def _finish(ctx: ReportContext, results: dict[str, pa.Table]) -> dict[str, pa.Table]:
    settings = settings_from_playbook(ctx.playbook.attribution)
    ci = ctx.options.ci
    rows: list[dict[str, object]] = []
    for key, touches in results.items():
        kind, dimension = key.split(":")
        for credit in credit_rows(touches, won=kind == "won", settings=settings, ci=ci):
            rows.append(
                {
                    "conversion": kind,
                    "dimension": dimension,
                    "credited": credit["channel"],
                    **credit,
                }
            )
    table = pa.Table.from_pylist(
        [{name: row.get(name) for name in CREDIT_SCHEMA.names} for row in rows],
        schema=CREDIT_SCHEMA,
    )
    return {"credits": table}


register(
    ReportDef(
        name="attribution",
        description="Credit for the period's conversions (mql, sql, opportunity, won) by channel, "
        "campaign, content and team, every model side by side, with bootstrap intervals "
        "when a confidence level is asked (ci).",
        build=_build,
        finish=_finish,
        options=frozenset({"ci"}),
    )
)

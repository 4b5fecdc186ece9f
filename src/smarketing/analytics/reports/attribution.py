"""The `attribution` report: credit for conversions in the period, every model side by side.

For each conversion kind (mql, sql, opportunity, won with revenue) and each dimension (channel,
campaign, content, team), the journeys of `attribution.journeys` (per person or per account,
within the playbook's lookback) are credited by every model of
`smarketing.analytics.attribution` with the playbook's settings. The milestones of `w_shaped`
and `full_path` are the touches at or before the stored lead and opportunity transitions (see
`attribution.touch_paths`). At scale the engine only joins and sorts: two queries of
`attribution.journey_rows` return the converting journeys of every kind and every journey's
recent touches as sorted rows with integer tokens (on a DuckDB copy, whose sync keeps the
touches sorted, `attribution.indexed_rows` makes the same rows from a time range of them and
the conversions, with no sort in the engine: `ReportContext.touch_order`);
`attribution.report_paths` cuts them into paths and `attribution.report_credit` gives the same
credits as `credit_rows` over the touch rows (which the per-deal breakdown and the tests still
use).

Invariant: per conversion kind, dimension and model, credits sum to the conversions (and
revenue) of the period that have at least one touch in their lookback window.

With a confidence level (`--ci 0.95`, `?ci=0.95`) every row also gets seeded bootstrap
percentile intervals (`conversions_low/high`, `value_low/high`) from `BOOTSTRAP_GROUPS` random
groups of journeys (see `report_credit`); the same data gives the same intervals on every engine.
Without one, those columns are empty. The level is a choice of the run, not of the playbook: it
changes no credit, and the bootstrap repeats every model's fit (Markov's solve included)
`DEFAULT_REPLICATES` times, which a report over thousands of campaigns should not pay unasked.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from smarketing.analytics.attribution import AttributionSettings, attribute_journeys
from smarketing.analytics.attribution.bootstrap import (
    DEFAULT_REPLICATES,
    check_interval,
    percentile_interval,
)
from smarketing.analytics.attribution.indexed_rows import indexed_sections, rows_from_index
from smarketing.analytics.attribution.journey_rows import (
    content_names,
    converting_rows,
    recent_rows,
    token_names,
)
from smarketing.analytics.attribution.journeys import (
    CONVERSION_KINDS,
    DIMENSIONS,
    Dimension,
    JourneyQuery,
)
from smarketing.analytics.attribution.models import ModelName
from smarketing.analytics.attribution.report_credit import KindCredit, grouped_credits
from smarketing.analytics.attribution.report_paths import (
    ConvertingPaths,
    TokenNames,
    sorted_paths,
)
from smarketing.analytics.attribution.report_paths import (
    token_names as names_of_tokens,
)
from smarketing.analytics.attribution.result import channel_order
from smarketing.analytics.attribution.touch_paths import touch_paths
from smarketing.analytics.reports.registry import ReportContext, ReportDef, Sections, register
from smarketing.analytics.tables import Tables
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
ROW_CAP = 50_000_000
"""Row cap of the journey queries: one row per touch in the lookback windows of the period
(about 6M at a million people with 20M touches a year)."""
BOOTSTRAP_GROUPS = 100
"""Random groups of journeys the bootstrap resamples (see `attribution.report_credit`)."""
_CREDIT_FIELDS = [
    ("conversions", pa.float64()),
    ("value", pa.float64()),
    ("conversions_low", pa.float64()),
    ("conversions_high", pa.float64()),
    ("value_low", pa.float64()),
    ("value_high", pa.float64()),
]
ROW_SCHEMA = pa.schema([("model", pa.string()), ("channel", pa.string()), *_CREDIT_FIELDS])
"""One kind and dimension's credits (`journey_credit_rows`)."""
CREDIT_SCHEMA = pa.schema(
    [
        ("conversion", pa.string()),
        ("dimension", pa.string()),
        ("model", pa.string()),
        ("credited", pa.string()),
        *_CREDIT_FIELDS,
    ]
)


def settings_from_playbook(pb: Attribution) -> AttributionSettings:
    """The models' settings from the playbook's `attribution` section."""
    weights = pb.position_based
    return AttributionSettings(
        half_life_days=pb.time_decay_half_life_days,
        position_weights=(weights.first, weights.middle, weights.last),
    )


def _query(ctx: ReportContext) -> JourneyQuery:
    settings = ctx.playbook.attribution
    return JourneyQuery(
        per=settings.per,
        lookback_days=settings.lookback_days,
        start=ctx.period.start_at,
        end=ctx.period.end_at,
    )


def _build(ctx: ReportContext) -> Sections:
    if ctx.options.ci is not None:  # before any query runs
        check_interval(ctx.options.ci, DEFAULT_REPLICATES)
    if ctx.touch_order:
        return indexed_sections(ctx.tables, _query(ctx))
    return journey_sections(ctx.tables, _query(ctx))


def journey_sections(tables: Tables, query: JourneyQuery) -> Sections:
    """The engine's part: token names and the sorted journey rows of every kind."""
    return {
        "names": token_names(tables),
        "content": content_names(tables),
        "converting": converting_rows(tables, query),
        "recent": recent_rows(tables, query),
    }


def journey_credit_rows(
    results: dict[str, pa.Table],
    *,
    settings: AttributionSettings,
    ci: float | None,
    replicates: int = DEFAULT_REPLICATES,
    groups: int = BOOTSTRAP_GROUPS,
) -> dict[tuple[str, Dimension], pa.Table]:
    """Per kind and dimension, every model's credit per token from the report's sections:
    the rows of `credit_rows` over the same journeys as a table of `ROW_SCHEMA` (intervals:
    see `report_credit`)."""
    names = names_of_tokens(results["names"], results["content"])
    recent = sorted_paths(results["recent"], ("journey",), names)
    converting = ConvertingPaths.of(results["converting"], names, len(CONVERSION_KINDS))

    def credits(n_groups: int) -> dict[tuple[str, Dimension], KindCredit]:
        return grouped_credits(
            recent,
            converting,
            names,
            kinds=CONVERSION_KINDS,
            models=MODELS,
            settings=settings,
            groups=n_groups,
        )

    point = credits(1)
    grouped = credits(groups) if ci is not None else {}
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    weights = rng.multinomial(groups, np.full(groups, 1.0 / groups), size=replicates)
    out: dict[tuple[str, Dimension], pa.Table] = {}
    for k, kind in enumerate(CONVERSION_KINDS):
        first, last = converting.kind_bounds[k], converting.kind_bounds[k + 1]
        touches = slice(int(converting.paths.offsets[first]), int(converting.paths.offsets[last]))
        for dim in DIMENSIONS:
            if first == last:
                out[(kind, dim)] = ROW_SCHEMA.empty_table()
                continue
            intervals = (
                _intervals(grouped[(kind, dim)], weights.astype(np.float64), ci)
                if ci is not None
                else {}
            )
            out[(kind, dim)] = _rows(
                point[(kind, dim)], names[dim], converting.paths.tokens[dim][touches], intervals
            )
    return out


Interval = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _intervals(credit: KindCredit, weights: np.ndarray, ci: float) -> dict[ModelName, Interval]:
    out: dict[ModelName, Interval] = {}
    for model in MODELS:
        conversions, value = credit.credit(model, weights)
        out[model] = (percentile_interval(conversions, ci), percentile_interval(value, ci))
    return out


def _rows(
    credit: KindCredit,
    names: TokenNames,
    converting_tokens: np.ndarray,
    intervals: dict[ModelName, Interval],
) -> pa.Table:
    """Per model, the tokens seen or credited in report order, built column by column."""
    one = np.ones((1, 1))
    point = {model: credit.credit(model, one) for model in MODELS}
    shown = np.zeros(len(names.names), dtype=np.bool_)
    shown[converting_tokens] = True
    for conversions, value in point.values():
        shown |= (conversions[0] > 0) | (value[0] > 0)
    index = {name: i for i, name in enumerate(names.names)}
    shown_names = [names.names[i] for i in np.flatnonzero(shown)]
    listed = np.array([index[name] for name in channel_order(shown_names)], dtype=np.int64)
    columns: dict[str, object] = {
        "model": np.repeat(np.array(MODELS, dtype=object), listed.size),
        "channel": np.tile(np.array(names.names, dtype=object)[listed], len(MODELS)),
        "conversions": np.concatenate([point[m][0][0, listed] for m in MODELS]),
        "value": np.concatenate([point[m][1][0, listed] for m in MODELS]),
    }
    bounds = ("conversions_low", "conversions_high", "value_low", "value_high")
    if intervals:
        for b, bound in enumerate(bounds):
            columns[bound] = np.concatenate([intervals[m][b // 2][b % 2][listed] for m in MODELS])
    else:
        columns |= {bound: pa.nulls(len(MODELS) * listed.size, pa.float64()) for bound in bounds}
    return pa.table(columns, schema=ROW_SCHEMA)


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
    if ctx.touch_order:
        converting, recent = rows_from_index(results, _query(ctx))
        results = {**results, "converting": converting, "recent": recent}
    by_kind = journey_credit_rows(
        results, settings=settings_from_playbook(ctx.playbook.attribution), ci=ctx.options.ci
    )
    tables = []
    for (kind, dimension), rows in by_kind.items():
        n = rows.num_rows
        tables.append(
            pa.table(
                {
                    "conversion": pa.repeat(kind, n),
                    "dimension": pa.repeat(dimension, n),
                    "model": rows["model"],
                    "credited": rows["channel"],
                    **{name: rows[name] for name in CREDIT_SCHEMA.names[4:]},
                },
                schema=CREDIT_SCHEMA,
            )
        )
    return {"credits": pa.concat_tables(tables) if tables else CREDIT_SCHEMA.empty_table()}


register(
    ReportDef(
        name="attribution",
        description="Credit for the period's conversions (mql, sql, opportunity, won) by channel, "
        "campaign, content and team, every model side by side, with bootstrap intervals "
        "when a confidence level is asked (ci).",
        build=_build,
        finish=_finish,
        options=frozenset({"ci"}),
        max_rows=ROW_CAP,
    )
)

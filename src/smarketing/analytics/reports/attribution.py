"""The `attribution` report: credit for conversions in the period, every model side by side.

For each conversion kind (mql, sql, opportunity, won with revenue) and each dimension (channel,
campaign, content, team), the journeys of `attribution.journeys` (per person or per account,
within the playbook's lookback) are credited by every model of
`smarketing.analytics.attribution` with the playbook's settings. The milestones of `w_shaped`
and `full_path` are the touches at or before the stored lead and opportunity transitions (see
`attribution.touch_paths`). At scale no journey leaves the engine: per kind, it returns the
small cells of `attribution.journey_cells` for all four dimensions (plus one query of recent
steps shared by the kinds), and `attribution.cell_credit` turns them into the same credits as
`credit_rows` over the touch rows (which the per-deal breakdown and the tests still use).

Invariant: per conversion kind, dimension and model, credits sum to the conversions (and
revenue) of the period that have at least one touch in their lookback window.

With a confidence level (`--ci 0.95`, `?ci=0.95`) every row also gets seeded bootstrap
percentile intervals (`conversions_low/high`, `value_low/high`) from `BOOTSTRAP_GROUPS` random
groups of journeys (see `cell_credit`); the same data gives the same intervals on every engine.
Without one, those columns are empty. The level is a choice of the run, not of the playbook: it
changes no credit, and the bootstrap repeats every model's fit (Markov's solve included)
`DEFAULT_REPLICATES` times, which a report over thousands of campaigns should not pay unasked.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.analytics.attribution import AttributionSettings, attribute_journeys
from smarketing.analytics.attribution.arrays import int_values
from smarketing.analytics.attribution.bootstrap import (
    DEFAULT_REPLICATES,
    check_interval,
    percentile_interval,
)
from smarketing.analytics.attribution.cell_credit import (
    CHAIN_KEYS,
    CHAIN_SUMS,
    CREDIT_KEYS,
    CREDIT_SUMS,
    ChainCells,
    Credit,
    Grouping,
    rule_credits,
    sorted_cells,
    summed,
    token_index,
)
from smarketing.analytics.attribution.journey_cells import (
    chain_cells,
    credit_cells,
    recent_cells,
)
from smarketing.analytics.attribution.journeys import (
    CONVERSION_KINDS,
    DIMENSIONS,
    JourneyQuery,
)
from smarketing.analytics.attribution.models import ModelName
from smarketing.analytics.attribution.result import channel_order
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
CELL_ROW_CAP = 5_000_000
"""Row cap of the cell queries: bounded by the touches of the period's converting journeys
(a few rows per token, path shape and bootstrap group), never one row per touch of everyone."""
BOOTSTRAP_GROUPS = 100
"""Random groups of journeys the bootstrap resamples (see `attribution.cell_credit`)."""
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
    groups = BOOTSTRAP_GROUPS if ctx.options.ci is not None else 1
    sections: Sections = {}
    for kind in CONVERSION_KINDS:
        query = JourneyQuery(
            kind=kind,
            per=settings.per,
            lookback_days=settings.lookback_days,
            start=ctx.period.start_at,
            end=ctx.period.end_at,
        )
        sections[f"{kind}:credit"] = credit_cells(
            ctx.tables,
            query,
            won=kind == "won",
            half_life_days=settings.time_decay_half_life_days,
            buckets=groups,
        )
        sections[f"{kind}:chain"] = chain_cells(ctx.tables, query, buckets=groups)
    sections["recent"] = recent_cells(ctx.tables, query, buckets=groups)  # for every kind
    return sections


def cell_rows(
    credit: pa.Table,
    chain: pa.Table,
    *,
    settings: AttributionSettings,
    ci: float | None,
    replicates: int = DEFAULT_REPLICATES,
    groups: int = BOOTSTRAP_GROUPS,
) -> list[dict[str, object]]:
    """Every model's credit per token of one kind and dimension, from its engine cells (the
    chain cells of `recent_cells` and `chain_cells` together); the rows of `credit_rows` over
    the same journeys (intervals: see `cell_credit`)."""
    if credit.num_rows == 0:
        return []
    point_credit = summed(credit, CREDIT_KEYS, CREDIT_SUMS)
    point_chain = _counted(summed(chain, CHAIN_KEYS, CHAIN_SUMS))
    names = sorted(
        {
            *pc.unique(point_credit["token"]).to_pylist(),
            *pc.unique(point_chain["token"]).to_pylist(),
            *pc.unique(point_chain["source"].drop_null()).to_pylist(),
        }
    )
    point = _credits(point_credit, point_chain, names, 1, settings, np.ones((1, 1)))
    intervals: dict[ModelName, tuple[Credit, Credit]] = {}
    if ci is not None:
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        weights = rng.multinomial(groups, np.full(groups, 1.0 / groups), size=replicates)
        samples = _credits(
            sorted_cells(credit, ("bucket", *CREDIT_KEYS)),
            _counted(summed(chain, ("bucket", *CHAIN_KEYS), CHAIN_SUMS)),
            names,
            groups,
            settings,
            weights.astype(np.float64),
        )
        intervals = {
            model: (percentile_interval(conv, ci), percentile_interval(value, ci))
            for model, (conv, value) in samples.items()
        }
    shown = np.zeros(len(names), dtype=np.bool_)
    shown[token_index(pc.unique(credit["token"]), names)] = True
    for conversions, value in point.values():
        shown |= (conversions[0] > 0) | (value[0] > 0)
    index = {name: i for i, name in enumerate(names)}
    listed = [index[name] for name in channel_order([names[i] for i in np.flatnonzero(shown)])]
    rows: list[dict[str, object]] = []
    for model in MODELS:
        for i in listed:
            row: dict[str, object] = {
                "model": model,
                "channel": names[i],
                "conversions": float(point[model][0][0, i]),
                "value": float(point[model][1][0, i]),
            }
            if model in intervals:
                (c_low, c_high), (v_low, v_high) = intervals[model]
                row |= {
                    "conversions_low": float(c_low[i]),
                    "conversions_high": float(c_high[i]),
                    "value_low": float(v_low[i]),
                    "value_high": float(v_high[i]),
                }
            rows.append(row)
    return rows


def _credits(
    credit: pa.Table,
    chain: pa.Table,
    names: list[str],
    groups: int,
    settings: AttributionSettings,
    weights: np.ndarray,
) -> dict[ModelName, Credit]:
    """Per model: credits per replicate (rows of `weights`, one weight per group) and token."""
    group = _groups(credit, groups)
    grouping = Grouping(
        group=group,
        token=token_index(credit["token"], names),
        n_groups=groups,
        n_tokens=len(names),
    )
    per_group = rule_credits(credit, grouping, MODELS, settings)
    out: dict[ModelName, Credit] = {
        model: (weights @ conv, weights @ value) for model, (conv, value) in per_group.items()
    }
    cells = ChainCells.of(chain, names, _groups(chain, groups), groups)
    markov = [cells.credit(row) for row in weights]
    out["markov"] = (np.vstack([c for c, _ in markov]), np.vstack([v for _, v in markov]))
    return out


def _counted(chain: pa.Table) -> pa.Table:
    """Chain cells whose journeys did not all cancel out (converting journeys taken back)."""
    return chain.filter(pc.not_equal(chain["journeys"], 0))


def _groups(cells: pa.Table, groups: int) -> np.ndarray:
    if groups == 1:
        return np.zeros(cells.num_rows, dtype=np.int64)
    return int_values(cells["bucket"].combine_chunks())


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
    for kind in CONVERSION_KINDS:
        credit = results[f"{kind}:credit"]
        chain = pa.concat_tables([results["recent"], results[f"{kind}:chain"]])
        for dimension in DIMENSIONS:
            mine = pc.equal(credit["dimension"], dimension)
            steps = pc.equal(chain["dimension"], dimension)
            for row in cell_rows(
                credit.filter(mine), chain.filter(steps), settings=settings, ci=ci
            ):
                rows.append(
                    {"conversion": kind, "dimension": dimension, "credited": row["channel"], **row}
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
        max_rows=CELL_ROW_CAP,
    )
)

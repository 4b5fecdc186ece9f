"""`funnel` and `velocity`: how many people move through each stage, and how fast.

funnel / stages: for each stage of the playbook's funnel, the people who reached it in the
  period (`entered`), how many of them have reached the next stage by now (`reached_next`),
  the conversion rate between the two and the drop-off.
funnel / cohorts: people created in each month of the period and how far they got.
velocity / stages: for each step (stage -> next stage) completed in the period, the median,
  90th percentile and mean days it took, plus the whole lead -> customer cycle.
"""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.analytics.reports.common import (
    STAGE_COLUMNS,
    Col,
    count_true,
    days_between,
    enabled_funnel,
    month_label,
    rate,
    stage_journeys,
    unpivot,
    within,
)
from smarketing.analytics.reports.registry import ReportContext, ReportDef, Sections, register
from smarketing.domain.stages import FUNNEL, Stage


def _steps(ctx: ReportContext) -> list[tuple[int, Stage, Stage | None]]:
    stages = enabled_funnel(ctx.playbook.enabled_stages)
    return [
        (FUNNEL.index(s), s, stages[i + 1] if i + 1 < len(stages) else None)
        for i, s in enumerate(stages)
    ]


def funnel_wide(ctx: ReportContext) -> ir.Table:
    """One row, one pass: per stage, people entering it in the period and how many of them
    reached the next stage by now."""
    j = stage_journeys(ctx.tables)
    aggs: dict[str, ir.Value] = {}
    for _, stage, nxt in _steps(ctx):
        entered = within(j[STAGE_COLUMNS[stage]], ctx.period)
        aggs[f"entered_{stage.value}"] = count_true(entered)
        if nxt is not None:
            both = entered & j[STAGE_COLUMNS[nxt]].notnull()
            aggs[f"next_{stage.value}"] = count_true(both)
    return j.agg(**aggs)


_STAGES_SCHEMA = pa.schema(
    [
        ("stage_order", pa.int64()),
        ("stage", pa.string()),
        ("next_stage", pa.string()),
        ("entered", pa.int64()),
        ("reached_next", pa.int64()),
        ("conversion_rate", pa.float64()),
        ("dropped", pa.int64()),
        ("drop_off_rate", pa.float64()),
    ]
)


def _ratio(a: int | None, b: int | None) -> float | None:
    return None if a is None or not b else a / b


def finish_funnel(ctx: ReportContext, results: dict[str, pa.Table]) -> dict[str, pa.Table]:
    wide = results["stages"].to_pylist()[0]
    rows = []
    for order, stage, nxt in _steps(ctx):
        entered = wide[f"entered_{stage.value}"] or 0
        reached = (wide[f"next_{stage.value}"] or 0) if nxt else None
        dropped = entered - reached if reached is not None else None
        rows.append(
            {
                "stage_order": order,
                "stage": stage.value,
                "next_stage": nxt.value if nxt else None,
                "entered": entered,
                "reached_next": reached,
                "conversion_rate": _ratio(reached, entered),
                "dropped": dropped,
                "drop_off_rate": _ratio(dropped, entered),
            }
        )
    return {**results, "stages": pa.Table.from_pylist(rows, schema=_STAGES_SCHEMA)}


def funnel_cohorts(ctx: ReportContext) -> ir.Table:
    j = stage_journeys(ctx.tables)
    created = j.filter(within(j.created_at, ctx.period))
    c = created.mutate(cohort=month_label(created.created_at))

    def reached(stage: Stage) -> ir.IntegerValue:
        return count_true(c[STAGE_COLUMNS[stage]].notnull())

    g = c.group_by("cohort").agg(
        people=c.count(),
        leads=reached(Stage.LEAD),
        mqls=reached(Stage.MQL),
        sals=reached(Stage.SAL),
        sqls=reached(Stage.SQL),
        opportunities=reached(Stage.OPPORTUNITY),
        customers=reached(Stage.CUSTOMER),
        disqualified=count_true(c.disqualified_at.notnull()),
    )
    return g.mutate(
        lead_to_mql=rate(g.mqls, g.leads),
        mql_to_sql=rate(g.sqls, g.mqls),
        sql_to_customer=rate(g.customers, g.sqls),
        lead_to_customer=rate(g.customers, g.leads),
    ).order_by("cohort")


def build_funnel(ctx: ReportContext) -> Sections:
    return {"stages": funnel_wide(ctx), "cohorts": funnel_cohorts(ctx)}


def _velocity_pairs(ctx: ReportContext) -> list[tuple[int, Stage, Stage]]:
    pairs = [(order, s, n) for order, s, n in _steps(ctx) if n is not None]
    return [*pairs, (len(FUNNEL), Stage.LEAD, Stage.CUSTOMER)]


def velocity_wide(ctx: ReportContext) -> ir.Table:
    """One row, one pass: per step, people completing it in the period and the days it took."""
    j = stage_journeys(ctx.tables)
    aggs: dict[str, ir.Value] = {}
    for _, stage, nxt in _velocity_pairs(ctx):
        start, end = j[STAGE_COLUMNS[stage]], j[STAGE_COLUMNS[nxt]]
        done = within(end, ctx.period) & start.notnull() & (end >= start)
        days = days_between(start, end)
        key = f"{stage.value}_{nxt.value}"
        aggs[f"n_{key}"] = count_true(done)
        aggs[f"median_{key}"] = days.quantile(0.5, where=done)
        aggs[f"p90_{key}"] = days.quantile(0.9, where=done)
        aggs[f"mean_{key}"] = days.mean(where=done)
    return j.agg(**aggs)


_VELOCITY_SCHEMA = pa.schema(
    [
        ("step_order", pa.int64()),
        ("stage", pa.string()),
        ("next_stage", pa.string()),
        ("people", pa.int64()),
        ("median_days", pa.float64()),
        ("p90_days", pa.float64()),
        ("mean_days", pa.float64()),
    ]
)


def finish_velocity(ctx: ReportContext, results: dict[str, pa.Table]) -> dict[str, pa.Table]:
    rows: list[dict[str, Any]] = []
    for order, stage, nxt in _velocity_pairs(ctx):
        key = f"{stage.value}_{nxt.value}"
        rows.append(
            {
                "step_order": order,
                "stage": stage.value,
                "next_stage": nxt.value,
                "people": Col(f"n_{key}"),
                "median_days": Col(f"median_{key}"),
                "p90_days": Col(f"p90_{key}"),
                "mean_days": Col(f"mean_{key}"),
            }
        )
    table = unpivot(results["stages"], rows, _VELOCITY_SCHEMA)
    people = pc.fill_null(table["people"], 0)
    return {"stages": table.set_column(3, "people", people)}


register(
    ReportDef(
        name="funnel",
        description="People reaching each stage in the period, conversion and drop-off; "
        "monthly cohorts of new people.",
        build=build_funnel,
        finish=finish_funnel,
    )
)
register(
    ReportDef(
        name="velocity",
        description="Median and 90th-percentile days from each stage to the next (steps "
        "completed in the period), and the whole lead-to-customer cycle.",
        build=lambda ctx: {"stages": velocity_wide(ctx)},
        finish=finish_velocity,
    )
)

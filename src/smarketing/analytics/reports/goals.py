"""`goals`: the reverse funnel from the playbook's revenue goal for the period.

customers needed = revenue goal x marketing share / average deal size (the goal's, else the
average won new-business deal of the last 365 days); each earlier stage needs the next
stage's number divided by the live conversion rate into it. Live rates: of the people who
reached a stage in the 365 days before the period started, the share that reached the next
stage by now. For each stage: needed vs actual (people who reached it in the period so far),
both per working day (the playbook's business days), and the forecast at the current pace.

A month without its own goal uses a third of its quarter's goal.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from smarketing.analytics.reports.common import (
    STAGE_COLUMNS,
    count_true,
    stage_journeys,
    ts,
    within,
)
from smarketing.analytics.reports.period import Period, quarter_label
from smarketing.analytics.reports.registry import ReportContext, ReportDef, Sections, register
from smarketing.domain.stages import FUNNEL, Stage
from smarketing.errors import UsageError
from smarketing.playbook.schema import Goal

GOAL_STAGES = (Stage.LEAD, Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)
TRAILING = timedelta(days=365)


def _stages(ctx: ReportContext) -> list[Stage]:
    return [s for s in GOAL_STAGES if s in ctx.playbook.enabled_stages]


def goal_for(ctx: ReportContext) -> tuple[Goal, float]:
    """The goal of the period and the share of it that applies (1, or 1/3 for a month)."""
    goals = {g.period: g for g in ctx.playbook.goals}
    label = ctx.period.label
    if label in goals:
        return goals[label], 1.0
    quarter = quarter_label(ctx.period.start)
    if len(label) == 7 and quarter in goals:
        return goals[quarter], 1 / 3
    raise UsageError(
        f"the playbook has no revenue goal for {label}",
        hint=f"add one under `goals:` (period: {label}) or pick a period that has one",
    )


def build_goals(ctx: ReportContext) -> Sections:
    goal_for(ctx)  # fail early, before any query runs
    j = stage_journeys(ctx.tables)
    lookback_start = ts(datetime.combine(ctx.period.start, time()) - TRAILING)
    period_start = ts(ctx.period.start_at)
    stages = _stages(ctx)
    aggs: dict[str, ir.Value] = {}
    for i, stage in enumerate(stages):
        at = j[STAGE_COLUMNS[stage]]
        trailing = (at >= lookback_start) & (at < period_start)
        aggs[f"actual_{stage.value}"] = count_true(within(at, ctx.period))
        aggs[f"trailing_{stage.value}"] = count_true(trailing)
        if i + 1 < len(stages):
            nxt = j[STAGE_COLUMNS[stages[i + 1]]]
            aggs[f"converted_{stage.value}"] = count_true(trailing & nxt.notnull())
    return {"stages": j.agg(**aggs), "deals": _deals(ctx)}


def _deals(ctx: ReportContext) -> ir.Table:
    d = ctx.tables.deals
    won = d.filter((d.status == "won") & (d.type == "new") & d.close_date.notnull())
    closed = won.close_date.cast("timestamp")
    today_end = datetime.combine(ctx.today + timedelta(days=1), time())
    recent = (closed >= ts(today_end - TRAILING)) & (closed < ts(today_end))
    return won.agg(
        average_deal_size=won.amount.cast("float64").mean(where=recent),
        won_revenue=won.amount.cast("float64").sum(where=within(closed, ctx.period)),
        won_deals=count_true(within(closed, ctx.period)),
    )


def _per_day(value: float | None, days: int) -> float | None:
    return None if value is None or days <= 0 else value / days


def finish_goals(ctx: ReportContext, results: dict[str, pa.Table]) -> dict[str, pa.Table]:
    goal, share = goal_for(ctx)
    period: Period = ctx.period
    deals = results["deals"].to_pylist()[0]
    average = goal.average_deal_size or deals["average_deal_size"]
    revenue = goal.revenue * share
    weekdays = tuple(ctx.playbook.business_hours.days)
    total_days = period.working_days(weekdays)
    elapsed_days = period.working_days(weekdays, until=period.elapsed_end)
    wide = results["stages"].to_pylist()[0]
    stages = _stages(ctx)
    rows: list[dict[str, Any]] = []
    for stage in stages:
        converted = wide.get(f"converted_{stage.value}")
        trailing = wide[f"trailing_{stage.value}"] or 0
        rows.append(
            {
                "stage_order": FUNNEL.index(stage),
                "stage": stage.value,
                "actual": wide[f"actual_{stage.value}"] or 0,
                "rate_to_next": (converted or 0) / trailing
                if converted is not None and trailing
                else None,
            }
        )
    needed: float | None = revenue * goal.marketing_share / average if average else None
    for row in reversed(rows):
        if row is not rows[-1]:
            rate_in = row["rate_to_next"]
            needed = needed / rate_in if needed is not None and rate_in else None
        row["needed"] = needed
    out: list[dict[str, Any]] = []
    for row in rows:
        forecast = row["actual"] / elapsed_days * total_days if elapsed_days else None
        n = row["needed"]
        out.append(
            {
                "stage_order": row["stage_order"],
                "stage": row["stage"],
                "conversion_to_next": row["rate_to_next"],
                "needed": n,
                "actual": row["actual"],
                "remaining": None if n is None else max(n - row["actual"], 0.0),
                "needed_per_working_day": _per_day(n, total_days),
                "actual_per_working_day": _per_day(float(row["actual"]), elapsed_days),
                "forecast": forecast,
                "on_track": None if n is None or forecast is None else forecast >= n,
            }
        )
    won = deals["won_revenue"] or 0.0
    summary = {
        "period": period.label,
        "revenue_goal": revenue,
        "currency": goal.currency,
        "marketing_share": goal.marketing_share,
        "average_deal_size": average,
        "average_deal_size_from": "playbook" if goal.average_deal_size else "won deals, 365 days",
        "customers_needed": out[-1]["needed"] if out else None,
        "won_revenue": won,
        "won_deals": deals["won_deals"] or 0,
        "revenue_forecast": won / elapsed_days * total_days if elapsed_days else None,
        "working_days": total_days,
        "working_days_elapsed": elapsed_days,
    }
    return {
        "reverse_funnel": pa.Table.from_pylist(out, schema=_FUNNEL_SCHEMA),
        "summary": pa.Table.from_pylist([summary], schema=_SUMMARY_SCHEMA),
    }


_FUNNEL_SCHEMA = pa.schema(
    [
        ("stage_order", pa.int64()),
        ("stage", pa.string()),
        ("conversion_to_next", pa.float64()),
        ("needed", pa.float64()),
        ("actual", pa.int64()),
        ("remaining", pa.float64()),
        ("needed_per_working_day", pa.float64()),
        ("actual_per_working_day", pa.float64()),
        ("forecast", pa.float64()),
        ("on_track", pa.bool_()),
    ]
)
_SUMMARY_SCHEMA = pa.schema(
    [
        ("period", pa.string()),
        ("revenue_goal", pa.float64()),
        ("currency", pa.string()),
        ("marketing_share", pa.float64()),
        ("average_deal_size", pa.float64()),
        ("average_deal_size_from", pa.string()),
        ("customers_needed", pa.float64()),
        ("won_revenue", pa.float64()),
        ("won_deals", pa.int64()),
        ("revenue_forecast", pa.float64()),
        ("working_days", pa.int64()),
        ("working_days_elapsed", pa.int64()),
    ]
)

register(
    ReportDef(
        name="goals",
        description="Reverse funnel from the playbook's revenue goal: needed vs actual per "
        "stage, per working day, and the forecast at the current pace.",
        build=build_goals,
        finish=finish_goals,
    )
)

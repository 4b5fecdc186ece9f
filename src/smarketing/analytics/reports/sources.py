"""`sources` and `rejections`: closed-loop lead quality by where people came from.

sources: the leads created in the period (people whose lead stage falls in it), grouped by
  their source (first touch) channel, campaign and content, with what became of them so far:
  MQLs, MQL -> SAL acceptance, SQL rate (SQLs / leads), win rate (customers / SQLs), won
  revenue (new-business deals), revenue per lead; for campaigns with a cost, the cost
  falling in the period (pro rata by days run), cost per SQL and ROI = (revenue - cost) / cost.
rejections: the reasons sales gave for rejecting hand-offs in the period, overall and by source
  channel, with the rejection rate among hand-offs decided (accepted or rejected) in the period.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from smarketing.analytics.reports.common import (
    NO_SOURCE,
    STAGE_COLUMNS,
    count_true,
    days_between,
    journeys,
    ratio,
    rollup,
    ts,
    within,
    won_revenue,
)
from smarketing.analytics.reports.registry import ReportContext, ReportDef, Sections, register
from smarketing.domain.stages import Stage

_KEYS = {
    "channels": ["source_channel"],
    "campaigns": ["source_campaign_id"],
    "content": ["source_content_id"],
}


def _leads(ctx: ReportContext) -> ir.Table:
    j = journeys(ctx.tables)
    leads = j.filter(within(j[STAGE_COLUMNS[Stage.LEAD]], ctx.period))
    revenue = won_revenue(ctx.tables)
    joined = leads.left_join(revenue, leads.person_id == revenue.person_id)
    return joined.select(
        *[leads[c] for c in leads.columns],
        revenue=ibis.coalesce(revenue.revenue, ibis.literal(0, "decimal(18, 2)")),
    )


_GRID_KEYS = ("channel", "campaign_id", "content_id")
_SUMS = ("leads", "mqls", "sals", "sqls", "customers", "revenue")


def leads_grid(ctx: ReportContext) -> ir.Table:
    """The period's leads and what became of them, by (channel, campaign, content): one pass;
    `finish_sources` rolls it up per dimension."""
    leads = _leads(ctx)

    def reached(stage: Stage) -> ir.IntegerScalar:
        return count_true(leads[STAGE_COLUMNS[stage]].notnull())

    return leads.group_by(
        channel=leads.source_channel,
        campaign_id=leads.source_campaign_id,
        content_id=leads.source_content_id,
    ).agg(
        leads=leads.count(),
        mqls=reached(Stage.MQL),
        sals=reached(Stage.SAL),
        sqls=reached(Stage.SQL),
        customers=reached(Stage.CUSTOMER),
        revenue=leads.revenue.sum().cast("decimal(18, 2)"),
    )


def campaign_costs(ctx: ReportContext) -> ir.Table:
    """Each campaign's cost falling in the period, pro rata by the days it ran."""
    c = ctx.tables.campaigns
    p = ctx.period
    start = ibis.coalesce(c.start_date.cast("timestamp"), ts(p.start_at))
    # no end date: running, so its cost so far is spread over the days up to today
    running_until = ts(datetime.combine(p.today + timedelta(days=1), time()))
    end = ibis.coalesce(c.end_date.cast("timestamp") + ibis.interval(days=1), running_until)
    span = days_between(start, end)
    overlap = days_between(ibis.greatest(start, ts(p.start_at)), ibis.least(end, ts(p.end_at)))
    share = ibis.ifelse(span > 0, overlap.clip(lower=0) / span, 0.0)
    return c.select(
        campaign_id=c.id,
        campaign_name=c.name,
        cost=ibis.ifelse(
            c.cost.notnull(), (c.cost.cast("float64") * share).round(2), ibis.null("float64")
        ),
    )


def build_sources(ctx: ReportContext) -> Sections:
    items = ctx.tables.content_items
    return {
        "grid": leads_grid(ctx),
        "costs": campaign_costs(ctx),
        "items": items.select(
            content_id=items.id, content=items.key, title=items.title, kind=items.kind
        ),
    }


def _metrics(row: dict[str, Any]) -> dict[str, Any]:
    revenue = row["revenue"] if row["revenue"] is not None else Decimal("0.00")
    return {
        "leads": row["leads"],
        "mqls": row["mqls"],
        "mql_to_sal": ratio(row["sals"], row["mqls"]),
        "sqls": row["sqls"],
        "sql_rate": ratio(row["sqls"], row["leads"]),
        "win_rate": ratio(row["customers"], row["sqls"]),
        "revenue": revenue,
        "revenue_per_lead": ratio(revenue, row["leads"]),
    }


def _metric_fields() -> list[tuple[str, pa.DataType]]:
    return [
        ("leads", pa.int64()),
        ("mqls", pa.int64()),
        ("mql_to_sal", pa.float64()),
        ("sqls", pa.int64()),
        ("sql_rate", pa.float64()),
        ("win_rate", pa.float64()),
        ("revenue", pa.decimal128(18, 2)),
        ("revenue_per_lead", pa.float64()),
    ]


def _ordered(rows: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (-r["leads"], r[name] or ""))


def finish_sources(ctx: ReportContext, results: dict[str, pa.Table]) -> dict[str, pa.Table]:
    grid = results["grid"].to_pylist()
    channels = [{"channel": r["channel"], **_metrics(r)} for r in rollup(grid, ("channel",), _SUMS)]
    costs = {r["campaign_id"]: r for r in results["costs"].to_pylist()}
    by_campaign = {r["campaign_id"]: r for r in rollup(grid, ("campaign_id",), _SUMS)}
    empty = dict.fromkeys(_SUMS, 0) | {"revenue": Decimal("0.00")}
    campaigns = []
    for campaign_id in [*by_campaign, *(c for c in costs if c not in by_campaign)]:
        row = by_campaign.get(campaign_id) or {"campaign_id": campaign_id, **empty}
        cost = costs.get(campaign_id, {}).get("cost")
        metrics = _metrics(row)
        campaigns.append(
            {
                "campaign_id": campaign_id,
                "campaign": costs[campaign_id]["campaign_name"]
                if campaign_id in costs
                else NO_SOURCE,
                **metrics,
                "cost": cost,
                "cost_per_sql": ratio(cost, row["sqls"]) if cost is not None else None,
                "roi": (float(metrics["revenue"]) - cost) / cost if cost else None,
            }
        )
    items = {r["content_id"]: r for r in results["items"].to_pylist()}
    content = []
    for r in rollup(grid, ("content_id",), _SUMS):
        item = items.get(r["content_id"], {})
        content.append(
            {
                "content_id": r["content_id"],
                "content": item.get("content") or NO_SOURCE,
                "title": item.get("title"),
                "kind": item.get("kind"),
                **_metrics(r),
            }
        )
    metric_fields = _metric_fields()
    return {
        "channels": pa.Table.from_pylist(
            _ordered(channels, "channel"),
            schema=pa.schema([("channel", pa.string()), *metric_fields]),
        ),
        "campaigns": pa.Table.from_pylist(
            _ordered(campaigns, "campaign"),
            schema=pa.schema(
                [
                    ("campaign_id", pa.int64()),
                    ("campaign", pa.string()),
                    *metric_fields,
                    ("cost", pa.float64()),
                    ("cost_per_sql", pa.float64()),
                    ("roi", pa.float64()),
                ]
            ),
        ),
        "content": pa.Table.from_pylist(
            _ordered(content, "content"),
            schema=pa.schema(
                [
                    ("content_id", pa.int64()),
                    ("content", pa.string()),
                    ("title", pa.string()),
                    ("kind", pa.string()),
                    *metric_fields,
                ]
            ),
        ),
    }


def build_rejections(ctx: ReportContext) -> Sections:
    """Hand-offs decided in the period by (source channel, reject reason or none): one pass;
    `finish_rejections` derives the three views."""
    h = ctx.tables.handoffs
    j = journeys(ctx.tables)
    decided = h.filter(within(ibis.coalesce(h.rejected_at, h.accepted_at), ctx.period))
    d = decided.left_join(j, decided.person_id == j.person_id).select(
        channel=ibis.coalesce(j.source_channel, NO_SOURCE),
        reason=ibis.ifelse(decided.rejected_at.notnull(), decided.reject_reason, None),
        rejected=decided.rejected_at.notnull(),
    )
    grid = d.group_by(["channel", "reason"]).agg(
        decided=d.count(), rejections=count_true(d.rejected)
    )
    return {"grid": grid}


def finish_rejections(ctx: ReportContext, results: dict[str, pa.Table]) -> dict[str, pa.Table]:
    labels = {r.id: r.label for r in ctx.playbook.reject_reasons}
    grid = results["grid"].to_pylist()
    rejected = [r for r in grid if r["rejections"]]
    total = sum(r["rejections"] for r in rejected)
    reasons = [
        {
            "reason": r["reason"],
            "label": labels.get(r["reason"] or "", r["reason"]),
            "rejections": r["rejections"],
            "share": ratio(r["rejections"], total),
        }
        for r in rollup(rejected, ("reason",), ("rejections",))
    ]
    reasons.sort(key=lambda r: (-r["rejections"], r["reason"] or ""))
    channels = rollup(grid, ("channel",), ("decided", "rejections"))
    per_channel = {c["channel"]: c for c in channels}
    by_source = [
        {
            "channel": r["channel"],
            "reason": r["reason"],
            "rejections": r["rejections"],
            "decided": per_channel[r["channel"]]["decided"],
            "rejection_rate": ratio(r["rejections"], per_channel[r["channel"]]["decided"]),
            "share_of_channel_rejections": ratio(
                r["rejections"], per_channel[r["channel"]]["rejections"]
            ),
        }
        for r in rollup(rejected, ("channel", "reason"), ("rejections",))
    ]
    by_source.sort(key=lambda r: (r["channel"], -r["rejections"], r["reason"] or ""))
    totals = [{**c, "rejection_rate": ratio(c["rejections"], c["decided"])} for c in channels]
    totals.sort(key=lambda r: (-r["decided"], r["channel"]))
    i64, f64, text = pa.int64(), pa.float64(), pa.string()
    return {
        "reasons": pa.Table.from_pylist(
            reasons,
            schema=pa.schema(
                [("reason", text), ("label", text), ("rejections", i64), ("share", f64)]
            ),
        ),
        "by_source": pa.Table.from_pylist(
            by_source,
            schema=pa.schema(
                [
                    ("channel", text),
                    ("reason", text),
                    ("rejections", i64),
                    ("decided", i64),
                    ("rejection_rate", f64),
                    ("share_of_channel_rejections", f64),
                ]
            ),
        ),
        "channels": pa.Table.from_pylist(
            totals,
            schema=pa.schema(
                [("channel", text), ("decided", i64), ("rejections", i64), ("rejection_rate", f64)]
            ),
        ),
    }


register(
    ReportDef(
        name="sources",
        description="Leads created in the period by source channel, campaign and content, "
        "with MQL, acceptance, SQL and win rates, revenue, cost per SQL and ROI.",
        build=build_sources,
        finish=finish_sources,
    )
)
register(
    ReportDef(
        name="rejections",
        description="Why sales rejected hand-offs in the period: reasons overall and by "
        "source channel, with rejection rates.",
        build=build_rejections,
        finish=finish_rejections,
    )
)

"""`retention`: do the customers we win stay, by source channel and customer cohort?

Customers are people who reached the customer stage before the period's end; their cohort is
the quarter they became customers. Kept = not churned (`people.churned_at`) by the period's
end. Net revenue retention = won renewal + expansion revenue / won new-business revenue of the
same customers; lifetime value = all their won revenue / customers.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from smarketing.analytics.reports.common import (
    STAGE_COLUMNS,
    before_end,
    count_true,
    journeys,
    quarter_label,
    ratio,
    rollup,
    won_revenue,
)
from smarketing.analytics.reports.registry import ReportContext, ReportDef, Sections, register
from smarketing.domain.stages import Stage

ZERO = ibis.literal(0, "decimal(18, 2)")
RECURRING = ("renewal", "expansion")


def _customers(ctx: ReportContext) -> ir.Table:
    t = ctx.tables
    j = journeys(t)
    became = j[STAGE_COLUMNS[Stage.CUSTOMER]]
    customers = j.filter(became.notnull() & before_end(became, ctx.period))
    new = won_revenue(t, types=("new",))
    recurring = won_revenue(t, types=RECURRING)
    c = customers.left_join(new, customers.person_id == new.person_id).left_join(
        recurring, customers.person_id == recurring.person_id
    )
    return c.select(
        channel=customers.source_channel,
        cohort=quarter_label(customers[STAGE_COLUMNS[Stage.CUSTOMER]]),
        churned=customers.churned_at.notnull() & before_end(customers.churned_at, ctx.period),
        new_revenue=ibis.coalesce(new.revenue, ZERO),
        recurring_revenue=ibis.coalesce(recurring.revenue, ZERO),
    )


def build_retention(ctx: ReportContext) -> Sections:
    """Customers by (source channel, cohort): one pass; `finish_retention` rolls it up."""
    c = _customers(ctx)
    grid = c.group_by(["channel", "cohort"]).agg(
        customers=c.count(),
        churned=count_true(c.churned),
        new_revenue=c.new_revenue.sum().cast("decimal(18, 2)"),
        recurring_revenue=c.recurring_revenue.sum().cast("decimal(18, 2)"),
    )
    return {"grid": grid}


_SUMS = ("customers", "churned", "new_revenue", "recurring_revenue")


def _view(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> pa.Table:
    out = []
    for r in sorted(rollup(rows, keys, _SUMS), key=lambda r: tuple(r[k] for k in keys)):
        kept = r["customers"] - r["churned"]
        out.append(
            {
                **r,
                "kept": kept,
                "retention_rate": ratio(kept, r["customers"]),
                "net_revenue_retention": ratio(r["recurring_revenue"], r["new_revenue"]),
                "lifetime_value": ratio(r["new_revenue"] + r["recurring_revenue"], r["customers"]),
            }
        )
    money = pa.decimal128(18, 2)
    schema = pa.schema(
        [
            *[(k, pa.string()) for k in keys],
            ("customers", pa.int64()),
            ("churned", pa.int64()),
            ("new_revenue", money),
            ("recurring_revenue", money),
            ("kept", pa.int64()),
            ("retention_rate", pa.float64()),
            ("net_revenue_retention", pa.float64()),
            ("lifetime_value", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(out, schema=schema)


def finish_retention(ctx: ReportContext, results: dict[str, pa.Table]) -> dict[str, pa.Table]:
    grid = results["grid"].to_pylist()
    return {
        "channels": _view(grid, ("channel",)),
        "cohorts": _view(grid, ("cohort",)),
        "channel_cohorts": _view(grid, ("channel", "cohort")),
    }


register(
    ReportDef(
        name="retention",
        description="Customers kept vs churned, net revenue retention and lifetime value, by "
        "source channel and customer cohort (quarter).",
        build=build_retention,
        finish=finish_retention,
    )
)

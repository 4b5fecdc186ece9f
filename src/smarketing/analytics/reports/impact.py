"""`impact`: what each agreed playbook version did to the funnel.

A version is *agreed* once both teams signed it (`playbook_signoffs`: marketing and sales); it
is in force from the later signature until the next agreed version (or today). For each: the
people who reached MQL, SAL, SQL and customer while it was in force, the conversion rates of
those cohorts (MQL -> SAL, SAL -> SQL, SQL -> customer, measured by now), the median days from
lead to customer of the customers it won, and the won new-business revenue closed in it. The
report ignores `--period`: it covers every agreed version.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from smarketing.analytics.reports.common import (
    STAGE_COLUMNS,
    count_true,
    days_between,
    rate,
    stage_journeys,
    ts,
)
from smarketing.analytics.reports.registry import ReportContext, ReportDef, Sections, register
from smarketing.domain.stages import Stage, Team

BOTH_TEAMS = len(Team)


def agreed_versions(ctx: ReportContext) -> ir.Table:
    s, v = ctx.tables.playbook_signoffs, ctx.tables.playbook_versions
    signed = s.group_by("playbook_version_id").agg(
        teams=s.team.nunique(), agreed_at=s.signed_at.max()
    )
    agreed = signed.filter(signed.teams >= BOTH_TEAMS)
    agreed = agreed.join(v, agreed.playbook_version_id == v.id).select(
        version_id=agreed.playbook_version_id, number=v.number, agreed_at=agreed.agreed_at
    )
    today_end = ts(datetime.combine(ctx.today + timedelta(days=1), time()))
    following = agreed.agreed_at.lead().over(order_by=[agreed.agreed_at, agreed.number])
    return agreed.mutate(in_force_until=ibis.coalesce(following, today_end))


def build_impact(ctx: ReportContext) -> Sections:
    versions = agreed_versions(ctx)
    j = stage_journeys(ctx.tables)
    pairs = versions.cross_join(j)

    def during(stage: Stage) -> ir.BooleanValue:
        at = pairs[STAGE_COLUMNS[stage]]
        return at.notnull() & (at >= pairs.agreed_at) & (at < pairs.in_force_until)

    def reached(stage: Stage, then: Stage) -> ir.IntegerValue:
        return count_true(during(stage) & pairs[STAGE_COLUMNS[then]].notnull())

    cycle = days_between(pairs[STAGE_COLUMNS[Stage.LEAD]], pairs[STAGE_COLUMNS[Stage.CUSTOMER]])
    keys = ["version_id", "number", "agreed_at", "in_force_until"]
    g = pairs.group_by(keys).agg(
        mqls=count_true(during(Stage.MQL)),
        sals=count_true(during(Stage.SAL)),
        sqls=count_true(during(Stage.SQL)),
        customers=count_true(during(Stage.CUSTOMER)),
        mql_then_sal=reached(Stage.MQL, Stage.SAL),
        sal_then_sql=reached(Stage.SAL, Stage.SQL),
        sql_then_customer=reached(Stage.SQL, Stage.CUSTOMER),
        median_days_lead_to_customer=cycle.quantile(0.5, where=during(Stage.CUSTOMER)),
    )
    d = ctx.tables.deals
    won = d.filter((d.status == "won") & (d.type == "new") & d.close_date.notnull())
    won = won.mutate(closed=won.close_date.cast("timestamp"))
    deal_pairs = versions.join(
        won, (won.closed >= versions.agreed_at) & (won.closed < versions.in_force_until)
    )
    revenue = deal_pairs.group_by("version_id").agg(
        won_deals=deal_pairs.count(), revenue=deal_pairs.amount.sum().cast("decimal(18, 2)")
    )
    out = g.left_join(revenue, g.version_id == revenue.version_id)
    return {
        "versions": out.select(
            *[g[k] for k in keys],
            days_in_force=days_between(g.agreed_at, g.in_force_until),
            mqls=g.mqls,
            sals=g.sals,
            sqls=g.sqls,
            customers=g.customers,
            mql_to_sal=rate(g.mql_then_sal, g.mqls),
            sal_to_sql=rate(g.sal_then_sql, g.sals),
            sql_to_customer=rate(g.sql_then_customer, g.sqls),
            median_days_lead_to_customer=g.median_days_lead_to_customer,
            won_deals=ibis.coalesce(revenue.won_deals, 0),
            revenue=ibis.coalesce(revenue.revenue, ibis.literal(0, "decimal(18, 2)")),
        ).order_by("agreed_at")
    }


register(
    ReportDef(
        name="impact",
        description="For each agreed playbook version (signed by both teams): the time it was "
        "in force and the funnel rates, velocity and revenue in that time.",
        build=build_impact,
        uses_period=False,
    )
)

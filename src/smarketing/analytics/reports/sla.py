"""`sla`: both sides of the service-level agreement in the period.

teams (one row): marketing's side: MQLs delivered vs `sla.marketing.mqls_per_month` (times the
  period's months) and the acceptance rate of hand-offs decided in the period vs
  `min_acceptance_rate`; sales's side, for hand-offs assigned in the period: the share first
  touched within the SLA (first-touch clock stopped by its due time; clocks still running and
  not yet due are left out), median and 95th-percentile hours to first touch, breaches.
reps: the same per rep, most breaches first.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from smarketing.analytics.reports.common import (
    STAGE_COLUMNS,
    count_true,
    hours_between,
    rate,
    stage_journeys,
    ts,
    within,
)
from smarketing.analytics.reports.registry import ReportContext, ReportDef, Sections, register
from smarketing.domain.stages import Stage

FIRST_TOUCH = "first_touch"


def _assigned(ctx: ReportContext) -> ir.Table:
    """Hand-offs assigned to a rep in the period with their first-touch clock, judged as of
    today (a hand-off still waiting for a rep has no clock yet)."""
    h, c = ctx.tables.handoffs, ctx.tables.sla_clocks
    now = ts(datetime.combine(ctx.today + timedelta(days=1), time()))
    clocks = c.filter(c.kind == FIRST_TOUCH)
    assigned = h.filter(within(h.assigned_at, ctx.period) & h.owner_id.notnull())
    j = assigned.left_join(clocks, assigned.id == clocks.handoff_id)
    within_sla = j.stopped_at.notnull() & (j.stopped_at <= j.due_at)
    breached = (
        j.breached_at.notnull()
        | (j.stopped_at > j.due_at)
        | (j.stopped_at.isnull() & (j.due_at < now))
    )
    judged = j.due_at.notnull() & (j.stopped_at.notnull() | (j.due_at < now))
    return j.select(
        owner_id=assigned.owner_id,
        accepted=assigned.accepted_at.notnull(),
        rejected=assigned.rejected_at.notnull(),
        touched=assigned.first_touched_at.notnull(),
        hours_to_touch=hours_between(assigned.assigned_at, assigned.first_touched_at),
        within_sla=within_sla.fill_null(False),
        breached=breached.fill_null(False),
        judged=judged.fill_null(False),
    )


def _touch_stats(a: ir.Table) -> dict[str, ir.Value]:
    return {
        "handoffs": a.count(),
        "touched": count_true(a.touched),
        "judged": count_true(a.judged),
        "within_sla": count_true(a.within_sla),
        "breaches": count_true(a.breached),
        "median_hours_to_first_touch": a.hours_to_touch.quantile(0.5),
        "p95_hours_to_first_touch": a.hours_to_touch.quantile(0.95),
    }


def build_sla(ctx: ReportContext) -> Sections:
    target = ctx.playbook.sla.marketing
    h = ctx.tables.handoffs
    j = stage_journeys(ctx.tables)
    mqls = j.filter(within(j[STAGE_COLUMNS[Stage.MQL]], ctx.period)).agg(
        mqls_delivered=ibis._.count()
    )
    decided = h.filter(within(ibis.coalesce(h.rejected_at, h.accepted_at), ctx.period))
    decisions = decided.agg(
        decided=decided.count(), accepted=count_true(decided.accepted_at.notnull())
    )
    a = _assigned(ctx)
    touch = a.agg(**_touch_stats(a))
    row = mqls.cross_join(decisions).cross_join(touch)
    mqls_target = round(target.mqls_per_month * ctx.period.months, 2)
    teams = row.select(
        mqls_delivered=row.mqls_delivered,
        mqls_target=ibis.literal(mqls_target, "float64"),
        mqls_target_met=row.mqls_delivered >= mqls_target,
        decided=row.decided,
        accepted=ibis.coalesce(row.accepted, 0),
        acceptance_rate=rate(row.accepted, row.decided),
        acceptance_target=ibis.literal(target.min_acceptance_rate, "float64"),
        acceptance_target_met=rate(row.accepted, row.decided) >= target.min_acceptance_rate,
        handoffs_assigned=row.handoffs,
        first_touched=ibis.coalesce(row.touched, 0),
        first_touched_within_sla=ibis.coalesce(row.within_sla, 0),
        first_touch_sla_rate=rate(row.within_sla, row.judged),
        median_hours_to_first_touch=row.median_hours_to_first_touch,
        p95_hours_to_first_touch=row.p95_hours_to_first_touch,
        breaches=ibis.coalesce(row.breaches, 0),
    )
    per_rep = a.group_by("owner_id").agg(
        **_touch_stats(a),
        accepted=count_true(a.accepted),
        rejected=count_true(a.rejected),
    )
    users = ctx.tables.users
    reps = per_rep.left_join(users, per_rep.owner_id == users.id)
    reps = reps.select(
        owner_id=per_rep.owner_id,
        rep=ibis.coalesce(users.name, "(unassigned)"),
        email=users.email,
        handoffs=per_rep.handoffs,
        touched=per_rep.touched,
        within_sla=per_rep.within_sla,
        first_touch_sla_rate=rate(per_rep.within_sla, per_rep.judged),
        breaches=per_rep.breaches,
        median_hours_to_first_touch=per_rep.median_hours_to_first_touch,
        accepted=per_rep.accepted,
        rejected=per_rep.rejected,
    ).order_by([ibis.desc("breaches"), "rep", "owner_id"])
    return {"teams": teams, "reps": reps}


register(
    ReportDef(
        name="sla",
        description="Both teams against the SLA: MQLs delivered and accepted vs target; "
        "first touch within the SLA, median and p95 hours, breaches by rep.",
        build=build_sla,
    )
)

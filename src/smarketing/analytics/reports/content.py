"""`content`: which content items source and influence sales-qualified leads and revenue.

For the people who became SQLs in the period: an item *sourced* an SQL when it was the
person's first touch; it *influenced* one when the person touched it at any point up to the
moment they became an SQL. Revenue is those people's won new-business revenue so far.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from smarketing.analytics.reports.common import (
    STAGE_COLUMNS,
    first_touches,
    stage_journeys,
    within,
    won_revenue,
)
from smarketing.analytics.reports.registry import ReportContext, ReportDef, Sections, register
from smarketing.domain.stages import Stage

ZERO = ibis.literal(0, "decimal(18, 2)")


def build_content(ctx: ReportContext) -> Sections:
    t = ctx.tables
    j = stage_journeys(t)
    sql_at = j[STAGE_COLUMNS[Stage.SQL]]
    sqls = j.filter(within(sql_at, ctx.period))
    revenue = won_revenue(t)
    sqls = sqls.left_join(revenue, sqls.person_id == revenue.person_id).select(
        person_id=sqls.person_id,
        sql_at=sqls[STAGE_COLUMNS[Stage.SQL]],
        revenue=ibis.coalesce(revenue.revenue, ZERO),
    )
    first = first_touches(t)
    firsts = sqls.join(first, sqls.person_id == first.person_id).select(
        content_id=first.source_content_id, revenue=sqls.revenue
    )
    sourced = (
        firsts.filter(firsts.content_id.notnull())
        .group_by("content_id")
        .agg(sourced_sqls=ibis._.count(), sourced_revenue=ibis._.revenue.sum())
    )
    tp = t.touchpoints.filter(t.touchpoints.content_id.notnull())
    touched = tp.join(sqls, (tp.person_id == sqls.person_id) & (tp.occurred_at <= sqls.sql_at))
    pairs = touched.select(
        content_id=tp.content_id, person_id=sqls.person_id, revenue=sqls.revenue
    ).distinct()
    influenced = pairs.group_by("content_id").agg(
        influenced_sqls=pairs.count(), influenced_revenue=pairs.revenue.sum()
    )
    items = t.content_items
    board = items.left_join(influenced, items.id == influenced.content_id).left_join(
        sourced, items.id == sourced.content_id
    )
    board = board.select(
        content_id=items.id,
        content=items.key,
        title=items.title,
        kind=items.kind,
        sourced_sqls=ibis.coalesce(board.sourced_sqls, 0),
        influenced_sqls=ibis.coalesce(board.influenced_sqls, 0),
        sourced_revenue=ibis.coalesce(board.sourced_revenue, ZERO).cast("decimal(18, 2)"),
        influenced_revenue=ibis.coalesce(board.influenced_revenue, ZERO).cast("decimal(18, 2)"),
    )
    leaderboard: ir.Table = board.filter(
        (board.sourced_sqls > 0) | (board.influenced_sqls > 0)
    ).order_by(
        [
            ibis.desc("influenced_sqls"),
            ibis.desc("sourced_sqls"),
            ibis.desc("influenced_revenue"),
            "content_id",
        ]
    )
    return {"leaderboard": leaderboard}


register(
    ReportDef(
        name="content",
        description="Content leaderboard: SQLs of the period each item sourced (first touch) "
        "and influenced (touched before the SQL), and their revenue.",
        build=build_content,
    )
)

"""The attribution report's journeys as sorted touch rows with integer tokens.

The report needs, per conversion kind and per dimension (channel, campaign, content, team), the
ordered touches of every converting journey and, for Markov, of every journey's recent touches.
Window functions over millions of touches are what made the engines slow here, so the engine
only filters, joins and sorts, and numpy cuts the sorted rows into paths (`report_paths`). Two
queries serve every kind and dimension, as Ibis expressions over the unbound tables (every
engine runs them):

- `converting_rows`: one row per touch of a converting journey of any kind, inside its
  lookback window, sorted by (kind, journey, conversion, occurred_at, touch id): the kind's
  index in `CONVERSION_KINDS`, journey, conversion, value, the whole seconds of the touch and
  of the conversion, whether the touch is at or before the journey's lead and opportunity
  milestones and whether those milestones count (reached by the conversion), and the tokens.
- `recent_rows`: one row per touch of every journey in the lookback window before the end of
  the period (Markov's journeys, as if none converted), sorted by (journey, occurred_at, touch
  id): journey and tokens.

Tokens are integers (a join with the distinct values costs less than moving strings): channel,
campaign and team by the `dense_rank` (from 1; 0 for a null) of the raw value among all
touchpoints, the same in every query and listed by `token_names`; content by the touchpoint's
content item id (0 for none), named by `content_names`. The definitions (lookback, milestones,
whole seconds) are those of `journeys.journey_touches`, which the per-deal breakdown and the
export read; a test checks that both give the same credits.
"""

from __future__ import annotations

from dataclasses import replace

import ibis
import ibis.expr.types as ir

from smarketing.analytics.attribution.journeys import (
    CONVERSION_KINDS,
    JourneyQuery,
    conversions,
    journey_key,
    milestones,
    whole_seconds,
)
from smarketing.analytics.tables import Tables

RAW_TOKENS = ("channel", "campaign", "team")
"""Dimensions whose tokens are touchpoint strings (content's are content item ids)."""
TOKEN_COLUMNS = ("channel", "campaign", "content", "team")


def _raw_ids(t: Tables, column: str) -> ir.Table:
    """Distinct values of a touchpoint column, numbered from 1 in value order (the null too,
    wherever the engine sorts it: no touch joins to it, so null touches read 0). No filter
    before the `distinct`: DuckDB then reads the column's dictionary, 8 times faster."""
    values = t.touchpoints.select(raw=t.touchpoints[column]).distinct()
    return values.mutate(id=(ibis.dense_rank().over(order_by=values.raw) + 1).cast("int64"))


def token_names(t: Tables) -> ir.Table:
    """The raw value behind every token id of `RAW_TOKENS`: `dimension`, `raw`, `id`."""
    return ibis.union(
        *(_raw_ids(t, dim).mutate(dimension=ibis.literal(dim)) for dim in RAW_TOKENS)
    ).select("dimension", "raw", "id")


def content_names(t: Tables) -> ir.Table:
    """What names a content token: `id`, `title`, `key`."""
    items = t.content_items
    return items.select(id=items.id, title=items.title, key=items.key)


def _with_token_ids(t: Tables, rows: ir.Table) -> ir.Table:
    """`rows` with an integer token per dimension (0 for a null), raw columns dropped."""
    for dim in RAW_TOKENS:
        ids = _raw_ids(t, dim).rename(**{f"{dim}_raw": "raw", f"{dim}_id": "id"})
        rows = rows.left_join(ids, rows[dim] == ids[f"{dim}_raw"]).drop(f"{dim}_raw")
    return rows.mutate(
        **{f"tok_{dim}": rows[f"{dim}_id"].fill_null(0) for dim in RAW_TOKENS},
        tok_content=rows.content_id.fill_null(0),
    ).drop(*(f"{dim}_id" for dim in RAW_TOKENS), *RAW_TOKENS, "content_id")


def _touches(t: Tables, q: JourneyQuery) -> ir.Table:
    key = journey_key(q.per)
    touches = t.touchpoints.filter(t.touchpoints[key].notnull())
    return touches.select(
        journey=touches[key],
        occurred_at=touches.occurred_at,
        touch_id=touches.id,
        channel=touches.channel,
        campaign=touches.campaign,
        content_id=touches.content_id,
        team=touches.team,
    )


def period_conversions(t: Tables, q: JourneyQuery, kind: str) -> ir.Table:
    """Conversions of `kind` in the period of `q` (`journeys.conversions`, filtered)."""
    conv = conversions(t, replace(q, kind=kind))  # type: ignore[arg-type]
    if q.start is not None:
        conv = conv.filter(conv.converted_at >= ibis.literal(q.start))
    if q.end is not None:
        conv = conv.filter(conv.converted_at < ibis.literal(q.end))
    return conv


def converting_rows(t: Tables, q: JourneyQuery) -> ir.Table:
    """Touches of the period's converting journeys of every kind (see the module docstring)."""
    conv = ibis.union(
        *(
            period_conversions(t, q, kind).mutate(kind=ibis.literal(i, type="int64"))
            for i, kind in enumerate(CONVERSION_KINDS)
        )
    )
    marks = milestones(t, q.per)
    conv = conv.left_join(marks, conv.journey == marks.m_journey).drop("m_journey")
    touches = _touches(t, q)
    lookback = ibis.interval(days=q.lookback_days)
    if q.start is not None:  # implied by the join below; lets a time-ordered store skip blocks
        touches = touches.filter(touches.occurred_at >= ibis.literal(q.start) - lookback)
    if q.end is not None:
        touches = touches.filter(touches.occurred_at < ibis.literal(q.end))
    joined = touches.join(conv, touches.journey == conv.journey)
    rows = _with_token_ids(
        t,
        joined.filter(
            (joined.occurred_at <= joined.converted_at)
            & (joined.occurred_at >= joined.converted_at - lookback)
        ),
    )
    stage_columns = {}
    for stage in ("lead", "opportunity"):
        at = rows[f"{stage}_at"]
        stage_columns[f"at_{stage}"] = at.notnull() & (rows.occurred_at <= at)
        stage_columns[f"{stage}_counts"] = at.notnull() & (at <= rows.converted_at)
    ordered = rows.order_by(
        rows.kind, rows.journey, rows.conversion, rows.occurred_at, rows.touch_id
    )
    return ordered.select(
        kind=rows.kind,
        journey=rows.journey,
        conversion=rows.conversion,
        value=rows.value.cast("float64"),
        converted_s=whole_seconds(rows.converted_at),
        occurred_s=whole_seconds(rows.occurred_at),
        **stage_columns,
        **{f"tok_{dim}": rows[f"tok_{dim}"].cast("int64") for dim in TOKEN_COLUMNS},
    )


def recent_rows(t: Tables, q: JourneyQuery) -> ir.Table:
    """Every journey's touches in the lookback window before the end (see the docstring)."""
    touches = _touches(t, q)
    lookback = ibis.interval(days=q.lookback_days)
    if q.end is not None:
        end = ibis.literal(q.end, type="timestamp")
        recent = touches.filter(
            (touches.occurred_at <= end) & (touches.occurred_at >= end - lookback)
        )
    else:  # the latest touch, as a one-row table (a reused scalar subquery compiles badly)
        latest = t.touchpoints.aggregate(end_at=t.touchpoints.occurred_at.max())
        joined = touches.cross_join(latest)
        recent = joined.filter(
            (joined.occurred_at <= joined.end_at) & (joined.occurred_at >= joined.end_at - lookback)
        ).drop("end_at")
    rows = _with_token_ids(t, recent)
    return rows.order_by(rows.journey, rows.occurred_at, rows.touch_id).select(
        journey=rows.journey,
        **{f"tok_{dim}": rows[f"tok_{dim}"].cast("int64") for dim in TOKEN_COLUMNS},
    )

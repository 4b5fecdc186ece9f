"""Journeys from the store: the touches before each conversion, as attribution paths.

A conversion is the first time a person (or, per account, any contact of the buying group)
reached `mql`, `sql` or `opportunity`, or a deal won (with its amount as value; a person with
two won deals has two conversions). Its journey is the touches in the lookback window before
it, in time order (ties by touchpoint id), read as tokens of one dimension: channel, campaign,
content item or team (marketing vs sales touches). People or accounts that never converted give
the non-converting journeys Markov needs: their touches in the lookback window before the end
of the period.

Each converting journey also carries when it reached the milestones of the stage models
(`w_shaped`, `full_path`): `lead_at` and `opportunity_at`, the first transition of the person
(or of any contact of the account) into that stage or a later funnel stage.

Times are compared and subtracted in whole seconds, so every engine agrees (Spark's epoch
seconds drop the fraction, DuckDB's keep it).

The query is an Ibis expression over the unbound analytics tables, so it runs on any engine;
the paths are assembled from its rows with Arrow (ordered string aggregation is not portable).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.analytics.attribution.arrays import IntArray
from smarketing.analytics.tables import Tables
from smarketing.domain.stages import FUNNEL, Stage

ConversionKind = Literal["mql", "sql", "opportunity", "won"]
Dimension = Literal["channel", "campaign", "content", "team"]
Per = Literal["person", "account"]
CONVERSION_KINDS: tuple[ConversionKind, ...] = ("mql", "sql", "opportunity", "won")
DIMENSIONS: tuple[Dimension, ...] = ("channel", "campaign", "content", "team")
SEP = " > "
SORT_KEYS = ("converted", "journey", "conversion", "occurred_at", "touch_id")
"""The order of `journey_touches` rows that every path builder uses (a total order)."""


@dataclass(frozen=True, slots=True)
class JourneyQuery:
    kind: ConversionKind = "won"
    per: Per = "person"
    dimension: Dimension = "channel"
    lookback_days: int = 90
    start: datetime | None = None  # conversions from here (inclusive) ...
    end: datetime | None = None  # ... to here (exclusive); non-converting journeys look back
    # from `end`


def journey_key(per: Per) -> str:
    return "person_id" if per == "person" else "account_id"


def conversions(t: Tables, q: JourneyQuery) -> ir.Table:
    """One row per conversion: `conversion` (the deal id for won, else the journey id),
    `journey` (person or account id), `converted_at`, `value`."""
    key = journey_key(q.per)
    if q.kind == "won":
        deals = t.deals.filter(t.deals.status == "won")
        if q.per == "account":
            deals = deals.filter(deals.account_id.notnull())
        rows = deals.select(
            conversion=deals.id,
            journey=deals[key],
            converted_at=deals.close_date.cast("timestamp"),
            value=deals.amount.cast("float64").fill_null(0.0),
        )
        return rows.filter(rows.journey.notnull())
    tr = t.transitions.filter(t.transitions.to_stage == q.kind)
    if q.per == "account":
        people = t.people.select(pid=t.people.id, account_id=t.people.account_id)
        tr = tr.join(people, tr.person_id == people.pid).filter(ibis._.account_id.notnull())
    first = tr.group_by(journey=tr[key]).aggregate(converted_at=tr.at.min())
    return first.select(
        conversion=first.journey,
        journey=first.journey,
        converted_at=first.converted_at,
        value=ibis.literal(0.0),
    )


def _rank(column: ir.StringValue) -> ir.IntegerValue:
    return column.cases(*((s.value, i) for i, s in enumerate(FUNNEL)), else_=ibis.null("int64"))


def milestones(t: Tables, per: Per) -> ir.Table:
    """Per journey (`m_journey`): `lead_at` and `opportunity_at`, the first transition into that
    stage or a later funnel stage (side stages do not count)."""
    tr = t.transitions.mutate(rank=_rank(t.transitions.to_stage))
    if per == "account":
        people = t.people.select(pid=t.people.id, account_id=t.people.account_id)
        tr = tr.join(people, tr.person_id == people.pid).filter(ibis._.account_id.notnull())
    lead, opportunity = FUNNEL.index(Stage.LEAD), FUNNEL.index(Stage.OPPORTUNITY)
    return tr.group_by(m_journey=tr[journey_key(per)]).aggregate(
        lead_at=tr.at.min(where=tr["rank"] >= lead),
        opportunity_at=tr.at.min(where=tr["rank"] >= opportunity),
    )


def _token(t: Tables, touches: ir.Table, dimension: Dimension) -> ir.Table:
    if dimension == "content":
        content = t.content_items.select(
            cid=t.content_items.id, title=t.content_items.title, ckey=t.content_items.key
        )
        touches = touches.left_join(content, touches.content_id == content.cid)
        token = ibis.coalesce(touches.title, touches.ckey, ibis.literal("(no content)"))
    elif dimension == "campaign":
        token = touches.campaign.fill_null("(no campaign)")
    elif dimension == "team":
        token = touches.team
    else:
        token = touches.channel
    return touches.mutate(token=token)


def whole_seconds(column: ir.TimestampValue) -> ir.IntegerValue:
    return column.truncate("s").epoch_seconds().cast("int64")


def days_before(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    return (whole_seconds(later) - whole_seconds(earlier)).cast("float64") / 86400.0


def journey_touches(t: Tables, q: JourneyQuery) -> ir.Table:
    """Every touch of every journey inside its lookback window, converting or not.

    Columns: `conversion` (null when not converting), `journey`, `converted`, `value`,
    `converted_at` (the end of the period for journeys that did not convert), `occurred_at`,
    `days_before`, `touch_id`, `token`, `channel`, `campaign_id`, `content_id`, `team`,
    `lead_at`, `opportunity_at` (null when not converting)."""
    key = journey_key(q.per)
    touches = t.touchpoints.filter(t.touchpoints[key].notnull())
    touches = _token(t, touches, q.dimension).select(
        journey=ibis._[key],
        occurred_at=ibis._.occurred_at,
        touch_id=ibis._.id,
        token=ibis._.token,
        channel=ibis._.channel,
        campaign_id=ibis._.campaign_id,
        content_id=ibis._.content_id,
        team=ibis._.team,
    )
    conv = conversions(t, q)
    if q.start is not None:
        conv = conv.filter(conv.converted_at >= ibis.literal(q.start))
    if q.end is not None:
        conv = conv.filter(conv.converted_at < ibis.literal(q.end))
    marks = milestones(t, q.per)
    conv = conv.left_join(marks, conv.journey == marks.m_journey).drop("m_journey")
    lookback = ibis.interval(days=q.lookback_days)
    joined = touches.join(conv, touches.journey == conv.journey)
    converting = joined.filter(
        (joined.occurred_at <= joined.converted_at)
        & (joined.occurred_at >= joined.converted_at - lookback)
    )
    details = ("touch_id", "token", "channel", "campaign_id", "content_id", "team")
    converting = converting.select(
        conversion=converting.conversion,
        journey=converting.journey,
        converted=ibis.literal(True),
        value=converting.value,
        converted_at=converting.converted_at,
        occurred_at=converting.occurred_at,
        days_before=days_before(converting.converted_at, converting.occurred_at),
        **{name: converting[name] for name in details},
        lead_at=converting.lead_at,
        opportunity_at=converting.opportunity_at,
    )
    never = touches.anti_join(conv, touches.journey == conv.journey)
    if q.end is not None:
        never = never.mutate(end_at=ibis.literal(q.end, type="timestamp"))
    else:  # the latest touch, as a one-row table (a reused scalar subquery compiles badly)
        latest = t.touchpoints.aggregate(end_at=t.touchpoints.occurred_at.max())
        never = never.cross_join(latest)
    recent = never.filter(
        (never.occurred_at <= never.end_at) & (never.occurred_at >= never.end_at - lookback)
    )
    non_converting = recent.select(
        conversion=ibis.null("int64"),
        journey=recent.journey,
        converted=ibis.literal(False),
        value=ibis.literal(0.0),
        converted_at=recent.end_at,
        occurred_at=recent.occurred_at,
        days_before=days_before(recent.end_at, recent.occurred_at),
        **{name: recent[name] for name in details},
        lead_at=ibis.null("timestamp"),
        opportunity_at=ibis.null("timestamp"),
    )
    return converting.union(non_converting)


def sorted_touches(rows: pa.Table) -> pa.Table:
    """`journey_touches` rows in `SORT_KEYS` order: journeys one after the other (non-converting
    first), each journey's touches in time order, ties broken by touchpoint id."""
    keys = pa.table(
        {
            "c": pc.cast(rows["converted"], pa.int8()),
            "j": rows["journey"],
            "v": rows["conversion"],
            "t": rows["occurred_at"],
            "i": rows["touch_id"],
        }
    )
    order = pc.sort_indices(keys, sort_keys=[(k, "ascending") for k in "cjvti"])
    return rows.take(order).combine_chunks()


def journey_starts(rows: pa.Table) -> IntArray:
    """Index of the first row of each journey in sorted rows (see `sorted_touches`)."""
    n = rows.num_rows
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for name in ("converted", "journey", "conversion"):
        values = rows[name].fill_null(-1) if name == "conversion" else rows[name]
        column = values.to_numpy(zero_copy_only=False)
        new[1:] |= column[1:] != column[:-1]
    return np.flatnonzero(new).astype(np.int64)


def paths_from_touches(rows: pa.Table) -> pa.Table:
    """One row per journey in the layout `attribute` reads: `path`, `times` (days before the
    conversion, for time decay), `total_conversions`, `total_conversion_value`, `total_null`."""
    if rows.num_rows == 0:
        return pa.table(
            {
                "path": pa.array([], pa.string()),
                "times": pa.array([], pa.string()),
                "total_conversions": pa.array([], pa.float64()),
                "total_conversion_value": pa.array([], pa.float64()),
                "total_null": pa.array([], pa.float64()),
            }
        )
    rows = sorted_touches(rows)
    starts = journey_starts(rows)
    conv = rows["converted"].to_numpy(zero_copy_only=False).astype(bool)
    offsets = pa.array(np.append(starts, rows.num_rows).astype(np.int32))
    tokens = pc.replace_substring(pc.cast(rows["token"].chunk(0), pa.string()), ">", "›")
    path = pc.binary_join(pa.ListArray.from_arrays(offsets, tokens), SEP)
    # Touch times as day numbers with the conversion at 0 (earlier touches are negative).
    days = pc.cast(pc.round(pc.negate(rows["days_before"].chunk(0)), 6), pa.string())
    times = pc.binary_join(pa.ListArray.from_arrays(offsets, days), SEP)
    first_conv = conv[starts]
    value = rows["value"].to_numpy(zero_copy_only=False).astype(float)[starts]
    return pa.table(
        {
            "path": path,
            "times": times,
            "total_conversions": first_conv.astype(float),
            "total_conversion_value": np.where(first_conv, value, 0.0),
            "total_null": (~first_conv).astype(float),
        }
    )

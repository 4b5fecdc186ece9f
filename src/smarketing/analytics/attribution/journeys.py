"""Journeys from the store: the touches before each conversion, as attribution paths.

A conversion is the first time a person (or, per account, any contact of the buying group)
reached `mql`, `sql` or `opportunity`, or a deal won (with its amount as value). Its journey is
the touches in the lookback window before it, in time order, read as tokens of one dimension:
channel, campaign, content item or team (marketing vs sales touches). People or accounts that
never converted give the non-converting journeys Markov needs: their touches in the lookback
window before the end of the period.

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

from smarketing.analytics.tables import Tables

ConversionKind = Literal["mql", "sql", "opportunity", "won"]
Dimension = Literal["channel", "campaign", "content", "team"]
Per = Literal["person", "account"]
CONVERSION_KINDS: tuple[ConversionKind, ...] = ("mql", "sql", "opportunity", "won")
DIMENSIONS: tuple[Dimension, ...] = ("channel", "campaign", "content", "team")
SEP = " > "


@dataclass(frozen=True, slots=True)
class JourneyQuery:
    kind: ConversionKind = "won"
    per: Per = "person"
    dimension: Dimension = "channel"
    lookback_days: int = 90
    start: datetime | None = None  # conversions from here (inclusive) ...
    end: datetime | None = None  # ... to here (exclusive); non-converting journeys look back
    # from `end`


def conversions(t: Tables, q: JourneyQuery) -> ir.Table:
    """One row per conversion: `journey` (person or account id), `converted_at`, `value`."""
    key = "person_id" if q.per == "person" else "account_id"
    if q.kind == "won":
        deals = t.deals.filter(t.deals.status == "won")
        if q.per == "account":
            deals = deals.filter(deals.account_id.notnull())
        rows = deals.select(
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
    return first.mutate(value=ibis.literal(0.0))


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


def journey_touches(t: Tables, q: JourneyQuery) -> ir.Table:
    """Rows (`journey`, `converted`, `value`, `occurred_at`, `days_before`, `token`): every touch
    of every journey, converting or not, inside its lookback window."""
    key = "person_id" if q.per == "person" else "account_id"
    touches = t.touchpoints.filter(t.touchpoints[key].notnull())
    touches = _token(t, touches, q.dimension).select(
        journey=ibis._[key], occurred_at=ibis._.occurred_at, token=ibis._.token
    )
    conv = conversions(t, q)
    if q.start is not None:
        conv = conv.filter(conv.converted_at >= ibis.literal(q.start))
    if q.end is not None:
        conv = conv.filter(conv.converted_at < ibis.literal(q.end))
    lookback = ibis.interval(days=q.lookback_days)
    joined = touches.join(conv, touches.journey == conv.journey)
    converting = joined.filter(
        (joined.occurred_at <= joined.converted_at)
        & (joined.occurred_at >= joined.converted_at - lookback)
    )
    converting = converting.select(
        journey=converting.journey,
        converted=ibis.literal(True),
        value=converting.value,
        occurred_at=converting.occurred_at,
        days_before=(
            converting.converted_at.epoch_seconds() - converting.occurred_at.epoch_seconds()
        )
        / 86400.0,
        token=converting.token,
    )
    end = ibis.literal(q.end) if q.end else touches.occurred_at.max().as_scalar()
    never = touches.anti_join(conv, touches.journey == conv.journey)
    recent = never.filter((never.occurred_at <= end) & (never.occurred_at >= end - lookback))
    non_converting = recent.select(
        journey=recent.journey,
        converted=ibis.literal(False),
        value=ibis.literal(0.0),
        occurred_at=recent.occurred_at,
        days_before=(end.epoch_seconds() - recent.occurred_at.epoch_seconds()) / 86400.0,
        token=recent.token,
    )
    return converting.union(non_converting)


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
    converted = pc.cast(rows["converted"], pa.int8())
    order = pc.sort_indices(
        pa.table({"c": converted, "j": rows["journey"], "t": rows["occurred_at"]}),
        sort_keys=[("c", "ascending"), ("j", "ascending"), ("t", "ascending")],
    )
    rows = rows.take(order).combine_chunks()
    journey = rows["journey"].to_numpy()
    conv = rows["converted"].to_numpy(zero_copy_only=False).astype(bool)
    new = np.ones(len(journey), dtype=bool)
    new[1:] = (journey[1:] != journey[:-1]) | (conv[1:] != conv[:-1])
    starts = np.flatnonzero(new)
    offsets = pa.array(np.append(starts, len(journey)).astype(np.int32))
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

"""The product's journeys reduced in the engine to the small counts the models need ("cells").

`journey_touches` returns one row per touch, which at a million people is tens of millions of
rows per report. The attribution report instead asks the engine, per conversion kind and for
all four dimensions at once, for two small tables (Ibis expressions over the unbound tables,
so they run on every engine):

- `credit_cells`: the touches of the converting journeys, grouped by what decides their share
  under every rule-based model and Shapley: dimension, token, path length `n`, position `pos`,
  the milestone indexes (lead, opportunity, closed-won), whether the touch is the path's last
  non-direct touch, whether it is the first touch of its token on the path and the number of
  distinct tokens `d` of the path; with the touch count and value (in cents) of the cell, and
  the time-decay shares summed in the engine (as DECIMAL, so the sum is exact and the same on
  every engine and every run).
- `chain_cells`: the steps of the Markov chain (order 1, repeats collapsed) of every journey,
  converting or not: (dimension, from token, to token) with the step count, and per last token
  the journeys, conversions and value that end there.

Every cell also carries a `bucket`: a journey's random group for the bootstrap (a multiplicative
hash of the journey id, integer arithmetic that every engine computes alike), or 0 when no
interval is asked. The definitions (lookback, milestones, whole seconds) are those of
`journeys.journey_touches`, which the per-deal breakdown and the export still read; a test
checks that both give the same credits.
"""

from __future__ import annotations

import itertools

import ibis
import ibis.expr.types as ir

from smarketing.analytics.attribution.journeys import (
    DIMENSIONS,
    JourneyQuery,
    conversions,
    days_before,
    journey_key,
    milestones,
)
from smarketing.analytics.attribution.models import DIRECT_CHANNEL_NAME
from smarketing.analytics.attribution.paths import ABSENT_STAGE
from smarketing.analytics.tables import Tables

NO_TOKEN = "(none)"  # as `touch_paths.NO_TOKEN`
SHARE_TYPE = "decimal(38, 18)"
HASH_MULTIPLIER = 2654435761  # Knuth's multiplicative hash; id * it fits int64 below 3.4e9
HASH_MODULUS = 4294967296
DIRECT_SPELLINGS = tuple(
    "".join(chars) for chars in itertools.product(*((c, c.upper()) for c in DIRECT_CHANNEL_NAME))
)
"""Every casing of "direct" (a token equal to it under `str.casefold` is one of these)."""


def _clean(token: ir.StringValue) -> ir.StringValue:
    return ibis.ifelse(token.isnull() | (token == ""), ibis.literal(NO_TOKEN), token)


def bucket_of(journey: ir.IntegerValue, buckets: int) -> ir.IntegerValue:
    """The journey's bootstrap group, 0 .. buckets - 1 (0 for every journey when buckets = 1)."""
    if buckets <= 1:
        return ibis.literal(0, type="int64")
    mixed = (journey * HASH_MULTIPLIER) % HASH_MODULUS
    return ((mixed * buckets) // HASH_MODULUS).cast("int64")


def _touches(t: Tables, q: JourneyQuery) -> ir.Table:
    """Touches with a journey (tokens come after the filters: `_with_tokens`)."""
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


def _with_tokens(t: Tables, rows: ir.Table) -> ir.Table:
    """`rows` (from `_touches`) with their token in every dimension."""
    content = t.content_items.select(
        cid=t.content_items.id, title=t.content_items.title, ckey=t.content_items.key
    )
    rows = rows.left_join(content, rows.content_id == content.cid)
    return rows.mutate(
        tok_channel=_clean(rows.channel),
        tok_campaign=_clean(rows.campaign.fill_null("(no campaign)")),
        tok_content=_clean(ibis.coalesce(rows.title, rows.ckey, "(no content)")),
        tok_team=_clean(rows.team),
    ).drop("channel", "campaign", "content_id", "team", "cid", "title", "ckey")


def _conversions(t: Tables, q: JourneyQuery) -> ir.Table:
    conv = conversions(t, q)
    if q.start is not None:
        conv = conv.filter(conv.converted_at >= ibis.literal(q.start))
    if q.end is not None:
        conv = conv.filter(conv.converted_at < ibis.literal(q.end))
    return conv


def _milestone_index(
    w: ibis.expr.builders.LegacyWindowBuilder,
    occurred_at: ir.TimestampValue,
    at: ir.TimestampValue,
    converted_at: ir.TimestampValue,
) -> ir.IntegerValue:
    """`touch_paths`'s rule: the last touch at or before `at`, absent when `at` is missing,
    after the conversion, or before the first touch."""
    count = ibis.ifelse(at.notnull() & (occurred_at <= at), 1, 0).sum().over(w)
    usable = at.notnull() & (at <= converted_at) & (count > 0)
    return ibis.ifelse(usable, count - 1, ABSENT_STAGE).cast("int64")


def converting_touches(t: Tables, q: JourneyQuery, *, half_life_days: float) -> ir.Table:
    """One row per touch of a converting journey, with everything its shares depend on."""
    touches = _touches(t, q)
    conv = _conversions(t, q)
    marks = milestones(t, q.per)
    conv = conv.left_join(marks, conv.journey == marks.m_journey).drop("m_journey")
    joined = touches.join(conv, touches.journey == conv.journey)
    lookback = ibis.interval(days=q.lookback_days)
    rows = _with_tokens(
        t,
        joined.filter(
            (joined.occurred_at <= joined.converted_at)
            & (joined.occurred_at >= joined.converted_at - lookback)
        ),
    ).mutate(days_before=days_before(ibis._.converted_at, ibis._.occurred_at))
    path = ibis.window(group_by=[rows.journey, rows.conversion])
    ordered = ibis.window(
        group_by=[rows.journey, rows.conversion], order_by=[rows.occurred_at, rows.touch_id]
    )
    rows = rows.mutate(
        pos=ibis.row_number().over(ordered).cast("int64"),
        n=rows.touch_id.count().over(path).cast("int64"),
        latest=rows.days_before.min().over(path),
        lead=_milestone_index(path, rows.occurred_at, rows.lead_at, rows.converted_at),
        opportunity=_milestone_index(
            path, rows.occurred_at, rows.opportunity_at, rows.converted_at
        ),
        **{
            f"target_{dim}": ibis.ifelse(
                rows[f"tok_{dim}"].isin(DIRECT_SPELLINGS), ibis.null("int64"), 1
            )
            for dim in DIMENSIONS
        },
    )
    rows = rows.mutate(
        weight=(ibis.literal(2.0) ** (-(rows.days_before - rows.latest) / half_life_days)),
        **{
            f"target_{dim}": (rows[f"target_{dim}"] * rows.pos).max().over(path)
            for dim in DIMENSIONS
        },
        **{
            f"first_{dim}": ibis.row_number().over(
                ibis.window(
                    group_by=[rows.journey, rows.conversion, rows[f"tok_{dim}"]],
                    order_by=[rows.occurred_at, rows.touch_id],
                )
            )
            == 0
            for dim in DIMENSIONS
        },
    )
    return rows.mutate(
        # the path's total as an exact DECIMAL sum: the same bits in every order of rows
        share=rows.weight / rows.weight.cast(SHARE_TYPE).sum().over(path).cast("float64"),
        **{
            f"d_{dim}": ibis.ifelse(rows[f"first_{dim}"], 1, 0).sum().over(path).cast("int64")
            for dim in DIMENSIONS
        },
    )


def credit_cells(
    t: Tables, q: JourneyQuery, *, won: bool, half_life_days: float, buckets: int = 1
) -> ir.Table:
    """Converting touches grouped by what decides their share (see the module docstring)."""
    rows = converting_touches(t, q, half_life_days=half_life_days)
    cents = (rows.value * 100).round().cast("int64")
    parts = []
    for dim in DIMENSIONS:
        target = rows[f"target_{dim}"]
        parts.append(
            rows.select(
                bucket=bucket_of(rows.journey, buckets),
                dimension=ibis.literal(dim),
                token=rows[f"tok_{dim}"],
                n=rows.n,
                pos=rows.pos,
                lead=rows.lead,
                opportunity=rows.opportunity,
                won=ibis.literal(won),
                last_non_direct=rows.pos == target.fill_null(rows.n - 1),
                first_of_token=rows[f"first_{dim}"],
                d=rows[f"d_{dim}"],
                cents=cents,
                share=rows.share.cast(SHARE_TYPE),
                share_cents=(rows.share * cents.cast("float64")).cast(SHARE_TYPE),
            )
        )
    cells = ibis.union(*parts)
    keys = [c for c in cells.columns if c not in ("cents", "share", "share_cents")]
    return cells.group_by(keys).aggregate(
        touches=cells.cents.count().cast("int64"),
        cents=cells.cents.sum().cast("int64"),
        time_decay=cells.share.sum().cast(SHARE_TYPE),
        time_decay_cents=cells.share_cents.sum().cast(SHARE_TYPE),
    )


def _journey_steps(rows: ir.Table, converted: bool, buckets: int, *, sign: int) -> ir.Table:
    """Markov steps of journeys given as touch rows with `journey`, `conversion`, tokens."""
    path = ibis.window(group_by=[rows.journey, rows.conversion])
    ordered = ibis.window(
        group_by=[rows.journey, rows.conversion], order_by=[rows.occurred_at, rows.touch_id]
    )
    rows = rows.mutate(
        pos=ibis.row_number().over(ordered),
        n=rows.touch_id.count().over(path),
        **{f"prev_{dim}": rows[f"tok_{dim}"].lag().over(ordered) for dim in DIMENSIONS},
    )
    parts = []
    for dim in DIMENSIONS:
        token, prev = rows[f"tok_{dim}"], rows[f"prev_{dim}"]
        step = (rows.pos == 0) | (prev != token)
        last = rows.pos == rows.n - 1
        parts.append(
            rows.filter(step | last).select(
                bucket=bucket_of(rows.journey, buckets),
                dimension=ibis.literal(dim),
                source=ibis.ifelse(rows.pos == 0, ibis.null("string"), prev),
                token=token,
                step=step,
                last=last,
                converted=ibis.literal(converted),
                journeys=ibis.literal(sign, type="int64"),
                cents=rows.cents,
            )
        )
    return ibis.union(*parts)


def _recent(t: Tables, q: JourneyQuery) -> ir.Table:
    """Every journey's touches in the lookback window before the end (tokens not yet)."""
    touches = _touches(t, q)
    lookback = ibis.interval(days=q.lookback_days)
    if q.end is not None:
        end = ibis.literal(q.end, type="timestamp")
        return touches.filter(
            (touches.occurred_at <= end) & (touches.occurred_at >= end - lookback)
        )
    # the latest touch, as a one-row table (a reused scalar subquery compiles badly)
    latest = t.touchpoints.aggregate(end_at=t.touchpoints.occurred_at.max())
    joined = touches.cross_join(latest)
    return joined.filter(
        (joined.occurred_at <= joined.end_at) & (joined.occurred_at >= joined.end_at - lookback)
    ).drop("end_at")


def recent_cells(t: Tables, q: JourneyQuery, *, buckets: int = 1) -> ir.Table:
    """Markov steps and ends of every journey's recent touches, as if none converted: one
    query for all kinds (`chain_cells` takes back the journeys that did convert)."""
    rows = _with_tokens(t, _recent(t, q)).mutate(
        conversion=ibis.null("int64"), cents=ibis.literal(0, type="int64")
    )
    return _grouped_steps(_journey_steps(rows, False, buckets, sign=1))


def chain_cells(t: Tables, q: JourneyQuery, *, buckets: int = 1) -> ir.Table:
    """Markov steps and ends of the kind's converting journeys, and (with negative counts) the
    recent touches of those journeys, which `recent_cells` counted as not converting."""
    touches = _touches(t, q)
    conv = _conversions(t, q)
    lookback = ibis.interval(days=q.lookback_days)
    joined = touches.join(conv, touches.journey == conv.journey)
    converting = _with_tokens(
        t,
        joined.filter(
            (joined.occurred_at <= joined.converted_at)
            & (joined.occurred_at >= joined.converted_at - lookback)
        ),
    ).mutate(cents=(ibis._.value * 100).round().cast("int64"))
    recent = _recent(t, q)
    taken_back = _with_tokens(t, recent.semi_join(conv, recent.journey == conv.journey)).mutate(
        conversion=ibis.null("int64"), cents=ibis.literal(0, type="int64")
    )
    return _grouped_steps(
        ibis.union(
            _journey_steps(converting, True, buckets, sign=1),
            _journey_steps(taken_back, False, buckets, sign=-1),
        )
    )


def _grouped_steps(steps: ir.Table) -> ir.Table:
    return steps.group_by(
        ["bucket", "dimension", "source", "token", "step", "last", "converted"]
    ).aggregate(journeys=steps.journeys.sum().cast("int64"), cents=steps.cents.sum().cast("int64"))

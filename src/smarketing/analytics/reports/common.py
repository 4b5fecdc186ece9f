"""Building blocks every report shares: journeys (one row per person with the first time they
reached each stage and their source), rates, period filters.

Conventions, the same on every engine:

- A person *reached* a funnel stage at the first transition into that stage or any stage
  further down (`FUNNEL` order), so the funnel is monotone: someone imported straight as a
  customer also counts as a lead, MQL, ... at that moment. Side stages (recycled,
  disqualified) are their own columns.
- A person's *source* is their first touch (earliest `occurred_at`, then lowest id): its
  channel, campaign and content. Without any touch, the person's `original_channel` (set by
  CRM imports) or `(none)`.
- Durations are whole seconds (timestamps truncated to the second), reported in days or hours.
- Rates are NULL when the denominator is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from smarketing.analytics.reports.period import Period
from smarketing.analytics.tables import Tables
from smarketing.domain.stages import FUNNEL, Stage

NO_SOURCE = "(none)"
STAGE_COLUMNS: dict[Stage, str] = {s: f"{s.value}_at" for s in FUNNEL}
SIDE_COLUMNS: dict[Stage, str] = {
    Stage.RECYCLED: "recycled_at",
    Stage.DISQUALIFIED: "disqualified_at",
}


def ts(at: datetime) -> ir.TimestampScalar:
    return ibis.literal(at, type="timestamp")


def within(column: ir.TimestampValue, period: Period) -> ir.BooleanValue:
    return (column >= ts(period.start_at)) & (column < ts(period.end_at))


def before_end(column: ir.TimestampValue, period: Period) -> ir.BooleanValue:
    return column < ts(period.end_at)


def seconds(column: ir.TimestampValue) -> ir.IntegerValue:
    return column.truncate("s").epoch_seconds().cast("int64")


def days_between(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.FloatingValue:
    return (seconds(end) - seconds(start)).cast("float64") / 86400.0


def hours_between(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.FloatingValue:
    return (seconds(end) - seconds(start)).cast("float64") / 3600.0


def rate(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(
        denominator > 0,
        numerator.cast("float64") / denominator.cast("float64"),
        ibis.null("float64"),
    )


def count_true(condition: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows meet `condition` (NULL counts as false); portable (PostgreSQL cannot
    cast a boolean to bigint)."""
    return ibis.ifelse(condition, 1, 0).sum().cast("int64")


def stage_rank(column: ir.StringValue) -> ir.IntegerValue:
    return column.cases(*((s.value, i) for i, s in enumerate(FUNNEL)), else_=ibis.null("int64"))


def person_stages(t: Tables) -> ir.Table:
    """One row per person with transitions: when they first reached each stage."""
    tr = t.transitions.mutate(rank=stage_rank(t.transitions.to_stage))
    aggs: dict[str, ir.Value] = {
        column: tr.at.min(where=tr["rank"] >= i) for i, column in enumerate(STAGE_COLUMNS.values())
    }
    for stage, column in SIDE_COLUMNS.items():
        aggs[column] = tr.at.min(where=tr.to_stage == stage.value)
    return tr.group_by("person_id").agg(**aggs)


def first_touches(t: Tables) -> ir.Table:
    """Each person's first touch: channel, campaign, content and when.

    Earliest `occurred_at`, then the lowest id: a minimum, a join back and a minimum id (hash
    aggregates; a row_number window sorts every touch and is several times slower)."""
    touches = t.touchpoints
    known = touches.filter(touches.person_id.notnull())
    first_at = known.group_by(fa_person=known.person_id).agg(fa_at=known.occurred_at.min())
    # join back to the unfiltered table: a second reference to `known` would become a CTE
    # that DuckDB materialises (every touch copied once more)
    at_first = touches.join(
        first_at,
        (touches.person_id == first_at.fa_person) & (touches.occurred_at == first_at.fa_at),
    )
    first_id = at_first.group_by(fi_person=at_first.person_id).agg(fi_id=at_first.id.min())
    first = first_id.join(touches, first_id.fi_id == touches.id)
    return first.select(
        person_id=first.fi_person,
        first_touch_at=first.occurred_at,
        ft_channel=first.channel,
        source_campaign_id=first.campaign_id,
        ft_campaign=first.campaign,
        source_content_id=first.content_id,
    )


def stage_journeys(t: Tables) -> ir.Table:
    """One row per person (merged-away records excluded): when they reached each stage."""
    people = t.people.filter(t.people.merged_into_id.isnull())
    stages = person_stages(t)
    joined = people.left_join(stages, people.id == stages.person_id)
    return joined.select(
        person_id=people.id,
        account_id=people.account_id,
        owner_id=people.owner_id,
        created_at=people.created_at,
        churned_at=people.churned_at,
        **{c: stages[c] for c in (*STAGE_COLUMNS.values(), *SIDE_COLUMNS.values())},
    )


def journeys(t: Tables) -> ir.Table:
    """`stage_journeys` plus each person's source (first touch); costs a pass over touches."""
    people = t.people.filter(t.people.merged_into_id.isnull())
    stages = person_stages(t)
    first = first_touches(t)
    joined = people.left_join(stages, people.id == stages.person_id).left_join(
        first, people.id == first.person_id
    )
    return joined.select(
        person_id=people.id,
        account_id=people.account_id,
        owner_id=people.owner_id,
        created_at=people.created_at,
        churned_at=people.churned_at,
        first_touch_at=first.first_touch_at,
        source_channel=ibis.coalesce(first.ft_channel, people.original_channel, NO_SOURCE),
        source_campaign_id=first.source_campaign_id,
        source_campaign=ibis.coalesce(first.ft_campaign, NO_SOURCE),
        source_content_id=first.source_content_id,
        **{c: stages[c] for c in (*STAGE_COLUMNS.values(), *SIDE_COLUMNS.values())},
    )


def won_revenue(t: Tables, *, types: tuple[str, ...] = ("new",)) -> ir.Table:
    """Won revenue per person from deals of `types` (person_id, revenue, won_deals)."""
    d = t.deals
    won = d.filter((d.status == "won") & d.person_id.notnull() & d.type.isin(types))
    return won.group_by("person_id").agg(
        revenue=won.amount.sum().cast("decimal(18, 2)"), won_deals=won.count()
    )


def month_label(column: ir.TimestampValue) -> ir.StringValue:
    """'YYYY-MM' of a timestamp, the same text on every engine."""
    return column.year().cast("string") + "-" + column.month().cast("string").lpad(2, "0")


def quarter_label(column: ir.TimestampValue) -> ir.StringValue:
    return column.year().cast("string") + "-Q" + column.quarter().cast("string")


def enabled_funnel(stages: frozenset[Stage]) -> list[Stage]:
    return [s for s in FUNNEL if s in stages]


def unpivot(wide: pa.Table, rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Long rows from a one-row wide result: each row maps output column -> a literal or, for
    `Col(name)`, the wide column's value. Engines compute one wide row in one pass; this
    reshaping is presentation."""
    values = wide.to_pylist()[0] if wide.num_rows else {}
    out = [
        {k: values.get(v.name) if isinstance(v, Col) else v for k, v in row.items()} for row in rows
    ]
    return pa.Table.from_pylist(out, schema=schema)


@dataclass(frozen=True, slots=True)
class Col:
    """A reference to a column of the wide row (see `unpivot`)."""

    name: str


def rollup(
    rows: list[dict[str, Any]], keys: tuple[str, ...], sums: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Sum `sums` over the rows sharing `keys` (small, pre-aggregated rows; exact for
    integers and decimals), in first-seen order."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        acc = out.get(key)
        if acc is None:
            out[key] = {**{k: row[k] for k in keys}, **{s: row[s] for s in sums}}
        else:
            for s in sums:
                acc[s] = acc[s] + row[s]
    return list(out.values())


def ratio(numerator: float | Decimal | None, denominator: float | Decimal | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return float(numerator) / float(denominator)

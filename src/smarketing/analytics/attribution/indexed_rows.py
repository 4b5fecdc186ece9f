"""The attribution report's journey rows from the copy's touch order, joined in numpy.

On DuckDB the sync keeps every touch sorted by journey and time (`analytics.touch_order`), so
the report needs no sort and no join of millions of touches in the engine: it reads the
touches of the period's time range in storage order, and the conversions of every kind with
their milestones (a few hundred thousand rows, sorted), and cuts both into the row sets
`journey_rows` makes on the other engines (same columns, same order, same values):

- recent rows: the touches in the lookback window before the end of the period;
- converting rows: for each conversion, its journey's touches in the lookback window before
  it. Each conversion's journey is a range of the sorted touches (`searchsorted`); the ranges
  are expanded into (conversion, touch) pairs and filtered by time, which keeps them in
  (kind, journey, conversion, time, touch id) order.

Times are compared in microseconds (as the engines compare timestamps) and shown in whole
seconds (`journeys.whole_seconds`). Storage order is checked, not trusted: an incremental sync
leaves a few sorted blocks (a stable sort by journey merges them), and anything else is
sorted whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.analytics import touch_order
from smarketing.analytics.attribution.arrays import BoolArray, IntArray, int_values, validity
from smarketing.analytics.attribution.journey_rows import TOKEN_COLUMNS, period_conversions
from smarketing.analytics.attribution.journeys import CONVERSION_KINDS, JourneyQuery, milestones
from smarketing.analytics.tables import Tables

MICROS = 1_000_000
EPOCH = datetime(1970, 1, 1)
ORDER_SCHEMA = ibis.schema(
    {"journey": "int64", "at_us": "int64", "id": "int64"}
    | {f"tok_{dim}": "int32" for dim in TOKEN_COLUMNS}
)
TOKENS_SCHEMA = ibis.schema({"dimension": "string", "raw": "string", "id": "int64"})


def micros(at: datetime) -> int:
    """Epoch microseconds of a naive UTC datetime."""
    return (at - EPOCH) // timedelta(microseconds=1)


def indexed_sections(t: Tables, q: JourneyQuery) -> dict[str, ir.Table]:
    """The engine's part on a copy with a touch order (see the module docstring)."""
    order = ibis.table(ORDER_SCHEMA, name=touch_order.ORDER)
    if q.end is not None:
        order = order.filter(order.at_us <= micros(q.end))
    if q.start is not None:
        order = order.filter(order.at_us >= micros(q.start - timedelta(days=q.lookback_days)))
    tokens = ibis.table(TOKENS_SCHEMA, name=touch_order.TOKENS)
    content = tokens.filter(tokens.dimension == "content")
    items = t.content_items
    content = content.left_join(items, content.raw.cast("int64") == items.id)
    sections = {
        "names": tokens.filter(tokens.dimension != "content"),
        "content": content.select(id=content.id, title=items.title, key=items.key),
        "touches": order.drop("id"),
        "conversions": _conversions(t, q),
    }
    if q.end is None:  # the latest touch ends the non-converting journeys
        sections["latest"] = t.touchpoints.aggregate(end_at=t.touchpoints.occurred_at.max())
    return sections


def _conversions(t: Tables, q: JourneyQuery) -> ir.Table:
    conv = ibis.union(
        *(
            period_conversions(t, q, kind).mutate(kind=ibis.literal(i, type="int64"))
            for i, kind in enumerate(CONVERSION_KINDS)
        )
    )
    marks = milestones(t, q.per)
    conv = conv.left_join(marks, conv.journey == marks.m_journey)
    return conv.order_by(conv.kind, conv.journey, conv.conversion).select(
        "kind",
        "journey",
        "conversion",
        value=conv.value.cast("float64"),
        converted_at=conv.converted_at,
        lead_at=conv.lead_at,
        opportunity_at=conv.opportunity_at,
    )


@dataclass(frozen=True, slots=True)
class _Touches:
    journey: IntArray
    at: IntArray
    tokens: dict[str, IntArray]

    @classmethod
    def of(cls, table: pa.Table) -> _Touches:
        journey, at = _values(table, "journey"), _values(table, "at_us")
        tokens = {f"tok_{dim}": _values(table, f"tok_{dim}") for dim in TOKEN_COLUMNS}
        order = _journey_order(journey, at)
        if order is not None:
            journey, at = journey[order], at[order]
            tokens = {name: values[order] for name, values in tokens.items()}
        return cls(journey, at, tokens)

    def rows(self, picked: IntArray | BoolArray) -> dict[str, IntArray]:
        return {name: values[picked] for name, values in self.tokens.items()}


def _values(table: pa.Table, name: str) -> IntArray:
    """A column without nulls as one numpy array of its own type (no copy if one chunk)."""
    return np.asarray(table[name].to_numpy())


def _in_order(journey: IntArray, at: IntArray) -> bool:
    """Whether the rows are sorted by (journey, at)."""
    later = (journey[1:] > journey[:-1]) | ((journey[1:] == journey[:-1]) & (at[1:] >= at[:-1]))
    return bool(np.all(later))


def _journey_order(journey: IntArray, at: IntArray) -> IntArray | None:
    """None if the rows are in (journey, at) order, else the order that sorts them: a stable
    sort by journey when the rows are sorted blocks of whole journeys (what the sync leaves),
    else by both keys. Equal times keep their stored order (by touch id, as the sync sorted
    them)."""
    if _in_order(journey, at):
        return None
    order = np.argsort(journey, kind="stable")  # timsort: a few sorted blocks merge fast
    if _in_order(journey[order], at[order]):
        return order
    return np.lexsort((at, journey))


def _micros_of(column: pa.ChunkedArray) -> tuple[IntArray, BoolArray]:
    """Epoch microseconds of a timestamp column, and which are present."""
    array = pc.cast(column.combine_chunks(), pa.timestamp("us"))
    return int_values(array.view(pa.int64())), validity(array)


def rows_from_index(results: dict[str, pa.Table], q: JourneyQuery) -> tuple[pa.Table, pa.Table]:
    """The converting and the recent rows of `journey_rows` from `indexed_sections`."""
    touches = _Touches.of(results["touches"])
    lookback = q.lookback_days * 86400 * MICROS
    if q.end is not None:
        end = micros(q.end)
    else:
        latest = results["latest"]["end_at"][0].as_py()
        end = micros(latest) if latest is not None else 0
    recent = (touches.at >= end - lookback) & (touches.at <= end)
    recent_rows = pa.table({"journey": touches.journey[recent], **touches.rows(recent)})
    return _converting_rows(results["conversions"], touches, lookback), recent_rows


def _converting_rows(conv: pa.Table, touches: _Touches, lookback: int) -> pa.Table:
    journey = int_values(conv["journey"].combine_chunks())
    converted, _ = _micros_of(conv["converted_at"])
    first = np.searchsorted(touches.journey, journey, side="left")
    lengths = np.searchsorted(touches.journey, journey, side="right") - first
    of_pair = np.repeat(np.arange(journey.size), lengths)
    starts = np.cumsum(lengths) - lengths
    touch = np.arange(int(lengths.sum())) + np.repeat(first - starts, lengths)
    at, at_conversion = touches.at[touch], converted[of_pair]
    keep = (at <= at_conversion) & (at >= at_conversion - lookback)
    touch, of_pair, at, at_conversion = touch[keep], of_pair[keep], at[keep], at_conversion[keep]
    stages: dict[str, BoolArray] = {}
    for stage in ("lead", "opportunity"):
        stage_at, present = _micros_of(conv[f"{stage}_at"])
        stage_at, present = stage_at[of_pair], present[of_pair]
        stages[f"at_{stage}"] = present & (at <= stage_at)
        stages[f"{stage}_counts"] = present & (stage_at <= at_conversion)
    value = conv["value"].combine_chunks().to_numpy(zero_copy_only=False)
    return pa.table(
        {
            "kind": int_values(conv["kind"].combine_chunks())[of_pair],
            "journey": journey[of_pair],
            "conversion": int_values(conv["conversion"].combine_chunks())[of_pair],
            "value": value[of_pair],
            "converted_s": at_conversion // MICROS,
            "occurred_s": at // MICROS,
            **stages,
            **touches.rows(touch),
        }
    )

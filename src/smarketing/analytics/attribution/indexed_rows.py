"""The attribution report's journey rows from the copy's touch order, joined in numpy.

On DuckDB the sync keeps every touch sorted by journey and time (`analytics.touch_order`), so
the report needs no sort and no join of millions of touches in the engine. It reads three row
sets and cuts them into those `journey_rows` makes on the other engines (same columns, same
order, same values):

- `recent`: every touch in the lookback window before the end of the period, in stored order:
  the recent rows as they are (Markov's journeys);
- `earlier`: the touches between the lookback before the start and the recent window, in
  stored order (a semi-join on the converting journeys would read a tenth of them, but it
  loses the order, and sorting them back cost more than reading them all: 0.2 s against
  0.1 s at a million people);
- `conversions`: the conversions of every kind with their milestones, sorted.

Each conversion's lookback window lies within `earlier` + `recent`: in each, its journey is a
range of the sorted touches (`searchsorted`), expanded into (conversion, touch) pairs and
filtered by time; the pairs of `earlier` come before those of `recent` for one conversion, so a
stable sort by conversion puts them in (kind, journey, conversion, time, touch id) order.

Times are compared in microseconds (as the engines compare timestamps) and shown in whole
seconds (`journeys.whole_seconds`). Stored order is checked, not trusted: an incremental sync
leaves a few sorted blocks (a stable sort by journey merges them), and anything else is sorted
whole. The period has both ends here (report periods always do).
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
from smarketing.analytics.attribution.arrays import (
    BoolArray,
    IntArray,
    float_values,
    int_values,
    native_values,
    validity,
)
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


@dataclass(frozen=True, slots=True)
class _Window:
    """The period's bounds in epoch microseconds: conversions in [start, end), touches from
    `first` (the lookback before the start), recent touches from `recent` to `end`."""

    start: int
    end: int
    lookback: int

    @classmethod
    def of(cls, q: JourneyQuery) -> _Window:
        if q.start is None or q.end is None:
            raise ValueError("the touch order serves periods with a start and an end")
        return cls(micros(q.start), micros(q.end), q.lookback_days * 86400 * MICROS)

    @property
    def first(self) -> int:
        return self.start - self.lookback

    @property
    def recent(self) -> int:
        return self.end - self.lookback


def indexed_sections(t: Tables, q: JourneyQuery) -> dict[str, ir.Table]:
    """The engine's part on a copy with a touch order (see the module docstring)."""
    window = _Window.of(q)
    order = ibis.table(ORDER_SCHEMA, name=touch_order.ORDER)
    recent = order.filter(order.at_us >= window.recent, order.at_us <= window.end)
    earlier = order.filter(order.at_us >= window.first, order.at_us < window.recent)
    tokens = ibis.table(TOKENS_SCHEMA, name=touch_order.TOKENS)
    content = tokens.filter(tokens.dimension == "content")
    items = t.content_items
    content = content.left_join(items, content.raw.cast("int64") == items.id)
    return {
        "names": tokens.filter(tokens.dimension != "content"),
        "content": content.select(id=content.id, title=items.title, key=items.key),
        "recent": recent.drop("id"),
        "earlier": earlier.drop("id"),
        "conversions": _conversions(t, q),
    }


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
    """Touch rows in (journey, time, touch id) order."""

    journey: IntArray
    at: IntArray
    tokens: dict[str, IntArray]

    @classmethod
    def of(cls, table: pa.Table) -> _Touches:
        journey, at = _values(table, "journey"), _values(table, "at_us")
        tokens = {f"tok_{dim}": _values(table, f"tok_{dim}") for dim in TOKEN_COLUMNS}
        order = _journey_order(journey, at)
        if order is not None:
            journey, at, tokens = journey[order], at[order], _take(tokens, order)
        return cls(journey, at, tokens)

    def columns(self, picked: IntArray | BoolArray | None = None) -> dict[str, IntArray]:
        """All rows as `journey_rows`' recent rows (journey and tokens), or the tokens of the
        `picked` rows."""
        if picked is None:
            return {"journey": self.journey, **self.tokens}
        return _take(self.tokens, picked)

    def pairs(self, journey: IntArray, converted: IntArray, lookback: int) -> _Pairs:
        """The (conversion, touch) pairs of conversions of `journey` at `converted` whose
        touch lies in the lookback window; in conversion, then touch order."""
        first = np.searchsorted(self.journey, journey, side="left")
        lengths = np.searchsorted(self.journey, journey, side="right") - first
        conversion = np.repeat(np.arange(journey.size), lengths)
        starts = np.cumsum(lengths) - lengths
        touch = np.arange(int(lengths.sum())) + np.repeat(first - starts, lengths)
        at, at_conversion = self.at[touch], converted[conversion]
        keep = (at <= at_conversion) & (at >= at_conversion - lookback)
        return _Pairs(conversion[keep], at[keep], self.columns(touch[keep]))


@dataclass(frozen=True, slots=True)
class _Pairs:
    conversion: IntArray
    at: IntArray
    tokens: dict[str, IntArray]

    @classmethod
    def merged(cls, earlier: _Pairs, recent: _Pairs) -> _Pairs:
        conversion = np.concatenate([earlier.conversion, recent.conversion])
        order = np.argsort(conversion, kind="stable")  # two sorted runs: timsort merges them
        tokens = {
            name: np.concatenate([earlier.tokens[name], recent.tokens[name]])
            for name in earlier.tokens
        }
        return cls(
            conversion[order], np.concatenate([earlier.at, recent.at])[order], _take(tokens, order)
        )


def _take(columns: dict[str, IntArray], rows: IntArray | BoolArray) -> dict[str, IntArray]:
    return {name: values[rows] for name, values in columns.items()}


def _values(table: pa.Table, name: str) -> IntArray:
    return native_values(table[name])


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
    window = _Window.of(q)
    recent = _Touches.of(results["recent"])
    earlier = _Touches.of(results["earlier"])
    conv = results["conversions"]
    journey = int_values(conv["journey"].combine_chunks())
    converted, _ = _micros_of(conv["converted_at"])
    pairs = _Pairs.merged(
        earlier.pairs(journey, converted, window.lookback),
        recent.pairs(journey, converted, window.lookback),
    )
    return _converting_rows(conv, journey, converted, pairs), pa.table(recent.columns())


def _converting_rows(
    conv: pa.Table, journey: IntArray, converted: IntArray, pairs: _Pairs
) -> pa.Table:
    of_pair, at = pairs.conversion, pairs.at
    at_conversion = converted[of_pair]
    stages: dict[str, BoolArray] = {}
    for stage in ("lead", "opportunity"):
        stage_at, present = _micros_of(conv[f"{stage}_at"])
        stage_at, present = stage_at[of_pair], present[of_pair]
        stages[f"at_{stage}"] = present & (at <= stage_at)
        stages[f"{stage}_counts"] = present & (stage_at <= at_conversion)
    value, present = float_values(conv["value"].combine_chunks())
    value = np.where(present, value, 0.0)
    return pa.table(
        {
            "kind": int_values(conv["kind"].combine_chunks())[of_pair],
            "journey": journey[of_pair],
            "conversion": int_values(conv["conversion"].combine_chunks())[of_pair],
            "value": value[of_pair],
            "converted_s": at_conversion // MICROS,
            "occurred_s": at // MICROS,
            **stages,
            **pairs.tokens,
        }
    )

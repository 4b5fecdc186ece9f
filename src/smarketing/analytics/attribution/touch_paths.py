"""The product's journeys as `JourneyPaths`, built straight from the rows of `journey_touches`.

No path strings: every touch of a path is one row of the sorted touch table, so a credit
computed per touch maps back to its touchpoint (the per-deal breakdown, the export). One path
per conversion (and per non-converting journey), in the order of `journeys.SORT_KEYS`.

Milestones of the stage models (`w_shaped`, `full_path`) come from the stored transitions:

- lead creation: the last touch of the path at or before `lead_at` (the journey's first
  transition into `lead` or a later funnel stage);
- opportunity creation: likewise with `opportunity_at`;
- closed-won (`full_path`): the last touch, for won deals only.

A milestone the journey did not reach by the conversion, or reached before its first touch in
the lookback window, is absent (`ABSENT_STAGE`): its weight goes to the other touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.analytics.attribution.arrays import BoolArray, FloatArray, IntArray, int_values
from smarketing.analytics.attribution.journeys import journey_starts, sorted_touches
from smarketing.analytics.attribution.paths import (
    ABSENT_STAGE,
    JourneyPaths,
    JourneyTotals,
    LoadedJourneys,
)

NO_TOKEN = "(none)"
MICROSECONDS = 1_000_000


@dataclass(frozen=True, slots=True)
class TouchPaths:
    """Sorted touch rows and the paths over them (touch k of the paths is row k)."""

    rows: pa.Table
    loaded: LoadedJourneys
    starts: IntArray
    """Per path: its first row."""

    @property
    def paths(self) -> JourneyPaths:
        return self.loaded.paths

    def converting(self) -> tuple[JourneyPaths, IntArray]:
        """The converting paths, and the row of each of their touches."""
        keep = self.paths.conversions > 0
        rows = np.flatnonzero(np.repeat(keep, self.paths.lengths)).astype(np.int64)
        return self.paths.select(keep), rows


def touch_paths(rows: pa.Table, *, won: bool, token: str = "token") -> TouchPaths:
    """Paths over `journey_touches` rows, channel names from the column `token`; `won`: the
    converting journeys end in a won deal (full_path's closed-won milestone)."""
    rows = sorted_touches(rows)
    starts = journey_starts(rows)
    n = rows.num_rows
    offsets = np.append(starts, n).astype(np.int64)
    lengths = np.diff(offsets)
    names = pc.if_else(
        pc.fill_null(pc.equal(rows[token], ""), True), NO_TOKEN, rows[token]
    ).combine_chunks()
    encoded = pc.dictionary_encode(names)
    converted = rows["converted"].to_numpy(zero_copy_only=False).astype(bool)[starts]
    value = rows["value"].to_numpy(zero_copy_only=False).astype(np.float64)[starts]
    conversions = converted.astype(np.float64)
    lead, opportunity = _milestone_indexes(rows, starts, lengths, converted)
    closed_won = np.where(converted & won, lengths - 1, ABSENT_STAGE).astype(np.int64)
    paths = JourneyPaths(
        channels=tuple(str(name) for name in encoded.dictionary.to_pylist()),
        offsets=offsets,
        touches=int_values(encoded.indices).astype(np.int32),
        conversions=conversions,
        value=np.where(converted, value, 0.0),
        nulls=1.0 - conversions,
        touch_days=-rows["days_before"].to_numpy(zero_copy_only=False).astype(np.float64),
        lead_index=lead,
        opportunity_index=opportunity,
        won_index=closed_won,
    )
    totals = JourneyTotals(
        rows=int(starts.size),
        journeys=float(starts.size),
        conversions=float(conversions.sum()),
        value=float(paths.value.sum()),
        dropped_journeys=0.0,
        dropped_conversions=0.0,
        dropped_value=0.0,
        has_value=True,
    )
    return TouchPaths(rows=rows, loaded=LoadedJourneys(paths=paths, totals=totals), starts=starts)


def _micros(column: pa.ChunkedArray) -> tuple[IntArray, FloatArray]:
    """Timestamps as integer microseconds, and 1.0 where present (0.0 where null)."""
    as_int = pc.cast(pc.cast(column, pa.timestamp("us")), pa.int64())
    present = pc.is_valid(as_int).to_numpy(zero_copy_only=False).astype(np.float64)
    return int_values(pc.fill_null(as_int, 0).combine_chunks()), present


def _milestone_indexes(
    rows: pa.Table, starts: IntArray, lengths: IntArray, converted: BoolArray
) -> tuple[IntArray, IntArray]:
    occurred, _ = _micros(rows["occurred_at"])
    converted_at, _ = _micros(rows["converted_at"])
    out: list[IntArray] = []
    for column in ("lead_at", "opportunity_at"):
        at, present = _micros(rows[column])
        at_or_before = ((occurred <= at) & (present > 0)).astype(np.int64)
        count = np.add.reduceat(at_or_before, starts) if starts.size else at_or_before[:0]
        reached = (present[starts] > 0) & (at[starts] <= converted_at[starts])
        usable = converted & reached & (count > 0) & (lengths > 0)
        out.append(np.where(usable, count - 1, ABSENT_STAGE).astype(np.int64))
    return out[0], out[1]

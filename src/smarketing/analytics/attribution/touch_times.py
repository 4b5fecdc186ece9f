"""Per-touch times for time decay: one value per touch, in days.

The time column holds, for each row, one time per touch joined by the same separator as the
path (`0 > 3.5 > 7` or `2025-01-02 > 2025-01-09T10:00:00`). Accepted forms, one form per file:

- numbers: days on any common scale (day numbers, days since the first touch, ...);
- ISO 8601 dates or date-times, all without a UTC offset or all with one (`Z`, `+02:00`).

Parquet list columns (`list<double>` in days, `list<timestamp>`) are read as they are. Only
differences within a journey matter, so the origin of the scale is irrelevant.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from smarketing.analytics.attribution.arrays import (
    arrow_mask,
    as_floats,
    float_values,
    int_values,
    validity,
)
from smarketing.errors import ValidationFailed

MICROSECONDS_PER_DAY = 86_400_000_000.0


def parse_touch_days(
    column: pa.Array,
    *,
    sep: str,
    expected_lengths: NDArray[np.int64],
    row_numbers: NDArray[np.int64],
    column_name: str,
) -> NDArray[np.float64]:
    """Times in days aligned with the touches of each row; raise when counts differ."""
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        lists = column
        tokens = pc.list_flatten(lists)
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        lists = pc.split_pattern(column, pattern=sep)
        tokens = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    else:
        raise ValidationFailed(
            f"the time column {column_name!r} must hold text like '0 > 2 > 5' or lists, "
            f"found {column.type}"
        )
    parents = int_values(pc.list_parent_indices(lists))
    present = validity(tokens)
    if pa.types.is_string(tokens.type) or pa.types.is_large_string(tokens.type):
        lengths, _ = float_values(pc.utf8_length(tokens))
        present &= lengths > 0
    parents = parents[present]
    tokens = tokens.filter(arrow_mask(present))
    counts = np.bincount(parents, minlength=expected_lengths.size)
    mismatch = (counts != expected_lengths) & (expected_lengths > 0)
    if mismatch.any():
        row = int(np.flatnonzero(mismatch)[0])
        raise ValidationFailed(
            f"row {int(row_numbers[row]) + 1}: the path has {int(expected_lengths[row])} touches "
            f"but {column_name!r} has {int(counts[row])} times",
            hint="give one time per touch, joined by the path separator",
        )
    keep_rows = expected_lengths > 0
    days = _as_days(tokens, column_name)
    return days[keep_rows[parents]] if not keep_rows.all() else days


def _as_days(tokens: pa.Array, column_name: str) -> NDArray[np.float64]:
    if pa.types.is_timestamp(tokens.type) or pa.types.is_date(tokens.type):
        return _timestamps_to_days(tokens)
    if pa.types.is_integer(tokens.type) or pa.types.is_floating(tokens.type):
        return _finite(pc.cast(tokens, pa.float64()), column_name)
    for target in (pa.float64(), pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
        try:
            converted = pc.cast(tokens, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if target == pa.float64():
            return _finite(converted, column_name)
        return _timestamps_to_days(converted)
    raise ValidationFailed(
        f"cannot read the times in {column_name!r} as numbers (days) or ISO 8601 timestamps",
        hint="use day numbers like '0 > 2.5', or timestamps all with or all without a UTC offset",
    )


def _timestamps_to_days(values: pa.Array) -> NDArray[np.float64]:
    micros = pc.cast(pc.cast(values, pa.timestamp("us", tz=None)), pa.int64())
    return as_floats(int_values(micros) / MICROSECONDS_PER_DAY)


def _finite(values: pa.Array, column_name: str) -> NDArray[np.float64]:
    days, _ = float_values(values)
    if not np.isfinite(days).all():
        raise ValidationFailed(f"the times in {column_name!r} must be finite numbers")
    return days

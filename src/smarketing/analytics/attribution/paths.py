"""Journeys as integer arrays: each path a run of channel ids, with its journey counts.

`JourneyPaths` is the one representation every model reads. Paths are stored CSR-style:
`touches[offsets[i]:offsets[i + 1]]` are the channel ids of path `i`, in order. Rows of the
input that share a path string are aggregated per batch (their counts add up), so a file with
one row per journey and a file with one row per distinct path give the same credits.

Parsing rules (the same as channelattribution's): channels are separated by `sep`, whitespace
around a channel name is ignored, empty names (`A >> B`) are skipped, names are case-sensitive.
A journey whose path has no channel at all is dropped and counted in `JourneyTotals`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.analytics.attribution.arrays import (
    BoolArray,
    ChannelIdArray,
    FloatArray,
    IntArray,
    arrow_mask,
    bool_values,
    float_values,
    int_values,
    weighted_count,
)
from smarketing.analytics.attribution.table import ResolvedColumns
from smarketing.analytics.attribution.tokenise import (
    ChannelIndex,
    TokenisedPaths,
    as_path_strings,
    tokenise_paths,
)
from smarketing.analytics.attribution.touch_times import parse_touch_days
from smarketing.errors import UsageError, ValidationFailed

NO_STAGE_INDEX = -1
"""Stage index: not given, the milestone sits at its default position."""
ABSENT_STAGE = -2
"""Stage index: the journey has no touch for this milestone; its weight goes to the others.
Written as `-1` in a paths file."""


@dataclass(frozen=True, kw_only=True, slots=True)
class JourneyPaths:
    """Paths with at least one touch, and the journeys that followed each of them."""

    channels: tuple[str, ...]
    offsets: IntArray
    touches: ChannelIdArray
    conversions: FloatArray
    value: FloatArray
    nulls: FloatArray
    touch_days: FloatArray | None = None
    """Per touch (aligned with `touches`): time in days; only for time_decay with a time column."""
    lead_index: IntArray | None = None
    opportunity_index: IntArray | None = None
    won_index: IntArray | None = None

    @property
    def n_paths(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def lengths(self) -> IntArray:
        return np.diff(self.offsets)

    def path_of_touch(self) -> IntArray:
        return np.repeat(np.arange(self.n_paths, dtype=np.int64), self.lengths)

    def position_of_touch(self) -> IntArray:
        """0-based position of each touch within its path."""
        return np.arange(self.touches.size, dtype=np.int64) - np.repeat(
            self.offsets[:-1], self.lengths
        )

    def select(self, keep: BoolArray) -> JourneyPaths:
        """The paths where `keep` is true, in the same order."""
        touch_mask = np.repeat(keep, self.lengths)
        lengths = self.lengths[keep]
        offsets = np.zeros(lengths.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])

        def pick(stage: IntArray | None) -> IntArray | None:
            return None if stage is None else stage[keep]

        return replace(
            self,
            offsets=offsets,
            touches=self.touches[touch_mask],
            conversions=self.conversions[keep],
            value=self.value[keep],
            nulls=self.nulls[keep],
            touch_days=None if self.touch_days is None else self.touch_days[touch_mask],
            lead_index=pick(self.lead_index),
            opportunity_index=pick(self.opportunity_index),
            won_index=pick(self.won_index),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class JourneyTotals:
    """What was read, and what had to be dropped because it had no touch."""

    rows: int
    journeys: float
    conversions: float
    value: float
    dropped_journeys: float
    dropped_conversions: float
    dropped_value: float
    has_value: bool

    @property
    def credited_conversions(self) -> float:
        """What every model's conversion credits sum to."""
        return self.conversions - self.dropped_conversions

    @property
    def credited_value(self) -> float:
        """What every model's value credits sum to."""
        return self.value - self.dropped_value


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadedJourneys:
    paths: JourneyPaths
    totals: JourneyTotals
    converting_only: bool = False
    """True when journeys without conversions were counted but not kept (no Markov then)."""


def normalise_separator(sep: str) -> str:
    stripped = sep.strip()
    if not stripped:
        raise UsageError("the path separator cannot be empty or only whitespace", hint="--sep '>'")
    return stripped


@dataclass(slots=True)
class _Parts:
    """Per-batch pieces, concatenated once at the end."""

    lengths: list[IntArray]
    touches: list[ChannelIdArray]
    conversions: list[FloatArray]
    value: list[FloatArray]
    nulls: list[FloatArray]
    touch_days: list[FloatArray]
    stages: dict[str, list[IntArray]]


@dataclass(frozen=True, kw_only=True, slots=True)
class _EncodedBatch:
    """One batch, encoded without touching shared state (so batches can run in parallel)."""

    journeys: float
    conversions: float
    value: float
    skipped_empty_journeys: float
    tokens: TokenisedPaths | None
    path_conversions: FloatArray
    path_value: FloatArray
    path_nulls: FloatArray
    touch_days: FloatArray | None
    stages: dict[str, IntArray]


ENCODING_THREADS = 2


def encode_batches(
    batches: Iterable[pa.RecordBatch],
    columns: ResolvedColumns,
    *,
    sep: str,
    converting_only: bool = False,
) -> LoadedJourneys:
    """Encode every batch; with `converting_only`, paths without conversions are skipped.

    Skipped non-converting rows still count in the totals (journeys, dropped journeys).
    Batches are encoded two at a time (pyarrow and numpy release the GIL) and merged in order,
    so channel ids and results do not depend on the threads.
    """
    sep = normalise_separator(sep)
    channel_index = ChannelIndex()
    stage_names = [
        name
        for name in (columns.lead_index, columns.opportunity_index, columns.won_index)
        if name is not None
    ]
    parts = _Parts([], [], [], [], [], [], {name: [] for name in stage_names})
    rows = 0
    journeys = conversions = value = dropped_journeys = 0.0

    def merge(encoded: _EncodedBatch) -> None:
        nonlocal journeys, conversions, value, dropped_journeys
        journeys += encoded.journeys
        conversions += encoded.conversions
        value += encoded.value
        dropped_journeys += encoded.skipped_empty_journeys
        if encoded.tokens is None:
            return
        global_ids = channel_index.ids_for(list(encoded.tokens.names))
        parts.lengths.append(encoded.tokens.lengths)
        parts.touches.append(global_ids[encoded.tokens.touches])
        parts.conversions.append(encoded.path_conversions)
        parts.value.append(encoded.path_value)
        parts.nulls.append(encoded.path_nulls)
        if encoded.touch_days is not None:
            parts.touch_days.append(encoded.touch_days)
        for name, stage in encoded.stages.items():
            parts.stages[name].append(stage)

    with ThreadPoolExecutor(max_workers=ENCODING_THREADS) as pool:
        pending: deque[Future[_EncodedBatch]] = deque()
        for batch in batches:
            pending.append(
                pool.submit(
                    _encode_batch,
                    batch,
                    columns,
                    sep=sep,
                    converting_only=converting_only,
                    first_row=rows,
                    stage_names=stage_names,
                )
            )
            rows += batch.num_rows
            if len(pending) > ENCODING_THREADS:
                merge(pending.popleft().result())
        while pending:
            merge(pending.popleft().result())

    paths = _assemble(parts, channel_index, columns)
    empty = paths.lengths == 0
    dropped_journeys += float(paths.conversions[empty].sum() + paths.nulls[empty].sum())
    if empty.any():
        dropped_conversions = float(paths.conversions[empty].sum())
        dropped_value = float(paths.value[empty].sum())
        paths = paths.select(~empty)
    else:
        dropped_conversions = dropped_value = 0.0
    totals = JourneyTotals(
        rows=rows,
        journeys=journeys,
        conversions=conversions,
        value=value,
        dropped_journeys=dropped_journeys,
        dropped_conversions=dropped_conversions,
        dropped_value=dropped_value,
        has_value=columns.value is not None,
    )
    return LoadedJourneys(paths=paths, totals=totals, converting_only=converting_only)


def _encode_batch(
    batch: pa.RecordBatch,
    columns: ResolvedColumns,
    *,
    sep: str,
    converting_only: bool,
    first_row: int,
    stage_names: list[str],
) -> _EncodedBatch:
    conv, val, nulls = _counts(batch, columns, first_row=first_row)
    sums = {
        "journeys": float(conv.sum() + nulls.sum()),
        "conversions": float(conv.sum()),
        "value": float(val.sum()),
    }
    row_numbers = np.arange(first_row, first_row + batch.num_rows, dtype=np.int64)
    skipped_empty = 0.0
    if converting_only:
        keep = conv > 0
        skipped = _empty_path_mask(batch.column(columns.path), sep) & ~keep
        skipped_empty = float(nulls[skipped].sum())
        batch = batch.filter(arrow_mask(keep))
        conv, val, nulls, row_numbers = conv[keep], val[keep], nulls[keep], row_numbers[keep]
    if batch.num_rows == 0:
        empty = np.zeros(0, dtype=np.float64)
        return _EncodedBatch(
            **sums,
            skipped_empty_journeys=skipped_empty,
            tokens=None,
            path_conversions=empty,
            path_value=empty,
            path_nulls=empty,
            touch_days=None,
            stages={},
        )
    path_column = as_path_strings(batch.column(columns.path), sep)
    if columns.touch_times is None and not stage_names:
        path_column, row_to_path = _distinct_paths(path_column)
        conv = weighted_count(row_to_path, conv, len(path_column))
        val = weighted_count(row_to_path, val, len(path_column))
        nulls = weighted_count(row_to_path, nulls, len(path_column))
    tokens = tokenise_paths(path_column, sep)
    touch_days = None
    if columns.touch_times is not None:
        touch_days = parse_touch_days(
            batch.column(columns.touch_times),
            sep=sep,
            expected_lengths=tokens.lengths,
            row_numbers=row_numbers,
            column_name=columns.touch_times,
        )
    stages = {
        name: _stage_index(batch.column(name), tokens.lengths, row_numbers, column=name)
        for name in stage_names
    }
    return _EncodedBatch(
        **sums,
        skipped_empty_journeys=skipped_empty,
        tokens=tokens,
        path_conversions=conv,
        path_value=val,
        path_nulls=nulls,
        touch_days=touch_days,
        stages=stages,
    )


def _assemble(parts: _Parts, channel_index: ChannelIndex, columns: ResolvedColumns) -> JourneyPaths:
    def cat_float(chunks: list[FloatArray]) -> FloatArray:
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float64)

    lengths = np.concatenate(parts.lengths) if parts.lengths else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])

    def stage(name: str | None) -> IntArray | None:
        if name is None:
            return None
        chunks = parts.stages[name]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)

    return JourneyPaths(
        channels=tuple(channel_index.names),
        offsets=offsets,
        touches=(np.concatenate(parts.touches) if parts.touches else np.zeros(0, dtype=np.int32)),
        conversions=cat_float(parts.conversions),
        value=cat_float(parts.value),
        nulls=cat_float(parts.nulls),
        touch_days=cat_float(parts.touch_days) if columns.touch_times is not None else None,
        lead_index=stage(columns.lead_index),
        opportunity_index=stage(columns.opportunity_index),
        won_index=stage(columns.won_index),
    )


def _numeric(batch: pa.RecordBatch, name: str, *, first_row: int) -> FloatArray:
    column = batch.column(name)
    try:
        values, present = float_values(column)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValidationFailed(
            f"column {name!r} must hold numbers, found {column.type}",
            hint="check the column options (--conversions-column, --value-column, ...)",
        ) from None
    if not present.all():
        values = np.where(present, values, 0.0)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValidationFailed(
            f"row {first_row + row + 1}: {name!r} is {float(values[row])!r}; "
            "counts and values must be finite and non-negative",
            hint="fix or remove that row",
        )
    return values


def _counts(
    batch: pa.RecordBatch, columns: ResolvedColumns, *, first_row: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    conv = _numeric(batch, columns.conversions, first_row=first_row)
    if columns.value is not None:
        val = _numeric(batch, columns.value, first_row=first_row)
        orphan = (val > 0) & (conv == 0)
        if orphan.any():
            row = int(np.flatnonzero(orphan)[0])
            raise ValidationFailed(
                f"row {first_row + row + 1}: {columns.value!r} is {float(val[row])!r} but "
                f"{columns.conversions!r} is 0; value belongs to conversions",
                hint="fix the row, or pass the right --value-column/--conversions-column",
            )
    else:
        val = np.zeros(batch.num_rows, dtype=np.float64)
    if columns.nulls is not None:
        nulls = _numeric(batch, columns.nulls, first_row=first_row)
    else:
        nulls = (conv == 0).astype(np.float64)
    return conv, val, nulls


def _distinct_paths(column: pa.Array) -> tuple[pa.Array, IntArray]:
    """Distinct path values and, per row, the index of its value (nulls share one entry)."""
    if pa.types.is_dictionary(column.type):
        encoded = column
    else:
        encoded = pc.dictionary_encode(column, null_encoding="encode")
    return encoded.dictionary, int_values(encoded.indices)


def _empty_path_mask(column: pa.Array, sep: str) -> BoolArray:
    """Rows whose path holds no channel name (null, empty, only separators and spaces)."""
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        column = as_path_strings(column, sep)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    pattern = "^(?:\\s|" + _re2_literal(sep) + ")*$"
    return bool_values(pc.match_substring_regex(column, pattern), null_as=True)


def _re2_literal(text: str) -> str:
    return "".join(ch if ch.isalnum() else "\\" + ch for ch in text)


def _stage_index(
    values: pa.Array, lengths: IntArray, row_numbers: IntArray, *, column: str
) -> IntArray:
    """0-based touch indexes; missing values become NO_STAGE_INDEX (use the default position),
    `-1` becomes ABSENT_STAGE (the milestone is not on the path)."""
    try:
        raw, known = float_values(values)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValidationFailed(
            f"column {column!r} must hold touch indexes (0 = first touch), found {values.type}"
        ) from None
    known = known & ~np.isnan(raw)
    bad = known & (lengths > 0) & ((raw < -1) | (raw != np.floor(raw)) | (raw >= lengths))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValidationFailed(
            f"row {int(row_numbers[row]) + 1}: {column!r} is {float(raw[row]):g} but the path has "
            f"{int(lengths[row])} touches",
            hint="use a 0-based touch index smaller than the number of touches, -1 when the "
            "milestone is not on the path, or leave it empty",
        )
    index = np.where(known, raw, NO_STAGE_INDEX).astype(np.int64)
    return np.where(known & (raw == -1), ABSENT_STAGE, index)

"""The sorted touch rows of `journey_rows` cut into paths, with token names, in numpy.

Rows arrive sorted (converting: kind, journey, conversion, time, touch id; recent: journey,
time, touch id), so a path is a run of rows with the same keys: its offsets come from the
positions where a key changes, with no sort and no Python loop over rows. Tokens become
indexes into per-dimension name lists (`TokenNames`): raw values that read the same after
cleaning (null or empty is "(none)"; no campaign is "(no campaign)"; no content item is
"(no content)", a content item is its title, else its key) share one token, as in
`touch_paths`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.analytics.attribution.arrays import (
    BoolArray,
    ChannelIdArray,
    FloatArray,
    IntArray,
    bool_values,
    float_values,
    int_values,
    native_values,
)
from smarketing.analytics.attribution.journey_rows import RAW_TOKENS
from smarketing.analytics.attribution.journeys import DIMENSIONS, Dimension
from smarketing.analytics.attribution.paths import ABSENT_STAGE

NO_TOKEN = "(none)"  # as `touch_paths.NO_TOKEN`
NULL_NAMES: dict[Dimension, str] = {
    "channel": NO_TOKEN,
    "campaign": "(no campaign)",
    "content": "(no content)",
    "team": NO_TOKEN,
}
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class TokenNames:
    """One dimension's token names, and the token index of every raw id."""

    names: tuple[str, ...]
    by_raw: ChannelIdArray
    """Raw id -> index into `names`; ids past its end (no such row) read as id 0."""

    @classmethod
    def of(cls, labels: dict[int, str | None], null_name: str) -> TokenNames:
        """`labels`: raw id -> raw name (id 0, and any missing id, is `null_name`)."""
        cleaned = {raw: _clean(label, null_name) for raw, label in labels.items()}
        names = tuple(sorted({null_name, *cleaned.values()}))
        index = {name: i for i, name in enumerate(names)}
        by_raw = np.full(max(labels, default=0) + 1, index[null_name], dtype=np.int32)
        for raw, name in cleaned.items():
            by_raw[raw] = index[name]
        return cls(names=names, by_raw=by_raw)

    def index(self, raw: IntArray) -> ChannelIdArray:
        by_raw = self.by_raw
        top = int(raw.max(initial=0)) + 1
        if top > by_raw.size:  # an id with no row (a deleted content item): no token
            by_raw = np.append(by_raw, np.full(top - by_raw.size, by_raw[0]))
        return by_raw[raw]


def _clean(label: str | None, null_name: str) -> str:
    if label is None:
        return null_name
    return label if label else NO_TOKEN


def token_names(names: pa.Table, content: pa.Table) -> dict[Dimension, TokenNames]:
    """Per dimension, from the `token_names` and `content_names` sections."""
    out: dict[Dimension, TokenNames] = {}
    for dim in RAW_TOKENS:
        rows = names.filter(pc.equal(names["dimension"], dim))
        labels = dict(zip(rows["id"].to_pylist(), rows["raw"].to_pylist(), strict=True))
        out[dim] = TokenNames.of(labels, NULL_NAMES[dim])  # type: ignore[index]
    titles = content["title"].to_pylist()
    keys = content["key"].to_pylist()
    out["content"] = TokenNames.of(
        {
            int(item): title if title is not None else key
            for item, title, key in zip(content["id"].to_pylist(), titles, keys, strict=True)
        },
        NULL_NAMES["content"],
    )
    return {dim: out[dim] for dim in DIMENSIONS}


def _ints(table: pa.Table, name: str) -> IntArray:
    return int_values(table[name].combine_chunks())


def path_starts(table: pa.Table, keys: tuple[str, ...]) -> BoolArray:
    """Per row of sorted rows: whether it starts a run of equal `keys` (a path)."""
    n = table.num_rows
    new = np.zeros(n, dtype=np.bool_)
    if n:
        new[0] = True
        for key in keys:
            column = _ints(table, key)
            new[1:] |= column[1:] != column[:-1]
    return new


@dataclass(frozen=True, slots=True)
class SortedPaths:
    """Paths over sorted touch rows: `tokens[dim][offsets[i]:offsets[i + 1]]` is path i."""

    offsets: IntArray
    journey: IntArray
    """Per path: the person or account."""
    tokens: dict[Dimension, ChannelIdArray]
    """Per dimension, per touch: index into that dimension's `TokenNames.names`."""
    is_start: BoolArray
    """Per touch: the first of its path."""

    @property
    def n_paths(self) -> int:
        return int(self.offsets.size - 1)


def sorted_paths(
    table: pa.Table, keys: tuple[str, ...], names: dict[Dimension, TokenNames]
) -> SortedPaths:
    is_start = path_starts(table, keys)
    offsets = np.append(np.flatnonzero(is_start), table.num_rows).astype(np.int64)
    return SortedPaths(
        offsets=offsets,
        journey=_ints(table, "journey")[offsets[:-1]],
        tokens={dim: names[dim].index(native_values(table[f"tok_{dim}"])) for dim in DIMENSIONS},
        is_start=is_start,
    )


@dataclass(frozen=True, slots=True)
class ConvertingPaths:
    """The converting journeys of every kind: one path per conversion, kind after kind."""

    paths: SortedPaths
    kind_bounds: IntArray
    """Paths of kind k (index in `CONVERSION_KINDS`): kind_bounds[k] .. kind_bounds[k + 1]."""
    value: FloatArray
    touch_days: FloatArray
    """Per touch: days from the conversion (the conversion at 0, earlier touches negative)."""
    lead_index: IntArray
    opportunity_index: IntArray

    @classmethod
    def of(
        cls, table: pa.Table, names: dict[Dimension, TokenNames], n_kinds: int
    ) -> ConvertingPaths:
        paths = sorted_paths(table, ("kind", "journey", "conversion"), names)
        starts = paths.offsets[:-1]
        kind = _ints(table, "kind")[starts]
        value, _ = float_values(pc.cast(table["value"].combine_chunks(), pa.float64()))
        seconds = _ints(table, "converted_s") - _ints(table, "occurred_s")
        return cls(
            paths=paths,
            kind_bounds=np.searchsorted(kind, np.arange(n_kinds + 1)).astype(np.int64),
            value=np.nan_to_num(value[starts]),
            touch_days=-(seconds.astype(np.float64) / SECONDS_PER_DAY),
            lead_index=_milestone_index(table, paths, "lead"),
            opportunity_index=_milestone_index(table, paths, "opportunity"),
        )


def _milestone_index(table: pa.Table, paths: SortedPaths, stage: str) -> IntArray:
    """`touch_paths`'s rule: the last touch at or before the milestone; absent when the
    milestone is missing, after the conversion, or before the first touch."""
    starts = paths.offsets[:-1]
    at = bool_values(table[f"at_{stage}"].combine_chunks(), null_as=False).astype(np.int64)
    count = np.add.reduceat(at, starts) if starts.size else at[:0]
    counts = bool_values(table[f"{stage}_counts"].combine_chunks(), null_as=False)[starts]
    return np.where(counts & (count > 0), count - 1, ABSENT_STAGE).astype(np.int64)

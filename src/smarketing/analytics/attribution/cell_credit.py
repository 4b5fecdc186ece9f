"""Every model's credit per token from the engine's cells (`journey_cells`), in numpy.

The shares are those of the per-journey code: a cell's touches share the path length, position
and milestones, so `heuristics.touch_shares` computed once per distinct path shape gives every
touch of the cell its share; Shapley gives 1/d to the first touch of each of a path's d distinct
tokens; time decay arrives summed from the engine; Markov solves the chain built from the step
counts (`markov.effects_of_counts`). Credits therefore equal those of `attribute_journeys` over
`touch_paths` (up to the order of floating-point sums), which a test checks on the demo.

Cells are sorted before any floating-point sum, and the point credits are computed from the
cells summed over bootstrap groups (integer and DECIMAL sums, exact), so the same data gives
the same bits on every engine, with or without intervals.

Bootstrap (with a confidence level): journeys fall into `groups` random groups (`bucket`, a
hash of the journey id computed by the engine); each of `replicates` seeded replicates draws
`groups` groups with replacement (multinomial counts) and recomputes every model on the
reweighted cells, Markov's solve included. Intervals are percentile intervals; with 100 groups
of thousands of journeys each this is the random-groups bootstrap of survey statistics, close
to resampling journeys one by one and O(cells) per replicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.analytics.attribution.arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    bool_values,
    float_values,
    int_values,
)
from smarketing.analytics.attribution.heuristics import touch_shares
from smarketing.analytics.attribution.markov import ChainCounts, effects_of_counts, markov_credit
from smarketing.analytics.attribution.models import AttributionSettings, ModelName
from smarketing.analytics.attribution.paths import ABSENT_STAGE, JourneyPaths

CREDIT_KEYS = (
    "token",
    "n",
    "pos",
    "lead",
    "opportunity",
    "won",
    "last_non_direct",
    "first_of_token",
    "d",
)
CREDIT_SUMS = ("touches", "cents", "time_decay", "time_decay_cents")
CHAIN_KEYS = ("source", "token", "step", "last", "converted")
CHAIN_SUMS = ("journeys", "cents")
SHAPE_MODELS: tuple[ModelName, ...] = ("linear", "position_based", "w_shaped", "full_path")
Credit = tuple[FloatArray, FloatArray]  # conversions, value: [groups, tokens]


def summed(cells: pa.Table, keys: Sequence[str], sums: Sequence[str]) -> pa.Table:
    """Cells summed over `keys` (exact: integers and decimals), sorted by them."""
    grouped = cells.group_by(list(keys), use_threads=False).aggregate(
        [(name, "sum") for name in sums]
    )
    renamed = [
        name[: -len("_sum")] if name.endswith("_sum") and name[: -len("_sum")] in sums else name
        for name in grouped.column_names
    ]
    return sorted_cells(grouped.rename_columns(renamed).select([*keys, *sums]), keys)


def sorted_cells(cells: pa.Table, keys: Sequence[str]) -> pa.Table:
    return cells.sort_by([(k, "ascending") for k in keys]).combine_chunks()


def _floats(column: pa.ChunkedArray) -> FloatArray:
    values, _ = float_values(pc.cast(column.combine_chunks(), pa.float64()))
    return values


def _ints(column: pa.ChunkedArray) -> IntArray:
    return int_values(column.combine_chunks().fill_null(-1))


def token_index(column: pa.Array | pa.ChunkedArray, names: Sequence[str]) -> IntArray:
    """Index of each token in `names` (holding every token); -1 for a null."""
    found = pc.fill_null(pc.index_in(column, value_set=pa.array(names, pa.string())), -1)
    if isinstance(found, pa.ChunkedArray):
        found = found.combine_chunks()
    return int_values(found)


@dataclass(frozen=True, slots=True)
class Grouping:
    """Cells of one dimension: per row its group (bootstrap bucket, or 0) and token index."""

    group: IntArray
    token: IntArray
    n_groups: int
    n_tokens: int

    def add(self, weights: FloatArray) -> FloatArray:
        cell = self.group * self.n_tokens + self.token
        out = np.bincount(cell, weights=weights, minlength=self.n_groups * self.n_tokens)
        return np.asarray(out, dtype=np.float64).reshape(self.n_groups, self.n_tokens)


def rule_credits(
    cells: pa.Table, grouping: Grouping, models: Sequence[ModelName], settings: AttributionSettings
) -> dict[ModelName, Credit]:
    """Credit of every rule-based model and Shapley, per group and token."""
    touches = _floats(cells["touches"])
    value = _floats(cells["cents"]) / 100.0
    n, pos = _ints(cells["n"]), _ints(cells["pos"])
    share: dict[ModelName, FloatArray] = {
        "first_touch": (pos == 0).astype(np.float64),
        "last_touch": (pos == n - 1).astype(np.float64),
        "last_non_direct": _bools(cells["last_non_direct"]).astype(np.float64),
        "shapley": np.where(
            _bools(cells["first_of_token"]), 1.0 / np.maximum(_ints(cells["d"]), 1), 0.0
        ),
    }
    share.update(_shape_shares(cells, n, pos, [m for m in models if m in SHAPE_MODELS], settings))
    out: dict[ModelName, Credit] = {}
    for model in models:
        if model == "time_decay":
            out[model] = (
                grouping.add(_floats(cells["time_decay"])),
                grouping.add(_floats(cells["time_decay_cents"]) / 100.0),
            )
        elif model in share:
            out[model] = (grouping.add(touches * share[model]), grouping.add(value * share[model]))
    return out


def _bools(column: pa.ChunkedArray) -> BoolArray:
    return bool_values(column.combine_chunks(), null_as=False)


def _shape_shares(
    cells: pa.Table,
    n: IntArray,
    pos: IntArray,
    models: Sequence[ModelName],
    settings: AttributionSettings,
) -> dict[ModelName, FloatArray]:
    """Per cell and model: the share `touch_shares` gives a touch at `pos` of its path shape."""
    if not models or n.size == 0:
        return {}
    lead, opportunity = _ints(cells["lead"]), _ints(cells["opportunity"])
    won = _bools(cells["won"])
    base = int(n.max()) + 3  # milestone indexes run from ABSENT_STAGE (-2) to n - 1
    key = ((n * base + lead + 2) * base + opportunity + 2) * 2 + won
    _, first, shape_of_cell = np.unique(key, return_index=True, return_inverse=True)
    shapes = np.stack([n, lead, opportunity, won.astype(np.int64)], axis=1)[first]
    shape_of_cell = shape_of_cell.reshape(-1)
    lengths = shapes[:, 0]
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    paths = JourneyPaths(
        channels=("x",),
        offsets=offsets,
        touches=np.zeros(int(offsets[-1]), dtype=np.int32),
        conversions=np.ones(lengths.size),
        value=np.zeros(lengths.size),
        nulls=np.zeros(lengths.size),
        lead_index=shapes[:, 1].astype(np.int64),
        opportunity_index=shapes[:, 2].astype(np.int64),
        won_index=np.where(shapes[:, 3] > 0, lengths - 1, ABSENT_STAGE).astype(np.int64),
    )
    touch = offsets[shape_of_cell] + pos
    return {model: touch_shares(paths, model, settings)[touch] for model in models}


@dataclass(frozen=True, slots=True)
class ChainCells:
    """Markov steps per group, with states = token index + 1 (state 0 is the start)."""

    group: IntArray
    edge: IntArray
    """Per step cell: index into `edges`."""
    steps: FloatArray
    edges: IntArray
    ends: IntArray
    """Per end cell: its state."""
    end_group: IntArray
    ended: FloatArray
    converted: FloatArray
    converted_value: FloatArray
    n_states: int
    n_groups: int

    @classmethod
    def of(
        cls, cells: pa.Table, names: Sequence[str], group: IntArray, n_groups: int
    ) -> ChainCells:
        n_states = len(names) + 1
        source = token_index(cells["source"], names) + 1  # the start (a null) is state 0
        state = token_index(cells["token"], names) + 1
        step, last = _bools(cells["step"]), _bools(cells["last"])
        converted = _bools(cells["converted"])
        journeys = _floats(cells["journeys"])
        code = source * n_states + state
        edges, edge = np.unique(code[step], return_inverse=True)
        return cls(
            group=group[step],
            edge=edge.reshape(-1),
            steps=journeys[step],
            edges=edges.astype(np.int64),
            ends=state[last],
            end_group=group[last],
            ended=journeys[last],
            converted=np.where(converted, journeys, 0.0)[last],
            converted_value=np.where(converted, _floats(cells["cents"]) / 100.0, 0.0)[last],
            n_states=n_states,
            n_groups=n_groups,
        )

    def counts(self, weights: FloatArray) -> ChainCounts:
        """Counts with group g weighted by `weights[g]` (all ones: the data)."""
        n = self.n_states
        return ChainCounts(
            edge_counts=_weighted(self.edge, self.steps * weights[self.group], self.edges.size),
            converted=_weighted(self.ends, self.converted * weights[self.end_group], n),
            converted_value=_weighted(self.ends, self.converted_value * weights[self.end_group], n),
            ended=_weighted(self.ends, self.ended * weights[self.end_group], n),
        )

    def credit(self, weights: FloatArray) -> tuple[FloatArray, FloatArray]:
        counts = self.counts(weights)
        removed = tuple(np.array([s], dtype=np.int64) for s in range(1, self.n_states))
        effects = effects_of_counts(
            self.edges // self.n_states, self.edges % self.n_states, removed, counts
        )
        return markov_credit(
            effects,
            total_conversions=float(counts.converted.sum()),
            total_value=float(counts.converted_value.sum()),
        )


def _weighted(index: IntArray, weights: FloatArray, size: int) -> FloatArray:
    return np.asarray(np.bincount(index, weights=weights, minlength=size), dtype=np.float64)

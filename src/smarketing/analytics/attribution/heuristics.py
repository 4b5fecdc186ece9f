"""Rule-based models: each converting journey's credit is split over its touches by a rule.

Invariant (checked by Hypothesis tests): for every path the touch shares are non-negative and
sum to 1, so a model's credit sums to the conversions (and value) of the journeys with at least
one touch.

Rules, for a path of n touches at positions 0 .. n-1:

- first_touch / last_touch: all to position 0 / n-1.
- last_non_direct: all to the last touch whose channel is not named "direct" (any case); to
  the last touch when every touch is direct.
- linear: 1/n per touch, so a channel seen k times gets k/n.
- time_decay: weight 2^(-(t_conv - t_i) / half_life), normalised. t_conv is the time of the
  latest touch (any later conversion time scales all weights alike and cancels out). Without a
  time column touches are taken one day apart, the last one at the conversion.
- Milestone models (position_based, w_shaped, full_path): each milestone gets its weight on the
  touch at its position; milestones that fall on the same touch add up; the "rest" weight is
  split equally over the touches that are no milestone. When no touch is left for the rest,
  the milestone weights are rescaled to sum to 1 (so position_based gives 100 % for one touch
  and 50/50 for two). Milestones: position_based = first, last; w_shaped = first, lead
  creation, opportunity creation; full_path = those plus closed-won. Without stage-index
  columns the milestones are spread evenly over the path: milestone j of m sits at position
  floor(j * (n - 1) / (m - 1)); so w_shaped takes first, middle, last, and a two-touch journey
  counts its first touch as lead creation. A stage index of ABSENT_STAGE (`-1` in a paths
  file) means the journey has no touch for that milestone (the lead was created before the
  lookback window, the opportunity is not reached yet): the milestone takes nothing and the
  others are rescaled. In the product, the indexes come from the stored transitions (see
  `touch_paths`).
- custom: the path is cut into as many equal buckets as there are weights; touch i belongs to
  bucket floor((i + 0.5) * m / n); each bucket's weight is split over its touches and weights
  of empty buckets are dropped (the rest rescaled).
- Where every weight a path could receive is zero, it falls back to linear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from smarketing.analytics.attribution.arrays import FloatArray, IntArray, as_floats, weighted_count
from smarketing.analytics.attribution.models import (
    DIRECT_CHANNEL_NAME,
    AttributionSettings,
    ModelName,
)
from smarketing.analytics.attribution.paths import NO_STAGE_INDEX, JourneyPaths


@dataclass(frozen=True, slots=True)
class TouchLayout:
    """Where each touch sits: its path, its position, and the length of its path."""

    path: IntArray
    position: IntArray
    path_length: IntArray
    starts: IntArray
    lengths: IntArray

    @classmethod
    def of(cls, paths: JourneyPaths) -> TouchLayout:
        lengths = paths.lengths
        path = paths.path_of_touch()
        return cls(
            path=path,
            position=paths.position_of_touch(),
            path_length=lengths[path],
            starts=paths.offsets[:-1],
            lengths=lengths,
        )

    def per_path_sum(self, per_touch: FloatArray) -> FloatArray:
        return weighted_count(self.path, per_touch, self.lengths.size)


def touch_shares(
    paths: JourneyPaths, model: ModelName, settings: AttributionSettings
) -> FloatArray:
    """Share of its path's credit for every touch (aligned with `paths.touches`)."""
    if paths.touches.size == 0:
        return np.zeros(0, dtype=np.float64)
    layout = TouchLayout.of(paths)
    if model == "first_touch":
        return as_floats(layout.position == 0)
    if model == "last_touch":
        return as_floats(layout.position == layout.path_length - 1)
    if model == "last_non_direct":
        return _last_non_direct(paths, layout)
    if model == "linear":
        return _linear(layout)
    if model == "time_decay":
        return _time_decay(paths, layout, settings.half_life_days)
    if model == "position_based":
        first, middle, last = settings.position_weights
        ends = [np.zeros_like(layout.lengths), layout.lengths - 1]
        return _milestones(layout, ends, (first, last), middle)
    if model == "w_shaped":
        *key_weights, rest = settings.w_shaped_weights
        spots = _milestone_positions(layout.lengths, 3)
        spots[1] = _override(spots[1], paths.lead_index)
        spots[2] = _override(spots[2], paths.opportunity_index)
        return _milestones(layout, spots, key_weights, rest)
    if model == "full_path":
        *key_weights, rest = settings.full_path_weights
        spots = _milestone_positions(layout.lengths, 4)
        spots[1] = _override(spots[1], paths.lead_index)
        spots[2] = _override(spots[2], paths.opportunity_index)
        spots[3] = _override(spots[3], paths.won_index)
        return _milestones(layout, spots, key_weights, rest)
    if model == "custom":
        return _buckets(layout, settings.require_custom_weights())
    raise ValueError(f"{model} is not a rule-based model")


def _linear(layout: TouchLayout) -> FloatArray:
    return as_floats(1.0 / layout.path_length)


def _last_non_direct(paths: JourneyPaths, layout: TouchLayout) -> FloatArray:
    is_direct = np.array(
        [name.casefold() == DIRECT_CHANNEL_NAME for name in paths.channels], dtype=np.bool_
    )
    if not is_direct.any():
        return as_floats(layout.position == layout.path_length - 1)
    candidate = np.where(is_direct[paths.touches], -1, layout.position)
    last_non_direct = np.maximum.reduceat(candidate, layout.starts)
    target = np.where(last_non_direct >= 0, last_non_direct, layout.lengths - 1)
    return as_floats(layout.position == target[layout.path])


def _time_decay(paths: JourneyPaths, layout: TouchLayout, half_life_days: float) -> FloatArray:
    if paths.touch_days is None:
        days_before = (layout.path_length - 1 - layout.position).astype(np.float64)
    else:
        latest = np.maximum.reduceat(paths.touch_days, layout.starts)
        days_before = latest[layout.path] - paths.touch_days
    weights = as_floats(np.exp2(-days_before / half_life_days))
    return as_floats(weights / layout.per_path_sum(weights)[layout.path])


def _milestone_positions(lengths: IntArray, count: int) -> list[IntArray]:
    return [(j * (lengths - 1)) // (count - 1) for j in range(count)]


def _override(default: IntArray, given: IntArray | None) -> IntArray:
    if given is None:
        return default
    return np.where(given != NO_STAGE_INDEX, given, default)


def _milestones(
    layout: TouchLayout,
    spots: Sequence[IntArray],
    key_weights: Sequence[float],
    rest_weight: float,
) -> FloatArray:
    total = float(sum(key_weights)) + rest_weight
    shares = np.zeros(layout.position.size, dtype=np.float64)
    is_milestone = np.zeros(layout.position.size, dtype=np.bool_)
    for spot, weight in zip(spots, key_weights, strict=True):
        hit = layout.position == spot[layout.path]
        shares[hit] += weight / total
        is_milestone |= hit
    others = layout.lengths - weighted_count(layout.path, is_milestone, layout.lengths.size)
    rest_each = np.where(others > 0, (rest_weight / total) / np.maximum(others, 1), 0.0)
    shares += np.where(is_milestone, 0.0, rest_each[layout.path])
    return _normalised(layout, shares)


def _buckets(layout: TouchLayout, weights: Sequence[float]) -> FloatArray:
    count = len(weights)
    bucket_weight = np.asarray(weights, dtype=np.float64) / float(sum(weights))
    bucket = ((2 * layout.position + 1) * count) // (2 * layout.path_length)
    cell = layout.path * count + bucket
    per_cell = np.bincount(cell, minlength=layout.lengths.size * count)
    shares = as_floats(bucket_weight[bucket] / per_cell[cell])
    return _normalised(layout, shares)


def _normalised(layout: TouchLayout, shares: FloatArray) -> FloatArray:
    """Rescale each path's shares to sum to 1; paths with nothing to give fall back to linear."""
    sums = layout.per_path_sum(shares)
    degenerate = sums <= 0.0
    scaled: NDArray[np.float64] = shares / np.where(degenerate, 1.0, sums)[layout.path]
    if degenerate.any():
        fallback = degenerate[layout.path]
        scaled[fallback] = _linear(layout)[fallback]
    return scaled

"""Exact Shapley attribution over coalitions of channels, in closed form.

The game: players are channels; the worth of a coalition S is the number of conversions of the
journeys whose set of channels is contained in S,

    v(S) = sum over channel sets T with T ⊆ S of conv(T),

where conv(T) counts the conversions of journeys whose distinct channels are exactly T (order
and repeats ignored). So v is a sum of unanimity games u_T (u_T(S) = 1 when T ⊆ S), each
weighted by conv(T). The Shapley value is linear, and in a unanimity game the players of T
share the unit equally (they are symmetric and the others are null players). Hence

    phi_c = sum over channel sets T containing c of conv(T) / |T|,

that is: each converting journey's conversions are split equally among its *distinct*
channels. This is exact for any number of channels (no sampling, no enumeration of
coalitions); the tests check it against brute-force Shapley over all coalitions. Value is
credited the same way with conversion value in place of conversions.

Invariant: credits are non-negative and sum to the conversions (value) of the journeys with at
least one touch (efficiency: v(all channels) = total conversions, v(empty) = 0).
"""

from __future__ import annotations

import numpy as np

from smarketing.analytics.attribution.arrays import FloatArray, weighted_count
from smarketing.analytics.attribution.paths import JourneyPaths


def shapley_touch_shares(paths: JourneyPaths) -> FloatArray:
    """Per touch: 1/d for the first touch of each of the path's d distinct channels, else 0."""
    if paths.touches.size == 0:
        return np.zeros(0, dtype=np.float64)
    path = paths.path_of_touch()
    n_channels = max(len(paths.channels), 1)
    key = path * n_channels + paths.touches.astype(np.int64)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    first_in_group = np.ones(sorted_key.size, dtype=np.bool_)
    first_in_group[1:] = sorted_key[1:] != sorted_key[:-1]
    is_first_of_channel = np.zeros(key.size, dtype=np.bool_)
    is_first_of_channel[order[first_in_group]] = True
    distinct = weighted_count(path, is_first_of_channel, paths.n_paths)
    return np.where(is_first_of_channel, 1.0 / distinct[path], 0.0)

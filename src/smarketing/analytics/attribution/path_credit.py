"""Credit of single journeys, touch by touch, for every model (per-deal breakdown, export).

Rule-based models split a journey by their rule (`heuristics.touch_shares`), exactly as in the
channel totals. Markov and Shapley are defined on a population of journeys, not on one; a
journey's split is the usual path-level reading of a fitted data-driven model:

- fit the model on the population (the journeys of that conversion kind in the period,
  converting or not): Markov's removal effect RE_c, Shapley's value phi_c per channel;
- split the journey among the channels on its path in proportion to those values, restricted
  to the channels present: channel c gets v_c / sum of v over the path's distinct channels;
- split a channel's share equally among its touches on the path.

When every channel of the path has value 0 (a channel the population never saw convert), the
path is split equally among its distinct channels instead.

Invariant: for every model and every journey with at least one touch, the touch shares are
non-negative and sum to 1; revenue credit is share x the conversion's value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from smarketing.analytics.attribution.arrays import FloatArray, weighted_count
from smarketing.analytics.attribution.heuristics import touch_shares
from smarketing.analytics.attribution.markov import build_chain, removal_effects
from smarketing.analytics.attribution.models import AttributionSettings, ModelName
from smarketing.analytics.attribution.paths import JourneyPaths
from smarketing.analytics.attribution.shapley import shapley_touch_shares

DATA_DRIVEN: tuple[ModelName, ...] = ("markov", "shapley")
ChannelValues = Mapping[str, float]


def population_values(
    population: JourneyPaths, models: Iterable[ModelName], settings: AttributionSettings
) -> dict[ModelName, dict[str, float]]:
    """Per data-driven model in `models`: its value per channel name on the population."""
    out: dict[ModelName, dict[str, float]] = {}
    names = population.channels
    for model in models:
        if model == "markov":
            chain = build_chain(
                population,
                order=settings.markov_order,
                collapse_repeats=settings.collapse_repeats,
            )
            effects = removal_effects(
                chain, population.conversions, population.value, population.nulls
            ).conversions
            out[model] = {name: float(effects[i]) for i, name in enumerate(names)}
        elif model == "shapley":
            converting = population.select(population.conversions > 0)
            shares = shapley_touch_shares(converting)
            credit = weighted_count(
                converting.touches.astype(np.int64),
                converting.conversions[converting.path_of_touch()] * shares,
                len(names),
            )
            out[model] = {name: float(credit[i]) for i, name in enumerate(names)}
    return out


def split_by_channel(paths: JourneyPaths, values: ChannelValues) -> FloatArray:
    """Per touch: its path's share, by channel values restricted to the path (see above)."""
    if paths.touches.size == 0:
        return np.zeros(0, dtype=np.float64)
    path = paths.path_of_touch()
    n_channels = max(len(paths.channels), 1)
    channel = paths.touches.astype(np.int64)
    cell = path * n_channels + channel
    _, first_of_cell, cell_index, per_cell = np.unique(
        cell, return_index=True, return_inverse=True, return_counts=True
    )
    value_of = np.array([max(values.get(name, 0.0), 0.0) for name in paths.channels])
    cell_value = value_of[channel[first_of_cell]] if value_of.size else np.zeros(0)
    cell_path = path[first_of_cell]
    path_total = weighted_count(cell_path, cell_value, paths.n_paths)
    equal = path_total[cell_path] <= 0.0
    cell_value = np.where(equal, 1.0, cell_value)
    path_total = weighted_count(cell_path, cell_value, paths.n_paths)
    cell_share = cell_value / path_total[cell_path]
    shares: FloatArray = cell_share[cell_index] / per_cell[cell_index]
    return shares


def touch_credit(
    paths: JourneyPaths,
    models: Iterable[ModelName],
    settings: AttributionSettings,
    population: Mapping[ModelName, ChannelValues],
) -> dict[ModelName, FloatArray]:
    """Per model: each touch's share of its journey (aligned with `paths.touches`).

    `paths` holds the journeys to split (converting ones); `population` the fitted values of
    the data-driven models (`population_values`)."""
    out: dict[ModelName, FloatArray] = {}
    for model in models:
        if model in DATA_DRIVEN:
            out[model] = split_by_channel(paths, population.get(model, {}))
        else:
            out[model] = touch_shares(paths, model, settings)
    return out

"""Read journeys once, run every requested model, add bootstrap intervals.

Only the Markov model needs the journeys that did not convert; without it, rows without
conversions are counted but never parsed, which makes rule-based and Shapley runs
cost little more than reading the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from smarketing.analytics.attribution.arrays import (
    CreditPair,
    FloatArray,
    IntArray,
    weighted_count,
)
from smarketing.analytics.attribution.bootstrap import (
    DEFAULT_REPLICATES,
    PathCounts,
    check_interval,
    percentile_interval,
    poisson_replicates,
)
from smarketing.analytics.attribution.heuristics import touch_shares
from smarketing.analytics.attribution.markov import build_chain, markov_credit, removal_effects
from smarketing.analytics.attribution.models import (
    AttributionSettings,
    ModelName,
    resolve_models,
)
from smarketing.analytics.attribution.paths import JourneyPaths, LoadedJourneys, encode_batches
from smarketing.analytics.attribution.result import (
    AttributionResult,
    ChannelCredit,
    channel_order,
)
from smarketing.analytics.attribution.shapley import shapley_touch_shares
from smarketing.analytics.attribution.table import (
    BATCH_ROWS,
    JourneyColumns,
    JourneySource,
    open_batches,
    resolve_columns,
)
from smarketing.errors import UsageError

Calculator = Callable[[PathCounts], CreditPair]
STAGE_MODELS: tuple[ModelName, ...] = ("w_shaped", "full_path")


def load_journeys(
    source: JourneySource,
    *,
    models: Iterable[str],
    columns: JourneyColumns | None = None,
    sep: str = ">",
    delimiter: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> LoadedJourneys:
    """Read and encode what `models` need from a file, Table or DataFrame."""
    chosen = resolve_models(models)
    stream = open_batches(source, delimiter=delimiter, batch_rows=batch_rows)
    resolved = resolve_columns(
        stream.schema,
        columns or JourneyColumns(),
        label=stream.label,
        want_touch_times="time_decay" in chosen,
        want_stage_indexes=any(model in chosen for model in STAGE_MODELS),
    )
    return encode_batches(
        stream.read(resolved), resolved, sep=sep, converting_only="markov" not in chosen
    )


def attribute(
    source: JourneySource,
    *,
    models: Iterable[str],
    columns: JourneyColumns | None = None,
    settings: AttributionSettings | None = None,
    sep: str = ">",
    delimiter: str | None = None,
    ci: float | None = None,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
) -> AttributionResult:
    """Credit per model and channel for the journeys in `source` (file path, Table, DataFrame).

    `models` takes model names or "all". With `ci` (e.g. 0.95) every credit gets a seeded
    bootstrap percentile interval from `replicates` resamples of the journeys.
    """
    chosen = resolve_models(models)
    settings = settings or AttributionSettings()
    if "custom" in chosen:
        settings.require_custom_weights()
    if ci is not None:
        check_interval(ci, replicates)
    loaded = load_journeys(source, models=chosen, columns=columns, sep=sep, delimiter=delimiter)
    return attribute_journeys(
        loaded, models=chosen, settings=settings, ci=ci, replicates=replicates, seed=seed
    )


def attribute_journeys(
    loaded: LoadedJourneys,
    *,
    models: Iterable[str],
    settings: AttributionSettings | None = None,
    ci: float | None = None,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
) -> AttributionResult:
    """Run the models on journeys already loaded (see `load_journeys`)."""
    chosen = resolve_models(models)
    settings = settings or AttributionSettings()
    if "markov" in chosen and loaded.converting_only:
        raise UsageError(
            "the Markov model needs the journeys that did not convert, which were not loaded",
            hint="load the journeys with 'markov' among the models",
        )
    paths = loaded.paths
    converting = paths.conversions > 0
    crediting = _CreditingPaths(
        paths=paths if converting.all() else paths.select(converting),
        rows=np.flatnonzero(converting),
    )
    calculators = {model: _calculator(paths, crediting, model, settings) for model in chosen}
    data = PathCounts.of(paths)
    point = {model: calculate(data) for model, calculate in calculators.items()}
    intervals: dict[ModelName, tuple[CreditPair, CreditPair]] = {}
    if ci is not None:
        check_interval(ci, replicates)
        intervals = _bootstrap(
            calculators, data, ci=ci, replicates=replicates, seed=seed, nulls="markov" in chosen
        )
    listed = _listed_channels(paths, point)
    credits = tuple(
        _channel_credit(model, paths.channels, listed, point[model], intervals.get(model))
        for model in chosen
    )
    return AttributionResult(
        credits=credits,
        totals=loaded.totals,
        ci=ci,
        replicates=replicates if ci is not None else 0,
    )


@dataclass(frozen=True, slots=True)
class _CreditingPaths:
    """The converting paths (the only ones rule-based models and Shapley look at)."""

    paths: JourneyPaths
    rows: IntArray
    """Index of each converting path among all paths."""


@dataclass(frozen=True, slots=True)
class _ShareCalculator:
    """Credit = per-touch shares times the conversions (value) of the touch's path."""

    path_of_touch: IntArray
    """Per touch of a crediting path: the path's index among all paths."""
    channel_of_touch: IntArray
    share_of_touch: FloatArray
    n_channels: int

    def __call__(self, counts: PathCounts) -> CreditPair:
        conversions = counts.conversions[self.path_of_touch] * self.share_of_touch
        value = counts.value[self.path_of_touch] * self.share_of_touch
        return (
            weighted_count(self.channel_of_touch, conversions, self.n_channels),
            weighted_count(self.channel_of_touch, value, self.n_channels),
        )


def _calculator(
    paths: JourneyPaths,
    crediting: _CreditingPaths,
    model: ModelName,
    settings: AttributionSettings,
) -> Calculator:
    n_channels = len(paths.channels)
    if model == "markov":
        chain = build_chain(
            paths, order=settings.markov_order, collapse_repeats=settings.collapse_repeats
        )

        def markov(counts: PathCounts) -> CreditPair:
            effects = removal_effects(chain, counts.conversions, counts.value, counts.nulls)
            return markov_credit(
                effects,
                total_conversions=float(counts.conversions.sum()),
                total_value=float(counts.value.sum()),
            )

        return markov
    if model == "shapley":
        shares = shapley_touch_shares(crediting.paths)
    else:
        shares = touch_shares(crediting.paths, model, settings)
    return _ShareCalculator(
        path_of_touch=crediting.rows[crediting.paths.path_of_touch()],
        channel_of_touch=crediting.paths.touches.astype(np.int64),
        share_of_touch=shares,
        n_channels=n_channels,
    )


def _bootstrap(
    calculators: dict[ModelName, Calculator],
    data: PathCounts,
    *,
    ci: float,
    replicates: int,
    seed: int,
    nulls: bool,
) -> dict[ModelName, tuple[CreditPair, CreditPair]]:
    """Per model: ((conversions low, high), (value low, high))."""
    samples: dict[ModelName, tuple[list[FloatArray], list[FloatArray]]] = {
        model: ([], []) for model in calculators
    }
    for counts in poisson_replicates(data, replicates=replicates, seed=seed, resample_nulls=nulls):
        for model, calculate in calculators.items():
            conversions, value = calculate(counts)
            samples[model][0].append(conversions)
            samples[model][1].append(value)
    return {
        model: (
            percentile_interval(np.vstack(conversion_samples), ci),
            percentile_interval(np.vstack(value_samples), ci),
        )
        for model, (conversion_samples, value_samples) in samples.items()
    }


def _listed_channels(paths: JourneyPaths, point: dict[ModelName, CreditPair]) -> list[int]:
    """Channels of converting journeys plus any channel a model credits, ordered by name."""
    converting = np.repeat(paths.conversions > 0, paths.lengths)
    shown = np.bincount(paths.touches[converting], minlength=len(paths.channels)) > 0
    for conversions, value in point.values():
        shown |= (conversions > 0) | (value > 0)
    by_name = {paths.channels[i]: i for i in np.flatnonzero(shown).tolist()}
    return [by_name[name] for name in channel_order(list(by_name))]


def _channel_credit(
    model: ModelName,
    channels: tuple[str, ...],
    listed: list[int],
    point: CreditPair,
    interval: tuple[CreditPair, CreditPair] | None,
) -> ChannelCredit:
    pick = np.asarray(listed, dtype=np.int64)
    names = tuple(channels[i] for i in listed)
    if interval is None:
        return ChannelCredit(
            model=model, channels=names, conversions=point[0][pick], value=point[1][pick]
        )
    (conversions_low, conversions_high), (value_low, value_high) = interval
    return ChannelCredit(
        model=model,
        channels=names,
        conversions=point[0][pick],
        value=point[1][pick],
        conversions_low=conversions_low[pick],
        conversions_high=conversions_high[pick],
        value_low=value_low[pick],
        value_high=value_high[pick],
    )

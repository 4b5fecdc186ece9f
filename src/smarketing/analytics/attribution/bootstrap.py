"""Bootstrap confidence intervals by resampling journeys, vectorised over the distinct paths.

Poisson bootstrap: in each replicate every journey is drawn Poisson(1) times, independently.
For a path followed by n converting journeys that makes its resampled count Poisson(n), so a
replicate is one Poisson draw per (path, outcome) cell: O(distinct paths), not O(journeys).
It approximates the classic multinomial bootstrap (the total varies by about sqrt(N), which is
negligible at the sizes where intervals matter) and is the usual choice for large data.

Value follows the conversions of its path: a path's resampled value is its value times
(resampled conversions / conversions), i.e. journeys of one path are taken to carry that path's
mean value. Intervals are percentile intervals of the replicates; the point estimate is always
the full-data credit. Replicates are seeded: the same seed gives the same intervals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from smarketing.analytics.attribution.arrays import FloatArray
from smarketing.analytics.attribution.paths import JourneyPaths
from smarketing.errors import UsageError

DEFAULT_REPLICATES = 200


@dataclass(frozen=True, kw_only=True, slots=True)
class PathCounts:
    """Journey counts per path: the data, or one bootstrap replicate of it."""

    conversions: FloatArray
    value: FloatArray
    nulls: FloatArray

    @classmethod
    def of(cls, paths: JourneyPaths) -> PathCounts:
        return cls(conversions=paths.conversions, value=paths.value, nulls=paths.nulls)


def check_interval(ci: float, replicates: int) -> None:
    if not 0.0 < ci < 1.0:
        raise UsageError(f"--ci must be between 0 and 1 (e.g. 0.95), got {ci}")
    if replicates < 2:
        raise UsageError(f"bootstrap needs at least 2 replicates, got {replicates}")


def poisson_replicates(
    counts: PathCounts, *, replicates: int, seed: int, resample_nulls: bool
) -> Iterator[PathCounts]:
    """Resampled counts, one replicate at a time; nulls stay as they are unless asked."""
    rng = np.random.default_rng(seed)
    converting = np.flatnonzero(counts.conversions > 0)
    with_nulls = np.flatnonzero(counts.nulls > 0)
    base_conversions = counts.conversions[converting]
    value_per_conversion = counts.value[converting] / base_conversions
    for _ in range(replicates):
        conversions = np.zeros_like(counts.conversions)
        drawn = rng.poisson(base_conversions).astype(np.float64)
        conversions[converting] = drawn
        value = np.zeros_like(counts.value)
        value[converting] = drawn * value_per_conversion
        if resample_nulls:
            nulls = np.zeros_like(counts.nulls)
            nulls[with_nulls] = rng.poisson(counts.nulls[with_nulls])
        else:
            nulls = counts.nulls
        yield PathCounts(conversions=conversions, value=value, nulls=nulls)


def percentile_interval(samples: FloatArray, ci: float) -> tuple[FloatArray, FloatArray]:
    """Lower and upper percentile bounds over replicates (axis 0)."""
    tail = (1.0 - ci) / 2.0
    low, high = np.quantile(samples, [tail, 1.0 - tail], axis=0)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)

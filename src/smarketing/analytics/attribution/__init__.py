"""Multi-touch attribution from journey paths: rule-based, Markov and Shapley, in numpy.

    from smarketing.analytics.attribution import attribute
    result = attribute("paths.parquet", models=["linear", "markov"], ci=0.95)
    result.to_arrow()  # model, channel, conversions, value (+ _low/_high with ci)

Input: a CSV or Parquet file, a pyarrow Table or a pandas DataFrame with one row per journey
or per distinct path (channelattribution's layout: `path`, `total_conversions`,
`total_conversion_value`, `total_null`). Without a null column, a row without conversions is
one journey that did not convert.

Invariants, for every model (proved by Hypothesis tests):

- credits are non-negative;
- credits sum to the total conversions, and to the total value, of the journeys that have at
  least one touch. Journeys without any touch are dropped and counted in `result.totals`.

Model definitions are in the module docstrings of `heuristics`, `markov` and `shapley`, and in
docs/attribution.md.
"""

from smarketing.analytics.attribution.bootstrap import DEFAULT_REPLICATES
from smarketing.analytics.attribution.models import (
    MODEL_NAMES,
    RULE_BASED_MODELS,
    AttributionSettings,
    ModelName,
    parse_weights,
    resolve_models,
)
from smarketing.analytics.attribution.paths import JourneyPaths, JourneyTotals, LoadedJourneys
from smarketing.analytics.attribution.pipeline import (
    attribute,
    attribute_journeys,
    load_journeys,
)
from smarketing.analytics.attribution.result import AttributionResult, ChannelCredit
from smarketing.analytics.attribution.table import JourneyColumns

__all__ = [
    "DEFAULT_REPLICATES",
    "MODEL_NAMES",
    "RULE_BASED_MODELS",
    "AttributionResult",
    "AttributionSettings",
    "ChannelCredit",
    "JourneyColumns",
    "JourneyPaths",
    "JourneyTotals",
    "LoadedJourneys",
    "ModelName",
    "attribute",
    "attribute_journeys",
    "load_journeys",
    "parse_weights",
    "resolve_models",
]

"""Every model's credit per conversion kind, dimension and token, from `report_paths`.

The rule-based models and Shapley split each converting path's conversion and value over its
touches with the shares of `heuristics.touch_shares` and `shapley.shapley_touch_shares`, the
functions `attribute_journeys` uses. Markov (order 1, repeats collapsed) counts the steps of
the chain: the recent touches of every journey as if none converted, counted once per
dimension and shared by the kinds; per kind, the journeys that converted are taken back out
and their converting paths added. Credits therefore equal those of `attribute_journeys` over
`touch_paths` (up to the order of floating-point sums), which a test checks on the demo. The
chain itself is `report_chain`.

Bootstrap (with a confidence level): journeys fall into `groups` random groups (a
multiplicative hash of the journey id); each of `replicates` seeded replicates draws `groups`
groups with replacement (multinomial counts) and recomputes every model from the per-group
credits and chain counts, Markov's solve included. With 100 groups of thousands of journeys
each this is the random-groups bootstrap of survey statistics, close to resampling journeys one
by one, and O(tokens x groups) per replicate. The point credits are computed with one group,
so they are the same with or without intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from smarketing.analytics.attribution.arrays import (
    BoolArray,
    ChannelIdArray,
    CreditPair,
    FloatArray,
    IntArray,
    grouped_count,
)
from smarketing.analytics.attribution.heuristics import touch_shares
from smarketing.analytics.attribution.journeys import DIMENSIONS, Dimension
from smarketing.analytics.attribution.markov import ChainCounts
from smarketing.analytics.attribution.models import AttributionSettings, ModelName
from smarketing.analytics.attribution.paths import ABSENT_STAGE, JourneyPaths
from smarketing.analytics.attribution.report_chain import Chain
from smarketing.analytics.attribution.report_paths import ConvertingPaths, SortedPaths, TokenNames
from smarketing.analytics.attribution.shapley import shapley_touch_shares

HASH_MULTIPLIER = 2654435761  # Knuth's multiplicative hash
HASH_MODULUS = 1 << 32
TOKEN_MODELS: tuple[ModelName, ...] = ("last_non_direct", "shapley")
"""Models whose shares depend on the tokens (the others only on the path's shape and times)."""


def journey_groups(journey: IntArray, groups: int) -> IntArray:
    """Each journey's bootstrap group, 0 .. groups - 1 (0 for all when groups = 1)."""
    if groups <= 1:
        return np.zeros(journey.size, dtype=np.int64)
    mixed = (journey.astype(np.uint64) * np.uint64(HASH_MULTIPLIER)) % np.uint64(HASH_MODULUS)
    return ((mixed * np.uint64(groups)) >> np.uint64(32)).astype(np.int64)


@dataclass(frozen=True, slots=True)
class KindPaths:
    """The converting paths of one kind (a range of `ConvertingPaths`), as the models read
    them; tokens come per dimension (`with_tokens`)."""

    paths: JourneyPaths
    first_path: int
    touches: slice
    """The kind's touches among all converting touches."""
    journey: IntArray
    group: IntArray
    """Per path: its bootstrap group."""
    path_of_touch: IntArray

    @classmethod
    def of(cls, converting: ConvertingPaths, kind: int, groups: int, won: bool) -> KindPaths:
        first, last = int(converting.kind_bounds[kind]), int(converting.kind_bounds[kind + 1])
        offsets = converting.paths.offsets[first : last + 1]
        touches = slice(int(offsets[0]), int(offsets[-1]))
        lengths = np.diff(offsets)
        journey = converting.paths.journey[first:last]
        paths = JourneyPaths(
            channels=(),
            offsets=offsets - offsets[0],
            touches=np.zeros(touches.stop - touches.start, dtype=np.int32),
            conversions=np.ones(lengths.size),
            value=converting.value[first:last],
            nulls=np.zeros(lengths.size),
            touch_days=converting.touch_days[touches],
            lead_index=converting.lead_index[first:last],
            opportunity_index=converting.opportunity_index[first:last],
            won_index=np.where(won, lengths - 1, ABSENT_STAGE).astype(np.int64),
        )
        return cls(
            paths=paths,
            first_path=first,
            touches=touches,
            journey=journey,
            group=journey_groups(journey, groups),
            path_of_touch=np.repeat(np.arange(lengths.size, dtype=np.int64), lengths),
        )

    def with_tokens(self, names: Sequence[str], tokens: ChannelIdArray) -> JourneyPaths:
        return replace(self.paths, channels=tuple(names), touches=tokens)

    def mask(self, n_paths: int) -> BoolArray:
        """This kind's paths among all `n_paths` converting paths."""
        keep = np.zeros(n_paths, dtype=np.bool_)
        keep[self.first_path : self.first_path + self.paths.n_paths] = True
        return keep

    def converted(self, recent_journeys: IntArray) -> BoolArray:
        """Which recent paths (one per journey, sorted by journey) converted in this kind."""
        found = np.zeros(recent_journeys.size, dtype=np.bool_)
        at = np.searchsorted(recent_journeys, self.journey)
        inside = at < recent_journeys.size
        hit = at[inside][recent_journeys[at[inside]] == self.journey[inside]]
        found[hit] = True
        return found


def rule_credits(
    kind: KindPaths,
    names: Sequence[str],
    tokens: ChannelIdArray,
    models: Sequence[ModelName],
    settings: AttributionSettings,
    shape_shares: dict[ModelName, FloatArray],
    n_groups: int,
) -> dict[ModelName, CreditPair]:
    """Per group and token, the credit of every rule-based model and Shapley.
    `shape_shares`: shares of the models that do not depend on tokens (the same for every
    dimension of a kind)."""
    paths = kind.with_tokens(names, tokens)
    path = kind.path_of_touch
    cell = kind.group[path] * len(names) + tokens
    value = paths.value[path]
    out: dict[ModelName, CreditPair] = {}
    for model in models:
        if model == "markov":
            continue
        if model == "shapley":
            shares = shapley_touch_shares(paths)
        elif model in TOKEN_MODELS:
            shares = touch_shares(paths, model, settings)
        else:
            shares = shape_shares[model]
        out[model] = (
            grouped_count(cell, shares, n_groups, len(names)),
            grouped_count(cell, shares * value, n_groups, len(names)),
        )
    return out


@dataclass(frozen=True, slots=True)
class KindCredit:
    """One kind and dimension: per model the credit per group and token (Markov as chain
    counts per group, solved per replicate)."""

    rules: dict[ModelName, CreditPair]
    chain: Chain
    counts: ChainCounts
    n_tokens: int

    def credit(self, model: ModelName, weights: FloatArray) -> CreditPair:
        """Credit per token for each row of `weights` (one weight per group)."""
        if model == "markov":
            return self.chain.credit(self.counts, weights, self.n_tokens)
        conversions, value = self.rules[model]
        return weights @ conversions, weights @ value


def grouped_credits(
    recent: SortedPaths,
    converting: ConvertingPaths,
    names: dict[Dimension, TokenNames],
    *,
    kinds: Sequence[str],
    models: Sequence[ModelName],
    settings: AttributionSettings,
    groups: int,
) -> dict[tuple[str, Dimension], KindCredit]:
    """Every kind and dimension's credits, with journeys in `groups` bootstrap groups."""
    recent_group = journey_groups(recent.journey, groups)
    per_kind = [
        KindPaths.of(converting, k, groups, won=kind == "won") for k, kind in enumerate(kinds)
    ]
    taken_back = [kind.converted(recent.journey) for kind in per_kind]
    shape_shares: list[dict[ModelName, FloatArray]] = [
        {
            model: touch_shares(kind.paths, model, settings)
            for model in models
            if model not in TOKEN_MODELS and model != "markov"
        }
        for kind in per_kind
    ]

    def dimension(dim: Dimension) -> dict[tuple[str, Dimension], KindCredit]:
        tokens = converting.paths.tokens[dim]
        n_tokens = len(names[dim].names)
        chain = Chain.of(
            recent,
            converting.paths,
            (recent.tokens[dim], tokens),
            n_tokens,
            recent_group,
            groups,
        )
        out: dict[tuple[str, Dimension], KindCredit] = {}
        for k, kind in enumerate(per_kind):
            rules = rule_credits(
                kind,
                names[dim].names,
                tokens[kind.touches],
                models,
                settings,
                shape_shares[k],
                groups,
            )
            counts = chain.kind_counts(
                taken_back[k],
                recent_group,
                kind.mask(converting.paths.n_paths),
                kind.group,
                kind.paths.value,
                groups,
            )
            out[(kinds[k], dim)] = KindCredit(
                rules=rules, chain=chain, counts=counts, n_tokens=n_tokens
            )
        return out

    # numpy releases the interpreter lock in most of this: two dimensions at a time
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(dimension, DIMENSIONS))
    return {key: credit for part in parts for key, credit in part.items()}

"""Every model's credit per conversion kind, dimension and token, from `report_paths`.

The rule-based models and Shapley split each converting path's conversion and value over its
touches with the shares of `heuristics.touch_shares` and `shapley.shapley_touch_shares`, the
functions `attribute_journeys` uses. Markov (order 1, repeats collapsed) counts the steps of
the chain: the recent touches of every journey as if none converted, counted once per
dimension and shared by the kinds; per kind, the journeys that converted are taken back out
and their converting paths added. Credits therefore equal those of `attribute_journeys` over
`touch_paths` (up to the order of floating-point sums), which a test checks on the demo.

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
from dataclasses import dataclass, replace

import numpy as np

from smarketing.analytics.attribution.arrays import (
    BoolArray,
    ChannelIdArray,
    FloatArray,
    IntArray,
)
from smarketing.analytics.attribution.heuristics import touch_shares
from smarketing.analytics.attribution.journeys import DIMENSIONS, Dimension
from smarketing.analytics.attribution.markov import ChainCounts, effects_of_counts, markov_credit
from smarketing.analytics.attribution.models import AttributionSettings, ModelName
from smarketing.analytics.attribution.paths import ABSENT_STAGE, JourneyPaths
from smarketing.analytics.attribution.report_paths import ConvertingPaths, SortedPaths, TokenNames
from smarketing.analytics.attribution.shapley import shapley_touch_shares

HASH_MULTIPLIER = 2654435761  # Knuth's multiplicative hash
HASH_MODULUS = 1 << 32
DENSE_EDGE_LIMIT = 1 << 24
TOKEN_MODELS: tuple[ModelName, ...] = ("last_non_direct", "shapley")
"""Models whose shares depend on the tokens (the others only on the path's shape and times)."""
Credit = tuple[FloatArray, FloatArray]
"""Conversions and value, [replicates or groups, tokens]."""


def journey_groups(journey: IntArray, groups: int) -> IntArray:
    """Each journey's bootstrap group, 0 .. groups - 1 (0 for all when groups = 1)."""
    if groups <= 1:
        return np.zeros(journey.size, dtype=np.int64)
    mixed = (journey.astype(np.uint64) * np.uint64(HASH_MULTIPLIER)) % np.uint64(HASH_MODULUS)
    return ((mixed * np.uint64(groups)) >> np.uint64(32)).astype(np.int64)


def _add(index: IntArray, weights: FloatArray | None, rows: int, columns: int) -> FloatArray:
    out = np.bincount(index, weights=weights, minlength=rows * columns)
    return np.asarray(out, dtype=np.float64).reshape(rows, columns)


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
) -> dict[ModelName, Credit]:
    """Per group and token, the credit of every rule-based model and Shapley.
    `shape_shares`: shares of the models that do not depend on tokens, cached per kind."""
    paths = kind.with_tokens(names, tokens)
    path = kind.path_of_touch
    cell = kind.group[path] * len(names) + tokens
    value = paths.value[path]
    out: dict[ModelName, Credit] = {}
    for model in models:
        if model == "markov":
            continue
        if model == "shapley":
            shares = shapley_touch_shares(paths)
        elif model in TOKEN_MODELS:
            shares = touch_shares(paths, model, settings)
        else:
            if model not in shape_shares:
                shape_shares[model] = touch_shares(paths, model, settings)
            shares = shape_shares[model]
        out[model] = (
            _add(cell, shares, n_groups, len(names)),
            _add(cell, shares * value, n_groups, len(names)),
        )
    return out


@dataclass(frozen=True, slots=True)
class ChainSteps:
    """Order-1 Markov steps of paths, repeats collapsed. States are compact token ids + 1
    (state 0 is the start)."""

    code: IntArray
    """Per step (the first touch of each run of one token): its edge, from * n_states + to."""
    step_offsets: IntArray
    """Path i's steps are step_offsets[i] .. step_offsets[i + 1]."""
    last: IntArray
    """Per path: the state it ends in."""

    @classmethod
    def of(cls, paths: SortedPaths, state: ChannelIdArray, n_states: int) -> ChainSteps:
        keep = paths.is_start.copy()
        keep[1:] |= state[1:] != state[:-1]
        kept = np.flatnonzero(keep)
        step_starts = np.flatnonzero(paths.is_start[kept])
        previous = state[kept - 1].astype(np.int64)
        previous[step_starts] = 0
        return cls(
            code=previous * n_states + state[kept],
            step_offsets=np.append(step_starts, kept.size).astype(np.int64),
            last=state[paths.offsets[1:] - 1].astype(np.int64),
        )

    def path_of_step(self) -> IntArray:
        counts = np.diff(self.step_offsets)
        return np.repeat(np.arange(counts.size, dtype=np.int64), counts)

    def only(self, keep: BoolArray) -> ChainSteps:
        """The steps of the paths where `keep` is true (paths renumbered in order)."""
        first, last = self.step_offsets[:-1][keep], self.step_offsets[1:][keep]
        offsets = np.zeros(first.size + 1, dtype=np.int64)
        np.cumsum(last - first, out=offsets[1:])
        mine = replace(self, step_offsets=offsets)
        path = mine.path_of_step()
        steps = first[path] + np.arange(offsets[-1], dtype=np.int64) - offsets[:-1][path]
        return ChainSteps(code=self.code[steps], step_offsets=offsets, last=self.last[keep])


@dataclass(frozen=True, slots=True)
class Chain:
    """One dimension's chain: compact states, the edges seen, the steps of the recent and of
    the converting paths, and the recent journeys' counts per group as if none converted."""

    token_of_state: IntArray
    """State s >= 1 is token token_of_state[s] (entry 0 unused)."""
    edge_codes: IntArray
    """Sorted distinct edge codes; an edge's index is its rank here."""
    edge_lookup: ChannelIdArray | None
    """Edge code -> edge index, when n_states ** 2 <= DENSE_EDGE_LIMIT."""
    recent: ChainSteps
    converting: ChainSteps
    base: ChainCounts

    @property
    def n_states(self) -> int:
        return int(self.token_of_state.size)

    @classmethod
    def of(
        cls,
        recent: SortedPaths,
        converting: SortedPaths,
        tokens: tuple[ChannelIdArray, ChannelIdArray],
        n_tokens: int,
        recent_group: IntArray,
        groups: int,
    ) -> Chain:
        """`tokens`: the recent and the converting touches' tokens of this dimension."""
        seen = np.zeros(n_tokens, dtype=np.bool_)
        for touches in tokens:
            seen[touches] = True
        token_of_state = np.concatenate([[0], np.flatnonzero(seen)]).astype(np.int64)
        state_of_token = np.cumsum(seen, dtype=np.int32)
        n = token_of_state.size
        recent_steps = ChainSteps.of(recent, state_of_token[tokens[0]], n)
        converting_steps = ChainSteps.of(converting, state_of_token[tokens[1]], n)
        lookup: ChannelIdArray | None = None
        if n * n <= DENSE_EDGE_LIMIT:
            seen_edges = np.bincount(recent_steps.code, minlength=n * n) > 0
            seen_edges[converting_steps.code] = True
            edge_codes = np.flatnonzero(seen_edges).astype(np.int64)
            lookup = np.zeros(n * n, dtype=np.int32)
            lookup[edge_codes] = np.arange(edge_codes.size, dtype=np.int32)
        else:
            edge_codes = np.union1d(recent_steps.code, converting_steps.code).astype(np.int64)
        chain = cls(
            token_of_state=token_of_state,
            edge_codes=edge_codes,
            edge_lookup=lookup,
            recent=recent_steps,
            converting=converting_steps,
            base=_no_counts(),
        )
        return replace(chain, base=chain.recent_counts(recent_group, groups))

    def bins(self, steps: ChainSteps, group: IntArray, groups: int) -> tuple[IntArray, IntArray]:
        """Per step its (group, edge) bin, per path its (group, end state) bin; `group` is
        per path."""
        if self.edge_lookup is not None:
            edge = self.edge_lookup[steps.code].astype(np.int64)
        else:
            edge = np.searchsorted(self.edge_codes, steps.code).astype(np.int64)
        if groups == 1:
            return edge, steps.last
        edge += group[steps.path_of_step()] * self.edge_codes.size
        return edge, group * self.n_states + steps.last

    def recent_counts(self, group: IntArray, groups: int) -> ChainCounts:
        """The recent journeys' counts per group, as if none converted."""
        n_edges, n_states = self.edge_codes.size, self.n_states
        if groups == 1 and self.edge_lookup is not None:  # count by code, then pick the edges
            per_code = np.bincount(self.recent.code, minlength=n_states * n_states)
            edge_counts = _as_floats(per_code[self.edge_codes].reshape(1, -1))
            end_bin = self.recent.last
        else:
            edge_bin, end_bin = self.bins(self.recent, group, groups)
            edge_counts = _add(edge_bin, None, groups, n_edges)
        ended = _add(end_bin, None, groups, n_states)
        return ChainCounts(
            edge_counts=edge_counts,
            converted=np.zeros_like(ended),
            converted_value=np.zeros_like(ended),
            ended=ended,
        )

    def kind_counts(
        self,
        taken_back: BoolArray,
        recent_group: IntArray,
        kind_paths: BoolArray,
        kind: KindPaths,
        groups: int,
    ) -> ChainCounts:
        """A kind's counts per group: the recent journeys, minus the recent paths of those
        that converted (`taken_back`), plus the kind's converting paths (`kind_paths`)."""
        back_edges, back_ends = self.bins(
            self.recent.only(taken_back), recent_group[taken_back], groups
        )
        added_edges, added_ends = self.bins(self.converting.only(kind_paths), kind.group, groups)
        n_edges, n_states = self.edge_codes.size, self.n_states
        edge_counts = self.base.edge_counts + _add(
            np.concatenate([back_edges, added_edges]),
            np.concatenate([np.full(back_edges.size, -1.0), np.ones(added_edges.size)]),
            groups,
            n_edges,
        )
        ended = self.base.ended + _add(
            np.concatenate([back_ends, added_ends]),
            np.concatenate([np.full(back_ends.size, -1.0), np.ones(added_ends.size)]),
            groups,
            n_states,
        )
        return ChainCounts(
            edge_counts=edge_counts,
            converted=_add(added_ends, None, groups, n_states),
            converted_value=_add(added_ends, kind.paths.value, groups, n_states),
            ended=ended,
        )

    def credit(self, counts: ChainCounts, weights: FloatArray, n_tokens: int) -> Credit:
        """Credit per token for each row of `weights` (one weight per group)."""
        n = self.n_states
        removed = tuple(np.array([s], dtype=np.int64) for s in range(1, n))
        out_conv = np.zeros((weights.shape[0], n_tokens))
        out_value = np.zeros((weights.shape[0], n_tokens))
        for row, w in enumerate(weights):
            weighted = ChainCounts(
                edge_counts=w @ counts.edge_counts,
                converted=w @ counts.converted,
                converted_value=w @ counts.converted_value,
                ended=w @ counts.ended,
            )
            effects = effects_of_counts(
                self.edge_codes // n, self.edge_codes % n, removed, weighted
            )
            conversions, value = markov_credit(
                effects,
                total_conversions=float(weighted.converted.sum()),
                total_value=float(weighted.converted_value.sum()),
            )
            out_conv[row, self.token_of_state[1:]] = conversions
            out_value[row, self.token_of_state[1:]] = value
        return out_conv, out_value


def _as_floats(counts: IntArray) -> FloatArray:
    return np.asarray(counts, dtype=np.float64)


def _no_counts() -> ChainCounts:
    empty = np.zeros((0, 0))
    return ChainCounts(edge_counts=empty, converted=empty, converted_value=empty, ended=empty)


@dataclass(frozen=True, slots=True)
class KindCredit:
    """One kind and dimension: per model the credit per group and token (Markov as chain
    counts per group, solved per replicate)."""

    rules: dict[ModelName, Credit]
    chain: Chain
    counts: ChainCounts
    n_tokens: int

    def credit(self, model: ModelName, weights: FloatArray) -> Credit:
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
    shape_shares: list[dict[ModelName, FloatArray]] = [{} for _ in kinds]
    out: dict[tuple[str, Dimension], KindCredit] = {}
    for dim in DIMENSIONS:
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
                taken_back[k], recent_group, kind.mask(converting.paths.n_paths), kind, groups
            )
            out[(kinds[k], dim)] = KindCredit(
                rules=rules, chain=chain, counts=counts, n_tokens=n_tokens
            )
    return out

"""Markov's chain for the attribution report: order-1 steps of sorted paths, counted per group.

States are the tokens seen in the period's paths (compacted) plus the start. The recent
journeys' steps (every journey in the lookback window before the end, as if none converted)
are counted once per dimension; a kind's counts take its converting journeys' recent paths
back out and add their converting paths (`Chain.kind_counts`), so the chain equals the one
`markov.build_chain` builds over the kind's converting and non-converting paths. Counts are
integers summed as floats, exact in any order; a removal-effect solve per replicate reads them
weighted per bootstrap group (`Chain.credit`).
"""

from __future__ import annotations

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
from smarketing.analytics.attribution.markov import (
    MAX_STATES,
    ChainCounts,
    effects_of_counts,
    markov_credit,
)
from smarketing.analytics.attribution.report_paths import SortedPaths
from smarketing.errors import UsageError

DENSE_EDGE_LIMIT = 1 << 24
"""Edges are counted through a dense code -> edge table up to this many possible codes."""


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
        code = np.empty_like(state)  # the previous touch's state, then the step's code
        code[1:] = state[:-1]
        keep = code != state
        keep |= paths.is_start
        code[paths.is_start] = 0
        code *= n_states  # fits in int32: n_states <= MAX_STATES
        code += state
        kept = np.flatnonzero(keep)
        step_starts = np.flatnonzero(paths.is_start[kept])
        return cls(
            code=code[kept].astype(np.int64),
            step_offsets=np.append(step_starts, kept.size).astype(np.int64),
            last=state[paths.offsets[1:] - 1].astype(np.int64),
        )

    def path_of_step(self) -> IntArray:
        counts = np.diff(self.step_offsets)
        return np.repeat(np.arange(counts.size, dtype=np.int64), counts)

    def only(self, keep: BoolArray) -> ChainSteps:
        """The steps of the paths where `keep` is true (paths renumbered in order)."""
        first, last = self.step_offsets[:-1][keep], self.step_offsets[1:][keep]
        counts = last - first
        offsets = np.zeros(first.size + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        path = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
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
        if token_of_state.size > MAX_STATES:
            raise UsageError(
                f"the Markov chain of the attribution report has {token_of_state.size} states "
                f"(one per token seen in the period), more than the exact solver handles "
                f"({MAX_STATES})",
                hint="report a shorter period, or group campaigns and content in the playbook",
            )
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
            edge_counts = grouped_count(edge_bin, None, groups, n_edges)
        ended = grouped_count(end_bin, None, groups, n_states)
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
        kind_group: IntArray,
        kind_value: FloatArray,
        groups: int,
    ) -> ChainCounts:
        """A kind's counts per group: the recent journeys, minus the recent paths of those
        that converted (`taken_back`), plus the kind's converting paths (`kind_paths`, with
        their groups and values)."""
        back_edges, back_ends = self.bins(
            self.recent.only(taken_back), recent_group[taken_back], groups
        )
        added_edges, added_ends = self.bins(self.converting.only(kind_paths), kind_group, groups)
        n_edges, n_states = self.edge_codes.size, self.n_states
        edge_counts = self.base.edge_counts + grouped_count(
            np.concatenate([back_edges, added_edges]),
            np.concatenate([np.full(back_edges.size, -1.0), np.ones(added_edges.size)]),
            groups,
            n_edges,
        )
        ended = self.base.ended + grouped_count(
            np.concatenate([back_ends, added_ends]),
            np.concatenate([np.full(back_ends.size, -1.0), np.ones(added_ends.size)]),
            groups,
            n_states,
        )
        return ChainCounts(
            edge_counts=edge_counts,
            converted=grouped_count(added_ends, None, groups, n_states),
            converted_value=grouped_count(added_ends, kind_value, groups, n_states),
            ended=ended,
        )

    def credit(self, counts: ChainCounts, weights: FloatArray, n_tokens: int) -> CreditPair:
        """Credit per token for each row of `weights` (one weight per group)."""
        n = self.n_states
        removed = tuple(np.array([s], dtype=np.int64) for s in range(1, n))
        out_conv = np.zeros((weights.shape[0], n_tokens))
        out_value = np.zeros((weights.shape[0], n_tokens))
        # every replicate's counts in one product per table (integer counts and weights:
        # exact, so the same as one row at a time)
        edge_counts, converted = weights @ counts.edge_counts, weights @ counts.converted
        converted_value, ended = weights @ counts.converted_value, weights @ counts.ended
        edge_from, edge_to = self.edge_codes // n, self.edge_codes % n
        for row in range(weights.shape[0]):
            weighted = ChainCounts(
                edge_counts=edge_counts[row],
                converted=converted[row],
                converted_value=converted_value[row],
                ended=ended[row],
            )
            effects = effects_of_counts(edge_from, edge_to, removed, weighted)
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

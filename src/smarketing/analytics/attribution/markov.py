"""Markov-chain attribution with removal effects computed exactly from the absorbing chain.

States: `(start)`, one state per observed k-gram of channels (k = order, 1 to 3), and the
absorbing `(conversion)` and `(null)`. Each journey walks start -> its k-grams in order ->
conversion or null; transition probabilities are the observed transition counts normalised
per state. With `collapse_repeats` (default) consecutive repeats of a channel are merged first
(`A > A > B` is `A > B`). A path shorter than k is one state holding its whole sequence.

With Q the transient-to-transient probabilities, r the one-step conversion probabilities and
N = (I - Q)^-1 the fundamental matrix, the conversion probability from the start is
h[start] with h = N r. Removing channel c sends every state that contains c to null: with R the
set of those states, the constrained solution is x = h - N[:, R] N[R, R]^-1 h[R], exact and
obtained from the one N for all channels. The removal effect is
RE_c = 1 - x[start] / h[start], and

    conversions credited to c = total conversions * RE_c / sum over channels of RE.

Value uses the same chain with the value absorbed on conversion: r_value[s] = (value of the
conversions whose last state is s) / (journeys leaving s); value credit is total value times
the value removal effect share (channelattribution's definition; equal to the conversion share
when every conversion has the same value).

Invariant: credits are non-negative and sum to the total conversions and value of the
journeys with at least one touch (whenever any journey converts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from smarketing.analytics.attribution.arrays import (
    ChannelIdArray,
    FloatArray,
    IntArray,
    weighted_count,
)
from smarketing.analytics.attribution.paths import JourneyPaths
from smarketing.errors import UsageError

DENSE_LOOKUP_LIMIT = 1 << 24
DENSE_EDGE_LIMIT = 1 << 16
MAX_STATES = 6000


@dataclass(frozen=True, kw_only=True, slots=True)
class MarkovChain:
    """The chain's structure; transition counts are added per (re)sampling of the journeys."""

    n_states: int
    """Transient states including start (state 0)."""
    edge_from: IntArray
    edge_to: IntArray
    edge_of_step: IntArray
    """Per step of every path, path after path (start -> first state included): its edge."""
    steps_per_path: IntArray
    last_state: IntArray
    """Per path: its last state (where it converts or ends)."""
    removed_states: tuple[IntArray, ...]
    """Per channel: the states that contain it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RemovalEffects:
    conversions: FloatArray
    value: FloatArray


def build_chain(paths: JourneyPaths, *, order: int, collapse_repeats: bool) -> MarkovChain:
    """States and per-step edges of the journeys' paths (counts come later, per sample)."""
    touches, lengths = paths.touches, paths.lengths
    if collapse_repeats and touches.size:
        touches, lengths = _without_repeats(touches, lengths, paths.offsets[:-1])
    n_channels = len(paths.channels)
    base = n_channels + 1
    if base**order >= 2**62:
        raise UsageError(f"too many channels ({n_channels}) for an order-{order} Markov chain")
    if order == 1:
        state_of_step = touches.astype(np.int64) + 1
        codes = np.arange(1, base, dtype=np.int64)
        steps_per_path = lengths
    else:
        state_codes, steps_per_path = _kgram_codes(touches, lengths, order, base)
        state_of_step, codes = _compact(state_codes, offset=1)
    n_states = codes.size + 1
    if n_states > MAX_STATES:
        raise UsageError(
            f"the order-{order} Markov chain has {n_states} states, more than the exact solver "
            f"handles ({MAX_STATES})",
            hint="use a lower --order",
        )
    first_step = np.zeros(steps_per_path.size + 1, dtype=np.int64)
    np.cumsum(steps_per_path, out=first_step[1:])
    edge_codes = np.empty_like(state_of_step)
    if state_of_step.size:
        np.multiply(state_of_step[:-1], n_states, out=edge_codes[1:])
        edge_codes[first_step[:-1]] = 0
        edge_codes += state_of_step
    if n_states * n_states <= DENSE_EDGE_LIMIT:
        edge_of_step, edges = edge_codes, np.arange(n_states * n_states, dtype=np.int64)
    else:
        edge_of_step, edges = _compact(edge_codes, offset=0)
    return MarkovChain(
        n_states=n_states,
        edge_from=edges // n_states,
        edge_to=edges % n_states,
        edge_of_step=edge_of_step,
        steps_per_path=steps_per_path,
        last_state=state_of_step[first_step[1:] - 1] if state_of_step.size else state_of_step,
        removed_states=_states_by_channel(codes, base, order, n_channels),
    )


def _without_repeats(
    touches: ChannelIdArray, lengths: IntArray, starts: IntArray
) -> tuple[ChannelIdArray, IntArray]:
    """Drop touches that repeat the previous touch's channel within the same path."""
    is_repeat = np.zeros(touches.size, dtype=np.bool_)
    np.equal(touches[1:], touches[:-1], out=is_repeat[1:])
    is_repeat[starts] = False
    if not is_repeat.any():
        return touches, lengths
    repeats = np.add.reduceat(is_repeat.astype(np.int64), starts)
    return touches[~is_repeat], lengths - repeats


def _kgram_codes(
    touches: ChannelIdArray, lengths: IntArray, order: int, base: int
) -> tuple[IntArray, IntArray]:
    """One integer per state occurrence: the k-gram's channel ids + 1 as base-B digits."""
    steps_per_path = np.maximum(lengths - order + 1, 1)
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    path = np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)
    position = np.arange(touches.size, dtype=np.int64) - offsets[:-1][path]
    first = np.flatnonzero(position < steps_per_path[path])
    remaining = lengths[path[first]] - position[first]
    codes = np.zeros(first.size, dtype=np.int64)
    padded = np.concatenate([touches.astype(np.int64) + 1, np.zeros(order, dtype=np.int64)])
    for j in range(order):
        codes = codes * base + np.where(j < remaining, padded[first + j], 0)
    return codes, steps_per_path


def _compact(codes: IntArray, *, offset: int) -> tuple[IntArray, IntArray]:
    """Dense ids (starting at `offset`) for integer codes, and the code of each id."""
    if codes.size == 0:
        return codes.copy(), codes.copy()
    top = int(codes.max()) + 1
    if top <= DENSE_LOOKUP_LIMIT:
        seen = np.zeros(top, dtype=np.bool_)
        seen[codes] = True
        distinct = np.flatnonzero(seen)
        lookup = np.zeros(top, dtype=np.int64)
        lookup[distinct] = np.arange(distinct.size, dtype=np.int64) + offset
        return lookup[codes], distinct.astype(np.int64)
    distinct, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64) + offset, distinct.astype(np.int64)


def _states_by_channel(
    codes: IntArray, base: int, order: int, n_channels: int
) -> tuple[IntArray, ...]:
    contains = np.zeros((n_channels, codes.size + 1), dtype=np.bool_)
    remaining = codes.copy()
    state_ids = np.arange(1, codes.size + 1)
    for _ in range(order):
        digit = remaining % base
        remaining //= base
        present = digit > 0
        contains[digit[present] - 1, state_ids[present]] = True
    return tuple(np.flatnonzero(row) for row in contains)


def removal_effects(
    chain: MarkovChain, conversions: FloatArray, value: FloatArray, nulls: FloatArray
) -> RemovalEffects:
    """Removal effect of every channel, for conversions and for value, from path counts."""
    n = chain.n_states
    journeys = conversions + nulls
    counts = ChainCounts(
        edge_counts=weighted_count(
            chain.edge_of_step, np.repeat(journeys, chain.steps_per_path), chain.edge_from.size
        ),
        converted=weighted_count(chain.last_state, conversions, n),
        converted_value=weighted_count(chain.last_state, value * (conversions > 0), n),
        ended=weighted_count(chain.last_state, journeys, n),
    )
    return effects_of_counts(chain.edge_from, chain.edge_to, chain.removed_states, counts)


@dataclass(frozen=True, kw_only=True, slots=True)
class ChainCounts:
    """What the chain's probabilities are made of: journeys per edge, and per transient state
    the conversions (and their value) and journeys that end there."""

    edge_counts: FloatArray
    converted: FloatArray
    converted_value: FloatArray
    ended: FloatArray


def effects_of_counts(
    edge_from: IntArray,
    edge_to: IntArray,
    removed_states: tuple[IntArray, ...],
    counts: ChainCounts,
) -> RemovalEffects:
    """Removal effects from counts per edge and per state (state 0 is the start)."""
    n = counts.ended.size
    edge_counts, converted = counts.edge_counts, counts.converted
    converted_value, ended = counts.converted_value, counts.ended
    leaving = weighted_count(edge_from, edge_counts, n) + ended
    safe = np.where(leaving > 0, leaving, 1.0)
    transitions = np.zeros((n, n), dtype=np.float64)
    transitions[edge_from, edge_to] = edge_counts / safe[edge_from]
    rewards = np.stack([converted / safe, converted_value / safe], axis=1)
    fundamental: FloatArray = np.asarray(np.linalg.inv(np.eye(n) - transitions), dtype=np.float64)
    absorbed = fundamental @ rewards
    if removed_states and all(removed.size == 1 for removed in removed_states):
        effects = _single_state_effects(fundamental, absorbed, removed_states)
    else:
        effects = _effects(fundamental, absorbed, removed_states)
    effects = np.clip(effects, 0.0, 1.0)
    return RemovalEffects(conversions=effects[:, 0], value=effects[:, 1])


def _single_state_effects(
    fundamental: FloatArray, absorbed: FloatArray, removed_states: tuple[IntArray, ...]
) -> FloatArray:
    """Removal effects when each channel is one state (order 1): the block solve of
    `_effects` is a division by N[s, s]."""
    states = np.concatenate(removed_states)
    at_start = absorbed[0]
    scale = fundamental[0, states] / fundamental[states, states]
    correction: FloatArray = scale[:, None] * absorbed[states]
    effects: FloatArray = np.divide(
        correction, at_start, out=np.zeros_like(correction), where=at_start > 0
    )
    return effects


def _effects(
    fundamental: FloatArray, absorbed: FloatArray, removed_states: tuple[IntArray, ...]
) -> FloatArray:
    at_start = absorbed[0]
    effects = np.zeros((len(removed_states), 2), dtype=np.float64)
    for channel, removed in enumerate(removed_states):
        if removed.size == 0:
            continue
        block = fundamental[np.ix_(removed, removed)]
        correction = fundamental[0, removed] @ np.linalg.solve(block, absorbed[removed])
        lost = np.divide(correction, at_start, out=np.zeros(2), where=at_start > 0)
        effects[channel] = lost
    return effects


def markov_credit(
    effects: RemovalEffects, *, total_conversions: float, total_value: float
) -> tuple[FloatArray, FloatArray]:
    """Credits proportional to removal effects; value falls back to conversion effects."""
    conv_share = _shares(effects.conversions)
    value_share = _shares(effects.value)
    if value_share.sum() == 0.0:
        value_share = conv_share
    return total_conversions * conv_share, total_value * value_share


def _shares(effects: FloatArray) -> FloatArray:
    total = float(effects.sum())
    if total <= 0.0:
        return np.zeros_like(effects)
    shares: NDArray[np.float64] = effects / total
    return shares

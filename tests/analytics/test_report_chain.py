"""The attribution report's Markov chain refuses more states than the exact solver handles."""

from __future__ import annotations

import numpy as np
import pytest

from smarketing.analytics.attribution.markov import MAX_STATES
from smarketing.analytics.attribution.report_chain import Chain
from smarketing.analytics.attribution.report_paths import SortedPaths
from smarketing.errors import UsageError


def _paths(tokens: np.ndarray) -> SortedPaths:
    """One path per token."""
    n = tokens.size
    return SortedPaths(
        offsets=np.arange(n + 1, dtype=np.int64),
        journey=np.arange(n, dtype=np.int64),
        tokens={"channel": tokens, "campaign": tokens, "content": tokens, "team": tokens},
        is_start=np.ones(n, dtype=np.bool_),
    )


def test_too_many_tokens_for_the_solver_is_a_clear_error() -> None:
    tokens = np.arange(MAX_STATES, dtype=np.int32)  # + the start state: one too many
    recent, converting = _paths(tokens), _paths(tokens[:1])
    with pytest.raises(UsageError, match="states"):
        Chain.of(
            recent,
            converting,
            (recent.tokens["campaign"], converting.tokens["campaign"]),
            MAX_STATES,
            np.zeros(tokens.size, dtype=np.int64),
            1,
        )


def test_steps_collapse_repeats_and_start_each_path_at_the_start_state() -> None:
    tokens = np.array([0, 0, 1, 2, 2], dtype=np.int32)
    paths = SortedPaths(
        offsets=np.array([0, 3, 5], dtype=np.int64),  # [0, 0, 1] and [2, 2]
        journey=np.array([7, 9], dtype=np.int64),
        tokens={"channel": tokens, "campaign": tokens, "content": tokens, "team": tokens},
        is_start=np.array([True, False, False, True, False]),
    )
    chain = Chain.of(paths, paths, (tokens, tokens), 3, np.zeros(2, dtype=np.int64), 1)
    n = chain.n_states  # start + 3 tokens
    steps = chain.recent
    assert steps.code.tolist() == [0 * n + 1, 1 * n + 2, 0 * n + 3]
    assert steps.step_offsets.tolist() == [0, 2, 3]
    assert steps.last.tolist() == [2, 3]
    assert chain.base.ended[0].tolist() == [0.0, 0.0, 1.0, 1.0]

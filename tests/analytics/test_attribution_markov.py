"""Markov removal effects: by hand, and against a plain dense absorbing-chain computation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from smarketing.analytics.attribution import AttributionSettings, attribute
from smarketing.errors import UsageError
from tests.analytics.attribution_data import (
    conversions_by_channel,
    journey_table,
    value_by_channel,
)

Row = tuple[list[str], float, float, float]
"""(channels, conversions, value, nulls)"""


def reference_markov(
    rows: list[Row], *, order: int, collapse: bool
) -> tuple[dict[str, float], dict[str, float]]:
    """Textbook version: full transition matrix, one matrix inversion per removed channel."""
    start, conv, null = ("(start)",), ("(conversion)",), ("(null)",)
    counts: dict[tuple[tuple[str, ...], tuple[str, ...]], float] = {}
    value_at_end: dict[tuple[str, ...], float] = {}
    channels: set[str] = set()
    for touches, conversions, value, nulls in rows:
        if not touches:
            continue
        channels.update(touches)
        seq = touches
        if collapse:
            seq = [c for i, c in enumerate(touches) if i == 0 or c != touches[i - 1]]
        if len(seq) >= order:
            states = [tuple(seq[i : i + order]) for i in range(len(seq) - order + 1)]
        else:
            states = [tuple(seq)]
        walk = [start, *states]
        for a, b in itertools.pairwise(walk):
            counts[a, b] = counts.get((a, b), 0.0) + conversions + nulls
        counts[walk[-1], conv] = counts.get((walk[-1], conv), 0.0) + conversions
        counts[walk[-1], null] = counts.get((walk[-1], null), 0.0) + nulls
        value_at_end[walk[-1]] = value_at_end.get(walk[-1], 0.0) + value
    transient = [start, *sorted({s for pair in counts for s in pair} - {start, conv, null})]
    index = {s: i for i, s in enumerate(transient)}
    n = len(transient)
    matrix = np.zeros((n, n + 2))
    for (a, b), count in counts.items():
        column = n if b == conv else n + 1 if b == null else index[b]
        matrix[index[a], column] += count
    out = matrix.sum(axis=1)
    out[out == 0] = 1.0
    value_reward = np.array([value_at_end.get(s, 0.0) for s in transient]) / out
    probabilities = matrix / out[:, None]

    def absorbed(removed: str | None) -> tuple[float, float]:
        p = probabilities.copy()
        reward = value_reward.copy()
        for s in transient:
            if removed is not None and removed in s:
                p[index[s], :] = 0.0
                p[index[s], n + 1] = 1.0
                reward[index[s]] = 0.0
        fundamental = np.linalg.inv(np.eye(n) - p[:, :n])
        return float((fundamental @ p[:, n])[0]), float((fundamental @ reward)[0])

    base_conv, base_value = absorbed(None)
    names = sorted(channels)
    effects = np.array(
        [
            [1 - a / base_conv, 1 - b / base_value if base_value else 0.0]
            for a, b in map(absorbed, names)
        ]
    )
    total_conversions = sum(r[1] for r in rows if r[0])
    total_value = sum(r[2] for r in rows if r[0])
    sums = effects.sum(axis=0)
    shares = effects / np.where(sums > 0, sums, 1.0)
    return (
        {c: total_conversions * s for c, s in zip(names, shares[:, 0], strict=True)},
        {c: total_value * s for c, s in zip(names, shares[:, 1], strict=True)},
    )


def random_rows(seed: int, *, n_paths: int = 60, n_channels: int = 5) -> list[Row]:
    rng = np.random.default_rng(seed)
    names = [f"c{i}" for i in range(n_channels)]
    rows: list[Row] = []
    for _ in range(n_paths):
        length = int(rng.integers(1, 7))
        seq = [names[int(i)] for i in rng.integers(0, n_channels, length)]
        conversions = float(rng.integers(0, 4))
        value = float(rng.uniform(5, 100)) * conversions
        rows.append((seq, conversions, value, float(rng.integers(0, 5))))
    return rows


def ours(rows: list[Row], *, order: int, collapse: bool) -> tuple[dict[str, float], ...]:
    table = journey_table([(" > ".join(seq), (c, v, nu)) for seq, c, v, nu in rows])
    settings = AttributionSettings(markov_order=order, collapse_repeats=collapse)
    result = attribute(table, models=["markov"], settings=settings)
    return conversions_by_channel(result, "markov"), value_by_channel(result, "markov")


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("collapse", [True, False])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_the_dense_reference(order: int, collapse: bool, seed: int) -> None:
    rows = random_rows(seed)
    expected_conversions, expected_value = reference_markov(rows, order=order, collapse=collapse)
    got_conversions, got_value = ours(rows, order=order, collapse=collapse)
    assert got_conversions == pytest.approx(expected_conversions, rel=1e-9, abs=1e-9)
    assert got_value == pytest.approx(expected_value, rel=1e-9, abs=1e-9)


def test_worked_example() -> None:
    # start -> A (1/2) -> B, start -> B (1/2); B -> conversion 1/2, null 1/2. P(conv) = 1/2.
    # Without A: 1/4 (removal effect 1/2); without B: 0 (removal effect 1). Shares 1/3, 2/3.
    table = journey_table({"A > B": (1.0, 30.0, 0.0), "B": (0.0, 0.0, 1.0)})
    result = attribute(table, models=["markov"])
    assert conversions_by_channel(result, "markov") == pytest.approx({"A": 1 / 3, "B": 2 / 3})
    assert value_by_channel(result, "markov") == pytest.approx({"A": 10.0, "B": 20.0})


def test_a_channel_that_never_leads_to_a_conversion_gets_nothing_and_is_not_listed() -> None:
    table = journey_table({"A": (1.0, 0.0, 0.0), "B": (0.0, 0.0, 1.0)})
    result = attribute(table, models=["markov"])
    assert conversions_by_channel(result, "markov") == pytest.approx({"A": 1.0})


def test_order_one_does_not_depend_on_collapsing_repeats() -> None:
    rows = random_rows(7)
    collapsed, _ = ours(rows, order=1, collapse=True)
    kept, _ = ours(rows, order=1, collapse=False)
    assert kept == pytest.approx(collapsed, rel=1e-12)


def test_collapsing_matters_from_order_two() -> None:
    # collapsed, A > A > B has the single state (A, B); kept, it starts in (A, A) as C > A does
    rows: list[Row] = [
        (["A", "A", "B"], 1.0, 0.0, 0.0),
        (["C", "A", "A"], 1.0, 0.0, 1.0),
        (["A", "B"], 0.0, 0.0, 2.0),
    ]
    collapsed, _ = ours(rows, order=2, collapse=True)
    kept, _ = ours(rows, order=2, collapse=False)
    assert collapsed == pytest.approx(reference_markov(rows, order=2, collapse=True)[0])
    assert kept == pytest.approx(reference_markov(rows, order=2, collapse=False)[0])
    assert collapsed != pytest.approx(kept)


def test_no_conversion_no_credit() -> None:
    result = attribute(journey_table({"A > B": (0.0, 0.0, 4.0)}), models=["markov"])
    assert result.credits[0].channels == ()


def test_order_must_be_one_to_three() -> None:
    with pytest.raises(UsageError, match="order must be 1 to 3"):
        AttributionSettings(markov_order=0)

"""Shapley's closed form against brute force over all coalitions of channels."""

from __future__ import annotations

import itertools
from math import factorial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.analytics.attribution import attribute
from tests.analytics.attribution_data import (
    conversions_by_channel,
    journey_table,
    nonzero,
    value_by_channel,
)

CHANNELS = ("A", "B", "C", "D", "E")


def brute_force_shapley(paths: list[tuple[list[str], float]]) -> dict[str, float]:
    """Shapley values of v(S) = conversions of journeys whose channel set is inside S."""
    players = sorted({c for seq, _ in paths for c in seq})
    n = len(players)

    def worth(coalition: frozenset[str]) -> float:
        return sum(conv for seq, conv in paths if seq and set(seq) <= coalition)

    values: dict[str, float] = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for size in range(n):
            weight = factorial(size) * factorial(n - size - 1) / factorial(n)
            for coalition in itertools.combinations(others, size):
                with_player = frozenset((*coalition, player))
                total += weight * (worth(with_player) - worth(frozenset(coalition)))
        values[player] = total
    return values


def shapley(paths: list[tuple[list[str], float]]) -> dict[str, float]:
    table = journey_table([(" > ".join(seq), (conv, 2.0 * conv, 1.0)) for seq, conv in paths])
    result = attribute(table, models=["shapley"])
    assert value_by_channel(result, "shapley") == pytest.approx(
        {k: 2.0 * v for k, v in conversions_by_channel(result, "shapley").items()}
    )
    return conversions_by_channel(result, "shapley")


def test_worked_example() -> None:
    # {A}: 1 conversion, {A, B}: 1 conversion. v(A) = 1, v(B) = 0, v(AB) = 2.
    # phi_A = 1/2 (1 - 0) + 1/2 (2 - 0) = 1.5; phi_B = 1/2 (0) + 1/2 (2 - 1) = 0.5
    got = shapley([(["A"], 1.0), (["A", "B", "A"], 1.0)])
    assert got == pytest.approx({"A": 1.5, "B": 0.5})
    assert got == pytest.approx(brute_force_shapley([(["A"], 1.0), (["A", "B"], 1.0)]))


def test_order_and_repeats_do_not_matter() -> None:
    assert nonzero(shapley([(["B", "A", "B", "B"], 3.0)])) == pytest.approx({"A": 1.5, "B": 1.5})


journeys = st.lists(
    st.tuples(
        st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=6),
        st.integers(min_value=0, max_value=5).map(float),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(journeys)
def test_closed_form_equals_brute_force(paths: list[tuple[list[str], float]]) -> None:
    expected = brute_force_shapley(paths)
    got = shapley(paths)
    for channel, value in expected.items():
        assert got.get(channel, 0.0) == pytest.approx(value, rel=1e-9, abs=1e-9)


def test_many_channels_are_fine() -> None:
    channels = [f"campaign-{i}" for i in range(300)]
    paths = [(channels[i : i + 40], 1.0) for i in range(0, 260, 10)]
    got = shapley(paths)
    assert sum(got.values()) == pytest.approx(len(paths))
    assert got["campaign-0"] == pytest.approx(1 / 40)

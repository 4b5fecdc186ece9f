"""The invariants every model promises, on random journeys (Hypothesis).

- credits are non-negative;
- credits sum to the conversions and the value of the journeys with at least one touch;
- bootstrap intervals are ordered and reproducible with a seed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.analytics.attribution import (
    MODEL_NAMES,
    AttributionResult,
    AttributionSettings,
    attribute,
)
from tests.analytics.attribution_data import journey_table

CHANNELS = ("A", "B", "C", "Direct", "direct", "Paid Search")
TOLERANCE = 1e-9


@st.composite
def journey_rows(draw: st.DrawFn) -> list[tuple[str, tuple[float, float, float]]]:
    rows = []
    for _ in range(draw(st.integers(min_value=1, max_value=15))):
        channels = draw(st.lists(st.sampled_from(CHANNELS), min_size=0, max_size=7))
        conversions = float(draw(st.integers(min_value=0, max_value=4)))
        value = draw(st.floats(min_value=0, max_value=500)) if conversions else 0.0
        nulls = float(draw(st.integers(min_value=0, max_value=4)))
        rows.append((" > ".join(channels), (conversions, value, nulls)))
    return rows


model_settings = st.builds(
    AttributionSettings,
    half_life_days=st.floats(min_value=0.1, max_value=60),
    custom_weights=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=5)
    .filter(lambda ws: sum(ws) > 0)
    .map(tuple),
    markov_order=st.integers(min_value=1, max_value=3),
    collapse_repeats=st.booleans(),
)


def assert_invariants(result: AttributionResult) -> None:
    expected_conversions = result.totals.credited_conversions
    expected_value = result.totals.credited_value
    for credit in result.credits:
        assert (credit.conversions >= -TOLERANCE).all(), credit.model
        assert (credit.value >= -TOLERANCE).all(), credit.model
        assert credit.conversions.sum() == pytest.approx(
            expected_conversions, rel=TOLERANCE, abs=TOLERANCE
        ), credit.model
        assert credit.value.sum() == pytest.approx(expected_value, rel=TOLERANCE, abs=1e-7), (
            credit.model
        )


@settings(max_examples=80, deadline=None)
@given(rows=journey_rows(), knobs=model_settings)
def test_every_model_credits_exactly_the_conversions_and_value(
    rows: list[tuple[str, tuple[float, float, float]]], knobs: AttributionSettings
) -> None:
    result = attribute(journey_table(rows), models=list(MODEL_NAMES), settings=knobs)
    assert_invariants(result)
    touchless = sum(c + n for path, (c, _, n) in rows if not path)
    assert result.totals.dropped_journeys == pytest.approx(touchless)


@settings(max_examples=25, deadline=None)
@given(rows=journey_rows(), seed=st.integers(min_value=0, max_value=2**31))
def test_bootstrap_intervals_are_ordered_and_seeded(
    rows: list[tuple[str, tuple[float, float, float]]], seed: int
) -> None:
    table = journey_table(rows)
    models = ["linear", "markov", "shapley"]
    first = attribute(table, models=models, ci=0.9, replicates=20, seed=seed)
    again = attribute(table, models=models, ci=0.9, replicates=20, seed=seed)
    for credit, repeat in zip(first.credits, again.credits, strict=True):
        assert credit.conversions_low is not None
        assert credit.conversions_high is not None
        assert credit.value_low is not None
        assert credit.value_high is not None
        assert (credit.conversions_low <= credit.conversions_high + TOLERANCE).all()
        assert (credit.value_low <= credit.value_high + TOLERANCE).all()
        assert (credit.conversions_low >= -TOLERANCE).all()
        assert repeat.conversions_low is not None
        np.testing.assert_array_equal(credit.conversions_low, repeat.conversions_low)


def test_interval_brackets_the_estimate_on_plenty_of_data() -> None:
    rng = np.random.default_rng(5)
    rows = [
        (" > ".join(rng.choice(["A", "B", "C"], size=int(rng.integers(1, 5)))), (c, 10.0 * c, 3.0))
        for c in rng.integers(0, 5, size=400).astype(float)
    ]
    result = attribute(journey_table(rows), models=["linear", "markov"], ci=0.95, seed=1)
    for credit in result.credits:
        assert credit.conversions_low is not None
        assert credit.conversions_high is not None
        assert (credit.conversions_low < credit.conversions).all()
        assert (credit.conversions < credit.conversions_high).all()
    assert result.to_arrow().column_names == [
        "model",
        "channel",
        "conversions",
        "value",
        "conversions_low",
        "conversions_high",
        "value_low",
        "value_high",
    ]

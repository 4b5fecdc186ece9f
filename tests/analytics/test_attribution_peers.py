"""Against the peers on the same data: channelattribution and marketing-attribution-models.

Test-only dependencies. Where definitions differ the test pins the difference that
docs/attribution.md describes.
"""

from __future__ import annotations

import ChannelAttribution as channelattribution
import mam
import numpy as np
import pandas as pd
import polars as pl
import pytest

from smarketing.analytics.attribution import AttributionResult, JourneyColumns, attribute
from smarketing.analytics.attribution.markov import build_chain, removal_effects
from smarketing.analytics.attribution.pipeline import load_journeys
from tests.analytics.attribution_data import conversions_by_channel, value_by_channel

CHANNELS = ["Direct", "Email", "Paid Search", "Display", "Social"]


def random_paths(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows: dict[str, tuple[int, float, int]] = {}
    for _ in range(n):
        length = int(rng.integers(1, 7))
        path = " > ".join(CHANNELS[int(i)] for i in rng.integers(0, len(CHANNELS), length))
        conversions = int(rng.integers(0, 4))
        value = round(float(rng.uniform(10, 200)) * conversions, 2)
        old = rows.get(path, (0, 0.0, 0))
        rows[path] = (old[0] + conversions, old[1] + value, old[2] + int(rng.integers(0, 6)))
    return pd.DataFrame(
        {
            "path": list(rows),
            "total_conversions": [c for c, _, _ in rows.values()],
            "total_conversion_value": [v for _, v, _ in rows.values()],
            "total_null": [u for _, _, u in rows.values()],
        }
    )


def ours(data: pd.DataFrame, models: list[str], **kwargs: object) -> AttributionResult:
    return attribute(data, models=models, **kwargs)  # type: ignore[arg-type]


def mam_grouped(data: pd.DataFrame) -> mam.MAM:
    """One row per (path, converted?) with its journey count, as MAM's grouped format wants."""
    converted = data[data.total_conversions > 0]
    lost = data[data.total_null > 0]
    frame = pl.DataFrame(
        {
            "path": [*converted.path, *lost.path],
            "has_conv": [True] * len(converted) + [False] * len(lost),
            "occurrences": [*converted.total_conversions, *lost.total_null],
            "value": [*converted.total_conversion_value, *([0.0] * len(lost))],
        }
    )
    return mam.MAM(
        frame,
        format_type="grouped_journey",
        channels_colname="path",
        journey_with_conv_colname="has_conv",
        occurrences_colname="occurrences",
        conversion_value_colname="value",
    )


def mam_credits(result: mam.AttributionResult) -> dict[str, float]:
    frame = result.to_polars()
    return {str(k): float(v) for k, v in zip(frame["channels"], frame["attribution"], strict=True)}


@pytest.mark.parametrize("seed", [1, 2])
def test_heuristics_equal_channelattribution(seed: int) -> None:
    data = random_paths(seed)
    theirs = channelattribution.heuristic_models(
        data, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
    ).set_index("channel_name")
    result = ours(data, ["first_touch", "last_touch", "linear"])
    for model, column in [
        ("first_touch", "first_touch"),
        ("last_touch", "last_touch"),
        ("linear", "linear_touch"),
    ]:
        conversions = conversions_by_channel(result, model)  # type: ignore[arg-type]
        value = value_by_channel(result, model)  # type: ignore[arg-type]
        for channel in theirs.index:
            expected = float(theirs.loc[channel, f"{column}_conversions"])
            if model == "linear":
                assert conversions.get(channel, 0.0) == pytest.approx(expected, rel=1e-12)
            else:
                assert conversions.get(channel, 0.0) == expected
            assert value.get(channel, 0.0) == pytest.approx(
                float(theirs.loc[channel, f"{column}_value"]), rel=1e-9
            )


@pytest.mark.parametrize("seed", [1, 2])
def test_markov_within_a_hundredth_of_channelattribution_shares(seed: int) -> None:
    data = random_paths(seed)
    theirs = channelattribution.markov_model(
        data,
        "path",
        "total_conversions",
        var_value="total_conversion_value",
        var_null="total_null",
        verbose=False,
        flg_pro=False,
    ).set_index("channel_name")
    result = ours(data, ["markov"])
    conversions = conversions_by_channel(result, "markov")
    value = value_by_channel(result, "markov")
    total_conversions = sum(conversions.values())
    total_value = sum(value.values())
    for channel in theirs.index:
        their_share = theirs.loc[channel, "total_conversions"] / theirs.total_conversions.sum()
        assert conversions[channel] / total_conversions == pytest.approx(their_share, abs=0.01)
        their_value = (
            theirs.loc[channel, "total_conversion_value"] / theirs.total_conversion_value.sum()
        )
        assert value[channel] / total_value == pytest.approx(their_value, abs=0.01)


@pytest.mark.parametrize("seed", [1, 2])
def test_heuristics_equal_marketing_attribution_models(seed: int) -> None:
    data = random_paths(seed)
    theirs = mam_grouped(data)
    result = ours(data, ["first_touch", "last_touch", "linear", "position_based"])
    for model, run in [
        ("first_touch", theirs.run_first_click),
        ("last_touch", theirs.run_last_click),
        ("linear", theirs.run_linear),
        ("position_based", theirs.run_position_based),
    ]:
        expected = mam_credits(run())
        got = value_by_channel(result, model)  # type: ignore[arg-type]
        for channel, credit in expected.items():
            assert got.get(channel, 0.0) == pytest.approx(credit, rel=1e-9, abs=1e-9), model


def test_time_decay_equals_marketing_attribution_models() -> None:
    rng = np.random.default_rng(3)
    paths, hours, converted = [], [], []
    for _ in range(200):
        length = int(rng.integers(1, 6))
        paths.append(" > ".join(CHANNELS[int(i)] for i in rng.integers(0, 5, length)))
        hours.append(" > ".join(str(h) for h in np.sort(rng.integers(0, 600, length))[::-1]))
        converted.append(bool(rng.random() < 0.4))
    frame = pl.DataFrame(
        {"journey_id": [str(i) for i in range(200)], "path": paths, "time_till_end": hours}
    ).with_columns(has_conv=pl.Series(converted))
    theirs = mam.MAM(
        frame,
        format_type="journey",
        channels_colname="path",
        journey_with_conv_colname="has_conv",
        user_id_colname="journey_id",
        time_till_conv_colname="time_till_end",
    )
    expected = mam_credits(theirs.run_time_decay(half_life_hours=7 * 24))
    # our time column: day numbers of the touches (hours before the conversion, negated)
    days = [" > ".join(str(-int(h) / 24) for h in row.split(" > ")) for row in hours]
    data = pd.DataFrame(
        {"path": paths, "total_conversions": [int(c) for c in converted], "days": days}
    )
    result = ours(data, ["time_decay"], columns=JourneyColumns(touch_times="days"))
    got = conversions_by_channel(result, "time_decay")
    for channel, credit in expected.items():
        assert got.get(channel, 0.0) == pytest.approx(credit, rel=1e-9, abs=1e-9)


def antichain_paths() -> pd.DataFrame:
    """No converting channel set is a subset of another: the two Shapley games agree."""
    return pd.DataFrame(
        {
            "path": ["A > B", "B > C > B", "A > C", "D", "D > A", "C > A > B > D", "B"],
            "total_conversions": [3, 2, 4, 5, 0, 0, 0],
            "total_conversion_value": [30.0, 20.0, 40.0, 50.0, 0.0, 0.0, 0.0],
            "total_null": [2, 5, 1, 3, 4, 2, 6],
        }
    )


def test_shapley_equals_marketing_attribution_models_on_an_antichain() -> None:
    data = antichain_paths()
    expected = mam_credits(mam_grouped(data).run_shapley(max_size=10, value_column="conversions"))
    got = conversions_by_channel(ours(data, ["shapley"]), "shapley")
    assert got == pytest.approx(expected, rel=1e-9)


def test_shapley_differs_from_marketing_attribution_models_on_nested_sets() -> None:
    # MAM's game values a coalition by the journeys whose set *equals* it: A gets the {A, B}
    # conversion too. Ours values it by the journeys whose set it *contains* (A 1.5, B 0.5).
    data = pd.DataFrame({"path": ["A", "A > B"], "total_conversions": [1, 1], "total_null": [0, 0]})
    theirs = mam_credits(
        mam_grouped(data.assign(total_conversion_value=[1.0, 1.0])).run_shapley(
            max_size=10, value_column="conversions"
        )
    )
    assert theirs == pytest.approx({"A": 2.0, "B": 0.0})
    assert conversions_by_channel(ours(data, ["shapley"]), "shapley") == pytest.approx(
        {"A": 1.5, "B": 0.5}
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_markov_removal_effects_equal_marketing_attribution_models(seed: int) -> None:
    data = random_paths(seed)
    theirs = mam_grouped(data)
    theirs.run_markov()  # exact (matrix inverse), repeats dropped like our default
    removal = theirs.run_markov().metadata["removal_effect"]["removal_effect"]
    loaded = load_journeys(data, models=["markov"])
    effects = removal_effects(
        build_chain(loaded.paths, order=1, collapse_repeats=True),
        loaded.paths.conversions,
        loaded.paths.value,
        loaded.paths.nulls,
    )
    got = dict(zip(loaded.paths.channels, effects.conversions, strict=True))
    for channel, effect in removal.items():
        assert got[str(channel)] == pytest.approx(float(effect), rel=1e-9, abs=1e-12)

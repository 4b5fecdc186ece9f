"""Rule-based models on journeys small enough to work out by hand."""

from __future__ import annotations

import pyarrow as pa
import pytest

from smarketing.analytics.attribution import (
    RULE_BASED_MODELS,
    AttributionSettings,
    JourneyColumns,
    ModelName,
    attribute,
)
from smarketing.errors import UsageError, ValidationFailed
from tests.analytics.attribution_data import (
    conversions_by_channel,
    journey_table,
    nonzero,
    value_by_channel,
)

CUSTOM = AttributionSettings(custom_weights=(0.3, 0.3, 0.4))


def credit(
    rows: dict[str, tuple[float, float, float]],
    model: ModelName,
    settings: AttributionSettings = CUSTOM,
) -> dict[str, float]:
    result = attribute(journey_table(rows), models=[model], settings=settings)
    return nonzero(conversions_by_channel(result, model))


def test_three_touches_with_a_repeat_first_last_linear() -> None:
    rows = {"A > B > A": (3.0, 30.0, 0.0)}
    assert credit(rows, "first_touch") == {"A": 3.0}
    assert credit(rows, "last_touch") == {"A": 3.0}
    assert credit(rows, "linear") == pytest.approx({"A": 2.0, "B": 1.0})


@pytest.mark.parametrize("model", RULE_BASED_MODELS)
def test_one_touch_gets_everything(model: ModelName) -> None:
    assert credit({"Email": (2.0, 10.0, 1.0)}, model) == pytest.approx({"Email": 2.0})


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("first_touch", {"A": 1.0}),
        ("last_touch", {"B": 1.0}),
        ("linear", {"A": 0.5, "B": 0.5}),
        ("position_based", {"A": 0.5, "B": 0.5}),
        # two touches: the first is also lead creation, the last opportunity creation
        ("w_shaped", {"A": 0.6 / 0.9, "B": 0.3 / 0.9}),
        ("full_path", {"A": 0.675 / 0.9, "B": 0.225 / 0.9}),
        # buckets 0 and 2 of three: weights 0.3 and 0.4, rescaled
        ("custom", {"A": 3 / 7, "B": 4 / 7}),
        ("time_decay", {"A": 2 ** (-1 / 7) / (1 + 2 ** (-1 / 7)), "B": 1 / (1 + 2 ** (-1 / 7))}),
    ],
)
def test_two_touches(model: ModelName, expected: dict[str, float]) -> None:
    assert credit({"A > B": (1.0, 0.0, 0.0)}, model) == pytest.approx(expected)


def test_journeys_without_touches_are_dropped_and_counted() -> None:
    table = journey_table([("A", (1.0, 5.0, 1.0)), ("", (2.0, 7.0, 3.0)), (" > ", (1.0, 1.0, 0.0))])
    result = attribute(table, models=["linear"])
    assert result.totals.dropped_journeys == 6.0
    assert result.totals.dropped_conversions == 3.0
    assert result.totals.dropped_value == 8.0
    assert result.totals.credited_conversions == 1.0
    assert nonzero(conversions_by_channel(result, "linear")) == {"A": 1.0}
    assert nonzero(value_by_channel(result, "linear")) == {"A": 5.0}


def test_null_paths_count_as_journeys_without_touches() -> None:
    table = pa.table({"path": ["A", None], "total_conversions": [1, 1], "total_null": [0, 2]})
    result = attribute(table, models=["first_touch", "markov"])
    assert result.totals.dropped_journeys == 3.0
    assert conversions_by_channel(result, "first_touch") == {"A": 1.0}


def test_value_follows_the_same_shares() -> None:
    rows = {"A > B > C": (2.0, 90.0, 0.0)}
    result = attribute(journey_table(rows), models=["position_based"])
    assert value_by_channel(result, "position_based") == pytest.approx(
        {"A": 36.0, "B": 18.0, "C": 36.0}
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("A > Direct", "A"),
        ("Direct > A > direct", "A"),
        ("direct > DIRECT", "DIRECT"),
        ("A > B", "B"),
    ],
)
def test_last_non_direct(path: str, expected: str) -> None:
    assert credit({path: (1.0, 0.0, 0.0)}, "last_non_direct") == {expected: 1.0}


def test_position_based_spreads_the_middle() -> None:
    got = credit({"A > B > C > D > E": (1.0, 0.0, 0.0)}, "position_based")
    assert got == pytest.approx({"A": 0.4, "B": 0.2 / 3, "C": 0.2 / 3, "D": 0.2 / 3, "E": 0.4})


def test_position_based_counts_repeats_per_touch() -> None:
    assert credit({"A > A > B": (1.0, 0.0, 0.0)}, "position_based") == pytest.approx(
        {"A": 0.6, "B": 0.4}
    )


def test_position_weights_are_configurable_and_relative() -> None:
    settings = AttributionSettings(position_weights=(50, 0, 50))
    assert credit({"A > B > C": (1.0, 0.0, 0.0)}, "position_based", settings) == pytest.approx(
        {"A": 0.5, "C": 0.5}
    )


def test_w_shaped_and_full_path_default_milestones() -> None:
    rows = {"A > B > C > D > E": (1.0, 0.0, 0.0)}
    # milestones at 0, 2, 4; the rest (B, D) share 10 %
    assert credit(rows, "w_shaped") == pytest.approx(
        {"A": 0.3, "B": 0.05, "C": 0.3, "D": 0.05, "E": 0.3}
    )
    # milestones at 0, 1, 2, 4; D alone takes the rest
    assert credit(rows, "full_path") == pytest.approx(
        {"A": 0.225, "B": 0.225, "C": 0.225, "D": 0.1, "E": 0.225}
    )


def test_w_shaped_with_three_touches_is_equal_thirds() -> None:
    assert credit({"A > B > C": (3.0, 0.0, 0.0)}, "w_shaped") == pytest.approx(
        {"A": 1.0, "B": 1.0, "C": 1.0}
    )


def test_stage_index_columns_place_the_milestones() -> None:
    table = pa.table(
        {
            "path": ["A > B > C > D > E", "A > B > C"],
            "total_conversions": [1.0, 1.0],
            "lead": [1, 0],
            "opp": [3, None],
        }
    )
    columns = {"lead_index": "lead", "opportunity_index": "opp"}
    result = attribute(table, models=["w_shaped"], columns=JourneyColumns(**columns))
    # path 1: 30 % on A, B, D; C and E share 10 %. path 2: lead creation on the first touch
    # adds to it (60 %), opportunity creation defaults to the last touch (30 %), B gets 10 %.
    assert conversions_by_channel(result, "w_shaped") == pytest.approx(
        {"A": 0.3 + 0.6, "B": 0.3 + 0.1, "C": 0.05 + 0.3, "D": 0.3, "E": 0.05}
    )


def test_full_path_won_index() -> None:
    table = pa.table({"path": ["A > B > C > D"], "total_conversions": [1.0], "won": [2]})
    result = attribute(table, models=["full_path"], columns=JourneyColumns(won_index="won"))
    # first 0, lead 1, opportunity 2 (defaults), won moved to 2: C gets 45 %, D the rest
    assert conversions_by_channel(result, "full_path") == pytest.approx(
        {"A": 0.225, "B": 0.225, "C": 0.45, "D": 0.1}
    )


def test_stage_index_out_of_range_is_rejected() -> None:
    table = pa.table({"path": ["A > B"], "total_conversions": [1.0], "lead": [2]})
    with pytest.raises(ValidationFailed, match=r"row 1: 'lead' is 2 but the path has 2"):
        attribute(table, models=["w_shaped"], columns=JourneyColumns(lead_index="lead"))


def test_custom_buckets() -> None:
    got = credit({"A > B > C > D > E > F": (1.0, 0.0, 0.0)}, "custom")
    assert got == pytest.approx({"A": 0.15, "B": 0.15, "C": 0.15, "D": 0.15, "E": 0.2, "F": 0.2})


def test_custom_with_all_weight_on_an_empty_bucket_falls_back_to_linear() -> None:
    settings = AttributionSettings(custom_weights=(0, 1, 0))
    assert credit({"A > B": (1.0, 0.0, 0.0)}, "custom", settings) == pytest.approx(
        {"A": 0.5, "B": 0.5}
    )


def test_custom_needs_weights() -> None:
    with pytest.raises(UsageError, match="custom model needs stage weights"):
        attribute(journey_table({"A": (1.0, 0.0, 0.0)}), models=["custom"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"position_weights": (0.5, 0.5)},
        {"position_weights": (-1, 1, 1)},
        {"w_shaped_weights": (0, 0, 0, 0)},
        {"custom_weights": (float("nan"),)},
        {"half_life_days": 0.0},
        {"markov_order": 4},
    ],
)
def test_bad_settings_are_usage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        AttributionSettings(**kwargs)  # type: ignore[arg-type]


def time_table(path: str, times: str) -> pa.Table:
    return pa.table({"path": [path], "total_conversions": [1.0], "t": [times]})


def decay(path: str, times: str, half_life: float = 7.0) -> dict[str, float]:
    result = attribute(
        time_table(path, times),
        models=["time_decay"],
        columns=JourneyColumns(touch_times="t"),
        settings=AttributionSettings(half_life_days=half_life),
    )
    return nonzero(conversions_by_channel(result, "time_decay"))


def test_time_decay_halves_per_half_life() -> None:
    assert decay("A > B > C", "0 > 7 > 14") == pytest.approx({"A": 1 / 7, "B": 2 / 7, "C": 4 / 7})


def test_time_decay_ties_in_time_share_equally() -> None:
    assert decay("A > B > C", "3 > 3 > 10", half_life=7) == pytest.approx(
        {"A": 0.25, "B": 0.25, "C": 0.5}
    )


def test_time_decay_iso_timestamps_and_offsets() -> None:
    assert decay("A > B", "2025-01-01 > 2025-01-08") == pytest.approx({"A": 1 / 3, "B": 2 / 3})
    assert decay("A > B", "2025-01-01T00:00:00Z > 2025-01-08T02:00:00+02:00") == pytest.approx(
        {"A": 1 / 3, "B": 2 / 3}
    )


def test_time_decay_uses_the_latest_touch_when_times_are_unsorted() -> None:
    assert decay("A > B", "14 > 0") == pytest.approx({"A": 0.8, "B": 0.2})


def test_time_decay_without_times_assumes_one_day_apart() -> None:
    result = attribute(journey_table({"A > B > C": (1.0, 0.0, 0.0)}), models=["time_decay"])
    weights = [2 ** (-2 / 7), 2 ** (-1 / 7), 1.0]
    expected = {name: w / sum(weights) for name, w in zip("ABC", weights, strict=True)}
    assert conversions_by_channel(result, "time_decay") == pytest.approx(expected)


def test_time_count_must_match_touch_count() -> None:
    with pytest.raises(ValidationFailed, match=r"row 1: the path has 2 touches but 't' has 3"):
        attribute(
            time_table("A > B", "1 > 2 > 3"),
            models=["time_decay"],
            columns=JourneyColumns(touch_times="t"),
        )


def test_time_list_columns() -> None:
    table = pa.table({"path": [["A", "B"]], "total_conversions": [1.0], "t": [[0.0, 7.0]]})
    result = attribute(table, models=["time_decay"], columns=JourneyColumns(touch_times="t"))
    assert conversions_by_channel(result, "time_decay") == pytest.approx({"A": 1 / 3, "B": 2 / 3})

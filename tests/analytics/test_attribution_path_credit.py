"""Per-touch credit of single journeys: shares sum to 1 for every model and journey (Hypothesis),
the data-driven split by hand, stage milestones from the stored transitions, and the `-1`
"milestone not on this path" index of paths files."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.analytics.attribution import AttributionSettings, JourneyColumns, attribute
from smarketing.analytics.attribution.journeys import JourneyQuery, journey_touches
from smarketing.analytics.attribution.path_credit import (
    population_values,
    split_by_channel,
    touch_credit,
)
from smarketing.analytics.attribution.touch_paths import touch_paths
from smarketing.analytics.engines.base import to_sql
from smarketing.analytics.reports.attribution import MODELS
from smarketing.analytics.tables import unbound
from smarketing.errors import ValidationFailed
from tests.analytics.attribution_data import journey_table
from tests.analytics.test_attribution_journeys import tables

CHANNELS = ("Email", "Direct", "Paid Search", "Sales", "Organic Search")
T0 = datetime(2026, 3, 1)


def rows_for(journeys: list[tuple[list[str], bool, float]]) -> pa.Table:
    """`journey_touches`-shaped rows: (channels in order, converted, value) per journey."""
    out: list[dict[str, Any]] = []
    touch_id = 0
    for j, (channels, converted, value) in enumerate(journeys):
        end = T0 + timedelta(days=30)
        for i, channel in enumerate(channels):
            touch_id += 1
            at = T0 + timedelta(days=i)
            out.append(
                {
                    "conversion": j if converted else None,
                    "journey": j,
                    "converted": converted,
                    "value": value if converted else 0.0,
                    "converted_at": end,
                    "occurred_at": at,
                    "days_before": (end - at).total_seconds() / 86400,
                    "touch_id": touch_id,
                    "token": channel,
                    "channel": channel,
                    "campaign_id": None,
                    "content_id": None,
                    "team": "sales" if channel == "Sales" else "marketing",
                    "lead_at": None,
                    "opportunity_at": None,
                }
            )
    schema = journey_touches(unbound(), JourneyQuery()).schema().to_pyarrow()
    return pa.Table.from_pylist(out, schema=schema)


journey_lists = st.lists(
    st.tuples(
        st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=6),
        st.booleans(),
        st.floats(min_value=0, max_value=1000),
    ),
    min_size=1,
    max_size=12,
)


@settings(deadline=None)  # the first example pays Ibis's schema compile
@given(journeys=journey_lists)
def test_every_model_splits_every_converting_journey_into_shares_summing_to_one(
    journeys: list[tuple[list[str], bool, float]],
) -> None:
    paths = touch_paths(rows_for(journeys), won=True)
    converting, rows = paths.converting()
    settings = AttributionSettings()
    fitted = population_values(paths.paths, ("markov", "shapley"), settings)
    credit = touch_credit(converting, MODELS, settings, fitted)
    path = converting.path_of_touch()
    for model, shares in credit.items():
        assert (shares >= 0).all(), model
        per_path = np.bincount(path, weights=shares, minlength=converting.n_paths)
        assert per_path == pytest.approx(np.ones(converting.n_paths)), model
    assert rows.size == converting.touches.size


def test_data_driven_split_is_proportional_on_the_path_then_equal_per_touch() -> None:
    paths = touch_paths(rows_for([(["Email", "Sales", "Email"], True, 90.0)]), won=True).paths
    shares = split_by_channel(paths, {"Email": 1.0, "Sales": 2.0, "Direct": 5.0})
    # Email 1/3 over its two touches, Sales 2/3; Direct is not on the path
    assert shares == pytest.approx([1 / 6, 2 / 3, 1 / 6])
    unseen = split_by_channel(paths, {"Direct": 5.0})
    assert unseen == pytest.approx([0.25, 0.5, 0.25])  # equal among the path's channels


def test_population_shapley_values_are_each_journeys_equal_split() -> None:
    journeys = [(["Email", "Sales"], True, 0.0), (["Sales"], True, 0.0), (["Email"], False, 0.0)]
    values = population_values(
        touch_paths(rows_for(journeys), won=True).paths,
        ("shapley", "markov"),
        AttributionSettings(),
    )
    assert values["shapley"] == pytest.approx({"Email": 0.5, "Sales": 1.5})
    # P(conv) 2/3; without Email 1/3; without Sales 0
    assert values["markov"] == pytest.approx({"Email": 0.5, "Sales": 1.0})


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_report_paths_put_the_milestones_at_the_stored_transitions() -> None:
    """Five touches; the first one created the lead, the fourth came right before the
    opportunity. By position, W-shaped would pick touches 0, 2 and 4."""
    touches = [
        {
            "id": i + 1,
            "person_id": 1,
            "occurred_at": day(i * 5),
            "channel": ch,
            "team": "marketing",
            "kind": "page_view",
        }
        for i, ch in enumerate(["Organic Search", "Email", "Direct", "Paid Search", "Email"])
    ]
    con = tables(
        people=[{"id": 1}],
        touchpoints=touches,
        transitions=[
            {"id": 1, "person_id": 1, "to_stage": "lead", "at": day(0)},
            {"id": 2, "person_id": 1, "to_stage": "mql", "at": day(1)},
            {"id": 3, "person_id": 1, "to_stage": "opportunity", "at": day(16)},
            {"id": 4, "person_id": 1, "to_stage": "customer", "at": day(25)},
        ],
        deals=[{"id": 1, "person_id": 1, "status": "won", "close_date": day(25).date()}],
    )
    rows = con.sql(to_sql(journey_touches(unbound(), JourneyQuery(end=day(40))), "duckdb"))
    paths = touch_paths(rows.to_arrow_table(), won=True)
    converting, _ = paths.converting()
    credit = touch_credit(converting, ("w_shaped", "full_path"), AttributionSettings(), {})
    # first + lead on touch 0, opportunity on touch 3, the rest (10) over touches 1, 2, 4
    assert credit["w_shaped"] == pytest.approx([0.6, 0.1 / 3, 0.1 / 3, 0.3, 0.1 / 3])
    # plus closed-won on the last touch; the rest over touches 1 and 2
    assert credit["full_path"] == pytest.approx([0.45, 0.05, 0.05, 0.225, 0.225])


def test_a_paths_file_marks_a_milestone_off_the_path_with_minus_one() -> None:
    table = (
        journey_table({"A > B > C": (1, 0, 0)})
        .append_column("lead", pa.array([-1], pa.int64()))
        .append_column("opp", pa.array([2], pa.int64()))
    )
    columns = JourneyColumns(lead_index="lead", opportunity_index="opp")
    result = attribute(table, models=["w_shaped"], columns=columns)
    credit = {row["channel"]: row["conversions"] for row in result.to_pylist()}
    # first 30, opportunity 30 on C, the rest 10 on B; lead creation takes nothing
    assert credit == pytest.approx({"A": 3 / 7, "B": 1 / 7, "C": 3 / 7})
    bad = table.set_column(table.schema.get_field_index("lead"), "lead", pa.array([-2]))
    with pytest.raises(ValidationFailed, match="'lead' is -2") as raised:
        attribute(bad, models=["w_shaped"], columns=columns)
    assert "-1 when the milestone is not on the path" in (raised.value.hint or "")

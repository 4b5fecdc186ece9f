"""Journeys from stored touchpoints: lookback windows, conversion kinds, per person or account,
dimensions, non-converting journeys; then credit that sums to the conversions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from smarketing.analytics.attribution import attribute
from smarketing.analytics.attribution.journeys import (
    JourneyQuery,
    journey_touches,
    paths_from_touches,
)
from smarketing.analytics.engines.base import to_sql
from smarketing.analytics.tables import SPECS, unbound

T0 = datetime(2026, 3, 1, 12)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def tables(**rows: list[dict[str, Any]]) -> Any:
    con = duckdb.connect()
    for spec in SPECS:
        data = rows.get(spec.name, [])
        schema = spec.schema.to_pyarrow()
        arrow = pa.Table.from_pylist(
            [{c: r.get(c) for c in schema.names} for r in data], schema=schema
        )
        con.register(f"{spec.name}_arrow", arrow)
        con.execute(f"CREATE TABLE {spec.name} AS SELECT * FROM {spec.name}_arrow")
    return con


def query(con: Any, q: JourneyQuery) -> pa.Table:
    return con.sql(to_sql(journey_touches(unbound(), q), "duckdb")).to_arrow_table()


def touch(
    i: int,
    person: int | None,
    at: datetime,
    channel: str,
    *,
    account: int | None = None,
    team: str = "marketing",
    content: int | None = None,
) -> dict[str, Any]:
    return {
        "id": i,
        "person_id": person,
        "account_id": account,
        "occurred_at": at,
        "channel": channel,
        "team": team,
        "content_id": content,
        "kind": "page_view",
    }


def run(con: Any, q: JourneyQuery) -> list[dict[str, Any]]:
    return paths_from_touches(query(con, q)).to_pylist()


STORE = {
    "people": [{"id": 1, "account_id": 10}, {"id": 2, "account_id": 10}, {"id": 3}],
    "touchpoints": [
        touch(1, 1, day(-200), "Display", account=10),  # outside the 90-day lookback
        touch(2, 1, day(-30), "Organic Search", account=10, content=7),
        touch(3, 2, day(-20), "Paid Social", account=10),
        touch(4, 1, day(-10), "Email", account=10),
        touch(5, 1, day(-1), "Sales", account=10, team="sales"),
        touch(6, 1, day(+5), "Direct", account=10),  # after the conversion
        touch(7, 3, day(-3), "Referral"),
    ],
    "transitions": [{"id": 1, "person_id": 1, "to_stage": "mql", "at": day(-9)}],
    "deals": [
        {
            "id": 1,
            "person_id": 1,
            "account_id": 10,
            "status": "won",
            "amount": Decimal("1000.00"),
            "close_date": date(2026, 3, 1),
        }
    ],
    "content_items": [{"id": 7, "key": "/blog/x", "title": "Lead scoring 101"}],
}


def test_won_journey_per_person_keeps_the_lookback_window_in_time_order() -> None:
    con = tables(**STORE)
    rows = run(con, JourneyQuery(kind="won", per="person", end=day(10)))
    won = [r for r in rows if r["total_conversions"] == 1]
    assert [(r["path"], r["total_conversion_value"]) for r in won] == [
        ("Organic Search > Email > Sales", 1000.0)
    ]
    nulls = sorted(r["path"] for r in rows if r["total_null"] == 1)
    assert nulls == ["Paid Social", "Referral"]


def test_per_account_joins_the_buying_group() -> None:
    con = tables(**STORE)
    rows = run(con, JourneyQuery(kind="won", per="account", end=day(10)))
    assert [r["path"] for r in rows if r["total_conversions"]] == [
        "Organic Search > Paid Social > Email > Sales"
    ]


def test_mql_conversion_uses_the_first_transition_and_dimensions() -> None:
    con = tables(**STORE)
    by_team = run(con, JourneyQuery(kind="mql", dimension="team", end=day(10)))
    assert [r["path"] for r in by_team if r["total_conversions"]] == ["marketing > marketing"]
    by_content = run(con, JourneyQuery(kind="mql", dimension="content", end=day(10)))
    assert [r["path"] for r in by_content if r["total_conversions"]] == [
        "Lead scoring 101 > (no content)"
    ]


@pytest.mark.parametrize("model", ["linear", "position_based", "markov", "shapley", "time_decay"])
def test_credit_from_stored_journeys_sums_to_conversions_and_revenue(model: str) -> None:
    con = tables(**STORE)
    paths = paths_from_touches(query(con, JourneyQuery(end=day(10))))
    result = attribute(paths, models=[model]).to_pylist()
    assert sum(r["conversions"] for r in result) == pytest.approx(1.0)
    assert sum(r["value"] for r in result) == pytest.approx(1000.0)
    assert {r["channel"] for r in result if r["conversions"] > 0} <= {
        "Organic Search",
        "Email",
        "Sales",
    }

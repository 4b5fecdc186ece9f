"""Who got what credit for one deal, worked out by hand: 0, 1 and 2 touches, a marketing and a
sales touch, milestones from the stored transitions, the buying group of an account, open and
lost deals. Queries run on an in-memory DuckDB over the analytics tables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from smarketing.analytics.attribution import AttributionSettings
from smarketing.analytics.engines.base import to_sql
from smarketing.analytics.reports.attribution import MODELS
from smarketing.analytics.reports.deal_credit import DealCredit, deal_credit
from smarketing.analytics.reports.deal_journey import (
    LOST_NOTE,
    NO_TOUCH_NOTE,
    OPEN_NOTE,
    deal_basis,
    deal_touches,
    population_touches,
)
from smarketing.analytics.tables import unbound
from smarketing.domain.model import Deal, DealStatus
from smarketing.playbook.schema import Attribution
from tests.analytics.test_attribution_journeys import tables

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour)


def touch(i: int, person: int, when: datetime, channel: str, **extra: Any) -> dict[str, Any]:
    team = "sales" if channel == "Sales" else "marketing"
    kind = "meeting" if team == "sales" else "page_view"
    return {
        "id": i,
        "person_id": person,
        "account_id": extra.pop("account", None),
        "occurred_at": when,
        "channel": channel,
        "team": team,
        "kind": kind,
        **extra,
    }


def deal_row(
    i: int,
    person: int,
    *,
    status: str = "won",
    amount: str = "1000.00",
    close: date | None = date(2026, 3, 15),
    account: int | None = None,
) -> dict[str, Any]:
    return {
        "id": i,
        "person_id": person,
        "account_id": account,
        "status": status,
        "amount": Decimal(amount),
        "close_date": close,
        "name": f"Deal {i}",
    }


def as_deal(row: dict[str, Any]) -> Deal:
    return Deal(
        id=row["id"],
        name=row["name"],
        person_id=row["person_id"],
        account_id=row["account_id"],
        status=DealStatus(row["status"]),
        amount=row["amount"],
        currency="USD",
        close_date=row["close_date"],
    )


# Person 1's deal: a blog visit (Organic Search) 14 days before the close, the rep's meeting
# 7 days before. Lead created at the blog visit, opportunity at the meeting.
# Population of 2026-Q1 for Markov / Shapley: person 2 won after a Sales touch only, person 3
# visited (Organic Search) and did not convert.
STORE: dict[str, list[dict[str, Any]]] = {
    "touchpoints": [
        touch(1, 1, at(3, 1), "Organic Search", content_id=7),
        touch(2, 1, at(3, 8), "Sales"),
        touch(3, 2, at(3, 10), "Sales"),
        touch(4, 3, at(3, 25), "Organic Search"),
    ],
    "transitions": [
        {"id": 1, "person_id": 1, "to_stage": "lead", "at": at(3, 1)},
        {"id": 2, "person_id": 1, "to_stage": "mql", "at": at(3, 2)},
        {"id": 3, "person_id": 1, "to_stage": "opportunity", "at": at(3, 8)},
        {"id": 4, "person_id": 1, "to_stage": "customer", "at": at(3, 15)},
    ],
    "deals": [
        deal_row(1, 1),
        deal_row(2, 2, close=date(2026, 3, 20)),
        deal_row(3, 9, status="lost", close=date(2026, 3, 30)),
        deal_row(4, 1, status="open", close=None, amount="500.00"),
    ],
    "people": [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 9}],
    "content_items": [{"id": 7, "key": "/blog/scoring", "title": "Lead scoring 101"}],
}


def breakdown(
    store: dict[str, list[dict[str, Any]]], deal_id: int, settings: Attribution | None = None
) -> DealCredit:
    con = tables(**store)
    row = next(d for d in store["deals"] if d["id"] == deal_id)
    basis = deal_basis(as_deal(row), settings or Attribution(), now=NOW)
    run = lambda expr: con.sql(to_sql(expr, "duckdb")).to_arrow_table()  # noqa: E731
    touches_expr = deal_touches(unbound(), basis)
    population_expr = population_touches(unbound(), basis)
    touches = run(touches_expr).cast(touches_expr.schema().to_pyarrow())
    population = run(population_expr).cast(population_expr.schema().to_pyarrow())
    return deal_credit(basis, touches, population, AttributionSettings())


def shares(credit: DealCredit) -> dict[str, list[float]]:
    rows = credit.touches.to_pylist()
    return {model: [row[model] for row in rows] for model in MODELS}


def assert_sums(credit: DealCredit) -> None:
    """Per model: shares sum to 1, revenue to the deal's value, totals to the touches."""
    by_model: dict[str, float] = {}
    for row in credit.credits.to_pylist():
        by_model[row["model"]] = by_model.get(row["model"], 0.0) + row["revenue"]
    for model, model_shares in shares(credit).items():
        assert sum(model_shares) == pytest.approx(1.0), model
        assert by_model[model] == pytest.approx(credit.basis.value), model
        for section in (credit.channels, credit.teams):
            rows = [r for r in section.to_pylist() if r["model"] == model]
            assert sum(r["share"] for r in rows) == pytest.approx(1.0)
            assert sum(r["revenue"] for r in rows) == pytest.approx(credit.basis.value)


def test_blog_touch_and_meeting_each_get_their_share_under_every_model() -> None:
    credit = breakdown(STORE, 1)
    assert credit.touches["touch_id"].to_pylist() == [1, 2]
    assert credit.touches["content"].to_pylist() == ["Lead scoring 101", None]
    assert credit.touches["team"].to_pylist() == ["marketing", "sales"]
    got = shares(credit)
    third = 1 / 3
    expected = {
        "first_touch": [1.0, 0.0],
        "last_touch": [0.0, 1.0],
        "last_non_direct": [0.0, 1.0],
        "linear": [0.5, 0.5],
        # 2^(-14/7) and 2^(-7/7), normalised
        "time_decay": [third, 2 * third],
        "position_based": [0.5, 0.5],
        # first 30 + lead creation 30 on the blog visit, opportunity 30 on the meeting; no
        # touch is left for the rest, so 60/90 and 30/90
        "w_shaped": [2 * third, third],
        # first + lead on the blog visit, opportunity + closed-won on the meeting
        "full_path": [0.5, 0.5],
        # Q1 journeys: OS > Sales (won), Sales (won), OS (lost). P(conversion) = 2/3;
        # without OS 1/3 (RE 0.5), without Sales 0 (RE 1): split 0.5 : 1
        "markov": [third, 2 * third],
        # phi: OS 1/2 (from this deal), Sales 1/2 + 1: split 0.5 : 1.5
        "shapley": [0.25, 0.75],
    }
    for model, values in expected.items():
        assert got[model] == pytest.approx(values), model
    assert_sums(credit)
    teams = {(r["model"], r["team"]): r["revenue"] for r in credit.teams.to_pylist()}
    assert teams[("linear", "marketing")] == pytest.approx(500.0)
    assert teams[("shapley", "sales")] == pytest.approx(750.0)
    assert credit.basis.period.label == "2026-Q1"
    assert credit.notes == ()


def test_one_touch_gets_everything_under_every_model() -> None:
    credit = breakdown(STORE, 2)
    assert all(values == [pytest.approx(1.0)] for values in shares(credit).values())
    assert_sums(credit)


def test_no_touch_in_the_window_credits_nothing_and_says_so() -> None:
    credit = breakdown(STORE, 3)  # person 9 never touched anything; the deal was lost
    assert credit.touches.num_rows == 0
    assert credit.credits.num_rows == 0
    assert credit.basis.value == 0.0
    assert credit.notes == (LOST_NOTE, NO_TOUCH_NOTE)
    assert {r["share"] for r in credit.teams.to_pylist()} == {0.0}


def test_open_deal_is_measured_against_now_with_its_open_amount() -> None:
    credit = breakdown(STORE, 4)
    assert credit.basis.converted_at == NOW.replace(tzinfo=None)
    assert credit.basis.value == 500.0
    assert credit.basis.period.label == "2026-Q2"
    assert OPEN_NOTE in credit.notes
    assert credit.touches["touch_id"].to_pylist() == [1, 2]
    # not closed yet, so no closed-won milestone: first + lead 45 on the blog, 22.5 on the meeting
    assert shares(credit)["full_path"] == pytest.approx([2 / 3, 1 / 3])
    assert_sums(credit)


def test_lost_deal_keeps_the_split_with_value_zero() -> None:
    store = {**STORE, "deals": [deal_row(1, 1, status="lost")]}
    credit = breakdown(store, 1)
    assert shares(credit)["linear"] == [pytest.approx(0.5), pytest.approx(0.5)]
    # closed, not won: no closed-won milestone, so full path is W-shaped's split
    assert shares(credit)["full_path"] == pytest.approx([2 / 3, 1 / 3])
    assert {r["revenue"] for r in credit.credits.to_pylist()} == {0.0}
    assert LOST_NOTE in credit.notes


def test_per_account_credits_the_whole_buying_group() -> None:
    store = {
        "people": [{"id": 1, "account_id": 10}, {"id": 5, "account_id": 10}],
        "touchpoints": [
            touch(1, 1, at(3, 1), "Organic Search", account=10),
            touch(2, 5, at(3, 5), "Paid Social", account=10),
            touch(3, 1, at(3, 8), "Sales", account=10),
            touch(4, 5, at(3, 16), "Email", account=10),  # after the close
        ],
        "transitions": [{"id": 1, "person_id": 5, "to_stage": "lead", "at": at(3, 5)}],
        "deals": [deal_row(1, 1, account=10)],
    }
    credit = breakdown(store, 1, Attribution(per="account"))
    assert credit.basis.per == "account"
    assert credit.touches["person_id"].to_pylist() == [1, 5, 1]
    got = shares(credit)
    assert got["linear"] == pytest.approx([1 / 3] * 3)
    # lead creation is the colleague's Paid Social visit; no opportunity transition is stored
    # for the account, so that milestone is absent: 30 / 30 / 10 over first, lead, the rest
    assert got["w_shaped"] == pytest.approx([3 / 7, 3 / 7, 1 / 7])
    assert_sums(credit)


def test_per_account_without_an_account_falls_back_to_the_person() -> None:
    credit = breakdown(STORE, 1, Attribution(per="account"))
    assert credit.basis.per == "person"
    assert "no account" in credit.notes[0]
    assert credit.touches.num_rows == 2


def test_lead_created_before_the_window_is_no_milestone() -> None:
    store = {
        **STORE,
        "transitions": [
            {"id": 1, "person_id": 1, "to_stage": "lead", "at": at(1, 1)},
            {"id": 3, "person_id": 1, "to_stage": "opportunity", "at": at(3, 8)},
        ],
        "touchpoints": [
            touch(9, 1, at(1, 1), "Display"),  # created the lead, 73 days before the close
            *STORE["touchpoints"],
        ],
    }
    credit = breakdown(store, 1, Attribution(lookback_days=30))
    assert credit.touches["touch_id"].to_pylist() == [1, 2]
    # lead creation (1 Jan) lies before the 30-day window: first 30, opportunity 30, rest 0
    assert shares(credit)["w_shaped"] == pytest.approx([0.5, 0.5])


def test_the_sections_name_every_model() -> None:
    credit = breakdown(STORE, 1)
    sections = credit.sections()
    assert list(sections) == ["deal", "touches", "teams", "channels", "credits"]
    assert set(credit.touches.column_names) >= set(MODELS)
    assert sections["deal"].to_pylist()[0]["touches"] == 2
    assert isinstance(sections["credits"], pa.Table)

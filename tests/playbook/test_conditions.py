"""Conditions are data, judged without eval; missing fields never match."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from smarketing.playbook.conditions import Condition, evaluate

ADAPTER: TypeAdapter[Any] = TypeAdapter(Condition)
RECORD = {
    "person": {"title": "VP Marketing", "country": "DE", "freemail": False},
    "account": {"employees": 250, "industry": "Software"},
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "person.title", "matches": r"(?i)\bvp\b"}, True),
        ({"field": "person.country", "in": ["de", "fr"]}, True),
        ({"field": "person.country", "not_in": ["DE"]}, False),
        ({"field": "account.employees", "gte": 250}, True),
        ({"field": "account.employees", "gt": 250}, False),
        ({"field": "account.industry", "eq": "software"}, True),
        ({"field": "account.industry", "contains": "soft"}, True),
        ({"field": "account.revenue", "exists": False}, True),
        ({"field": "account.revenue", "gte": 0}, False),
        ({"field": "account.revenue", "ne": 5}, True),
        (
            {
                "all": [
                    {"field": "person.country", "eq": "DE"},
                    {"field": "account.employees", "lt": 100},
                ]
            },
            False,
        ),
        (
            {
                "any": [
                    {"field": "person.country", "eq": "US"},
                    {"field": "account.employees", "lte": 250},
                ]
            },
            True,
        ),
        ({"not": {"field": "person.freemail", "eq": True}}, True),
    ],
)
def test_operators(condition: dict[str, Any], expected: bool) -> None:
    assert evaluate(ADAPTER.validate_python(condition), RECORD) is expected


@given(st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_not_is_the_complement(employees: int, bound: int) -> None:
    c = ADAPTER.validate_python({"field": "account.employees", "gte": bound})
    n = ADAPTER.validate_python({"not": {"field": "account.employees", "gte": bound}})
    record = {"account": {"employees": employees}}
    assert evaluate(c, record) is (employees >= bound)
    assert evaluate(n, record) is not evaluate(c, record)


def test_non_numeric_value_never_matches_a_number_bound() -> None:
    c = ADAPTER.validate_python({"field": "account.employees", "gte": 1})
    assert evaluate(c, {"account": {"employees": "many"}}) is False

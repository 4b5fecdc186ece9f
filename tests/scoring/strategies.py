"""Hypothesis strategies: random playbook scoring sections, people and their touches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from smarketing.domain.scoring import Touch
from tests.scoring.factories import NOW

EVENTS = ("Demo Watched", "webinar attended", "Whitepaper Downloaded")
PAGES = ("^/pricing", "^/blog/", "pricing", "^/$")
KINDS = ("page_view", "event", "form_fill", "screen_view", "webinar")
NAMES = (None, "Demo Watched", "WEBINAR ATTENDED", "Whitepaper Downloaded", "Other")
URLS = (
    None,
    "https://a.example/pricing",
    "https://a.example/pricing?plan=pro",
    "https://a.example/blog/pricing-tips",
    "https://a.example/",
    "/blog/x",
)
CHANNELS = ("Email", "Organic Search", "Paid Search")
TITLES = (None, "VP Sales", "Marketing Manager", "Chief Executive", "Intern")
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe")
DAY = 86_400

WHENS: tuple[dict[str, Any], ...] = (
    {"field": "event.channel", "eq": "email"},
    {"field": "event.kind", "in": ["webinar", "form_fill"]},
    {"field": "person.title", "matches": "(?i)vp|chief"},
    {"not": {"field": "account.employees", "lt": 100}},
)


@st.composite
def engagement_rule(draw: st.DrawFn, index: int, *, positive: bool = False) -> dict[str, Any]:
    trigger = draw(st.sampled_from(("event", "page", "event+page", "when", "page+when")))
    rule: dict[str, Any] = {
        "id": f"r{index}",
        "points": draw(st.integers(1, 30) if positive else st.integers(-10, 30)),
    }
    if "event" in trigger:
        rule["event"] = draw(st.sampled_from(EVENTS))
    if "page" in trigger:
        rule["page"] = draw(st.sampled_from(PAGES))
    if "when" in trigger:
        rule["when"] = draw(st.sampled_from(WHENS))
    if draw(st.booleans()):
        rule["cap"] = draw(st.integers(1, 60))
    if draw(st.booleans()):
        rule["daily_cap"] = draw(st.integers(1, 40))
    return rule


@st.composite
def sections(draw: st.DrawFn, *, positive: bool = False, caps: bool = True) -> dict[str, Any]:
    """`timezone`, `fit` and `engagement` sections of a playbook."""
    n = draw(st.integers(1, 4))
    rules = [draw(engagement_rule(i, positive=positive)) for i in range(n)]
    if not caps:
        for r in rules:
            r.pop("cap", None)
    fit_rules = [
        {"id": "vp", "when": {"field": "person.title", "matches": "(?i)vp"}, "points": 20},
        {"id": "big", "when": {"field": "account.employees", "gte": 200}, "points": 15},
        {"id": "free", "when": {"field": "person.freemail", "eq": True}, "points": -10},
    ]
    return {
        "timezone": draw(st.sampled_from(ZONES)),
        "fit": {
            "rules": draw(st.lists(st.sampled_from(fit_rules), unique_by=lambda r: r["id"])),
            "max_points": draw(st.none() | st.integers(1, 40)),
        },
        "engagement": {
            "half_life_days": draw(st.sampled_from((1, 2.5, 7, 30))),
            "daily_cap": draw(st.none() | st.integers(1, 50)),
            "rules": rules,
        },
    }


@st.composite
def touches(draw: st.DrawFn, *, max_size: int = 10, future: bool = True) -> list[Touch]:
    low = -3 * DAY if future else 0
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        seconds = draw(st.integers(low, 90 * DAY))
        out.append(
            Touch(
                occurred_at=NOW - timedelta(seconds=seconds),
                kind=draw(st.sampled_from(KINDS)),
                name=draw(st.sampled_from(NAMES)),
                url=draw(st.sampled_from(URLS)),
                fields={"channel": draw(st.sampled_from(CHANNELS))},
            )
        )
    return out


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    account = draw(st.none() | st.fixed_dictionaries({"employees": st.integers(1, 1000)}))
    return {
        "person": {
            "title": draw(st.sampled_from(TITLES)),
            "freemail": draw(st.sampled_from((None, True, False))),
        },
        "account": account or {},
    }

"""Hand-worked scores: each test is a small scenario worked out on paper (see domain.scoring)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smarketing.domain.scoring import MAX_POINTS_ID
from smarketing.playbook.defaults import default_playbook_text
from smarketing.playbook.loader import load_playbook_text
from smarketing.services.scoring_rules import compile_rules
from tests.scoring.factories import NOW, engagement, event, record, rules, score, view

VP_AT_SOFTWARE = record(
    {"title": "VP Marketing", "email": "vp@acme.com", "freemail": False},
    {"employees": 500, "industry": "software"},
)


def default_rules():
    loaded = load_playbook_text(default_playbook_text(NOW.date()))
    return compile_rules(loaded.playbook).rules


def fit_of(result) -> dict[str, float]:
    return {c.rule_id: c.points for c in result.contributions if c.part == "fit"}


def test_default_fit_adds_the_rules_that_hold() -> None:
    result = score(default_rules(), [], who=VP_AT_SOFTWARE)
    # decision-maker 20 + mid-market 15 + target industry 10 (`in` ignores case)
    assert fit_of(result) == {
        "decision-maker": 20,
        "mid-market-or-larger": 15,
        "target-industry": 10,
    }
    assert (result.fit, result.engagement, result.total) == (45, 0, 45)


def test_negative_points_and_no_floor() -> None:
    freemail_student = record({"title": "Student", "freemail": True}, None)
    result = score(default_rules(), [], who=freemail_student)
    assert fit_of(result) == {"freemail-address": -10}
    assert result.fit == -10
    missing_email = record({"title": "Student", "freemail": None})
    assert score(default_rules(), [], who=missing_email).fit == 0


def test_max_points_caps_fit_and_says_by_how_much() -> None:
    r = rules(
        fit={
            "max_points": 30,
            "rules": [
                {"id": "vp", "when": {"field": "person.title", "matches": "VP"}, "points": 20},
                {"id": "big", "when": {"field": "account.employees", "gte": 200}, "points": 15},
                {"id": "free", "when": {"field": "person.freemail", "eq": True}, "points": -10},
            ],
        }
    )
    assert score(r, [], who=VP_AT_SOFTWARE).fit == 30
    result = score(r, [], who=VP_AT_SOFTWARE)
    assert fit_of(result) == {"vp": 20, "big": 15, MAX_POINTS_ID: -5}
    with_free = record({"title": "VP", "freemail": True}, {"employees": 900})
    assert score(r, [], who=with_free).fit == 25  # 20 + 15 - 10 = 25 is under the cap


def test_decay_at_zero_one_and_two_half_lives() -> None:
    r = engagement({"id": "demo", "event": "Demo Watched", "points": 16})
    assert score(r, [event("Demo Watched", 0)]).engagement == 16
    assert score(r, [event("Demo Watched", 30)]).engagement == 8
    assert score(r, [event("Demo Watched", 60)]).engagement == 4
    both = score(r, [event("Demo Watched", 0), event("Demo Watched", 30)])
    assert both.engagement == 24


def test_age_is_counted_in_whole_local_days() -> None:
    r = engagement({"id": "demo", "event": "Demo Watched", "points": 16}, half_life_days=1)
    # 08:59 the same day: age 0; 09:01 the day before: age 1, although 23h58 ago
    assert (
        score(r, [event("Demo Watched", at=datetime(2026, 1, 5, 0, 1, tzinfo=UTC))]).engagement
        == 16
    )
    assert (
        score(r, [event("Demo Watched", at=datetime(2026, 1, 4, 9, 1, tzinfo=UTC))]).engagement == 8
    )


def test_rule_cap_is_first_come_first_served() -> None:
    r = engagement(
        {"id": "wp", "event": "Whitepaper Downloaded", "points": 15, "cap": 40}, half_life_days=10
    )
    result = score(r, [event("Whitepaper Downloaded", d) for d in (20, 10, 0)])
    (line,) = result.contributions
    assert [d.counted for d in line.days] == [15, 15, 10]
    assert [d.points for d in line.days] == [3.75, 7.5, 10]
    assert line.raw_points == 45
    assert result.engagement == 21.25


def test_rule_daily_cap() -> None:
    r = engagement({"id": "pricing", "page": "^/pricing", "points": 10, "daily_cap": 10})
    three_today = [view("https://acme.com/pricing", 0) for _ in range(3)]
    assert score(r, three_today).engagement == 10
    assert score(r, [*three_today, view("/pricing", 30)]).engagement == 15


def test_person_daily_cap_shares_the_day_and_leaves_negatives_alone() -> None:
    r = engagement(
        {"id": "webinar", "event": "Webinar Attended", "points": 20},
        {"id": "blog", "page": "^/blog/", "points": 10},
        {"id": "unsubscribe", "event": "Unsubscribed", "points": -5},
        daily_cap=25,
    )
    day = [event("Webinar Attended"), view("/blog/a")]
    result = score(r, day)
    lines = {c.rule_id: c.points for c in result.contributions}
    assert lines == pytest.approx({"webinar": 20 * 25 / 30, "blog": 10 * 25 / 30})
    assert result.engagement == pytest.approx(25)
    assert score(r, [*day, event("Unsubscribed")]).engagement == pytest.approx(20)
    # another day is another cap
    assert score(r, [*day, view("/blog/b", 30)]).engagement == pytest.approx(30)


def test_page_is_a_regex_over_the_path_of_page_views() -> None:
    r = engagement({"id": "pricing", "page": "^/pricing", "points": 10})
    assert score(r, [view("https://acme.com/pricing?plan=pro#faq")]).engagement == 10
    assert score(r, [view("https://acme.com/pricing/enterprise")]).engagement == 10
    assert score(r, [view("https://acme.com/blog/pricing-tips")]).engagement == 0
    assert score(r, [view("https://acme.com/?next=/pricing")]).engagement == 0
    # a tracked event on the pricing page is not a page view
    assert score(r, [event("Clicked", url="https://acme.com/pricing")]).engagement == 0
    anywhere = engagement({"id": "pricing", "page": "pricing", "points": 10})
    assert score(anywhere, [view("https://acme.com/blog/pricing-tips")]).engagement == 10


def test_event_name_ignores_case_but_nothing_else() -> None:
    r = engagement({"id": "wp", "event": "whitepaper downloaded", "points": 15})
    assert score(r, [event("Whitepaper Downloaded", kind="form_fill")]).engagement == 15
    assert score(r, [event("WHITEPAPER DOWNLOADED")]).engagement == 15
    assert score(r, [event("Whitepaper Downloaded ")]).engagement == 0
    assert score(r, [event("Whitepaper")]).engagement == 0
    # a page view named like the event is not the event
    assert score(r, [view("/wp", name="Whitepaper Downloaded")]).engagement == 0


def test_event_and_page_together_narrow_the_event_to_those_pages() -> None:
    r = engagement(
        {"id": "pricing-form", "event": "Form Submitted", "page": "^/pricing", "points": 30}
    )
    assert score(r, [event("Form Submitted", url="https://acme.com/pricing")]).engagement == 30
    assert score(r, [event("Form Submitted", url="https://acme.com/contact")]).engagement == 0


def test_when_reads_the_event_the_person_and_the_account() -> None:
    r = engagement(
        {
            "id": "pro-trial",
            "event": "Trial Started",
            "when": {"field": "event.properties.plan", "eq": "pro"},
            "points": 25,
        },
        {
            "id": "exec-webinar",
            "when": {
                "all": [
                    {"field": "event.kind", "eq": "webinar"},
                    {"field": "person.title", "matches": "(?i)chief"},
                ]
            },
            "points": 40,
        },
    )
    pro = event("Trial Started", properties={"plan": "Pro"})
    assert score(r, [pro]).engagement == 25
    assert score(r, [event("Trial Started", properties={"plan": "basic"})]).engagement == 0
    webinar = event("Webinar Attended", kind="webinar")
    chief = record({"title": "Chief Revenue Officer"})
    assert score(r, [webinar], who=chief).engagement == 40
    assert score(r, [webinar], who=record({"title": "Intern"})).engagement == 0


def test_days_are_calendar_days_in_the_playbook_time_zone() -> None:
    late = datetime(2026, 1, 4, 22, 30, tzinfo=UTC)  # 23:30 in Berlin on the 4th
    later = datetime(2026, 1, 4, 23, 30, tzinfo=UTC)  # 00:30 in Berlin on the 5th
    rule = {"id": "pricing", "page": "^/pricing", "points": 10, "daily_cap": 10}
    touches = [view("/pricing", at=late), view("/pricing", at=later)]
    utc = score(rules(engagement={"half_life_days": 1e9, "rules": [rule]}), touches)
    berlin = score(
        rules(timezone="Europe/Berlin", engagement={"half_life_days": 1e9, "rules": [rule]}),
        touches,
    )
    assert utc.engagement == pytest.approx(10)
    assert berlin.engagement == pytest.approx(20)
    assert [d.day.isoformat() for d in berlin.contributions[0].days] == ["2026-01-04", "2026-01-05"]


def test_touches_after_now_do_not_count_yet() -> None:
    r = engagement({"id": "demo", "event": "Demo Watched", "points": 16})
    assert score(r, [event("Demo Watched", -0.5)]).engagement == 0


def test_explanation_names_each_rule_with_points_now_raw_and_when() -> None:
    r = default_rules()
    touches = [
        event("Whitepaper Downloaded", 30, kind="form_fill"),
        event("Whitepaper Downloaded", 0, kind="form_fill"),
        view("https://www.acme.com/blog/one", 0),
    ]
    result = score(r, touches, who=VP_AT_SOFTWARE)
    by_rule = {c.rule_id: c for c in result.contributions}
    wp = by_rule["whitepaper-download"]
    assert (wp.points, wp.raw_points, wp.touches) == (7.5 + 15, 30, 2)
    assert wp.first_at == touches[0].occurred_at
    assert wp.last_at == touches[1].occurred_at
    assert by_rule["blog-read"].points == 2
    assert sum(c.points for c in result.contributions) == pytest.approx(result.total)
    assert result.total == 45 + 22.5 + 2

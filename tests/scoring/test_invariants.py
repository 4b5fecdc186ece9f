"""Invariants of the scoring contract (domain.scoring docstring), proved with Hypothesis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from smarketing.domain.scoring import Touch
from tests.scoring.factories import NOW, compiled, engagement, event, score
from tests.scoring.strategies import CHANNELS, KINDS, NAMES, URLS, records, sections, touches

EPS = 1e-9


@settings(max_examples=60, deadline=None)
@given(sections(), records(), touches())
def test_caps_are_never_exceeded(playbook_sections, who, person_touches) -> None:
    c = compiled(**playbook_sections)
    result = score(c.rules, person_touches, who=who)
    rules = {r.id: r for r in c.rules.engagement}
    positive_per_day: dict[object, float] = {}
    for line in result.contributions:
        if line.part == "fit":
            continue
        rule = rules[line.rule_id]
        if rule.cap is not None:
            assert sum(abs(d.counted) for d in line.days) <= rule.cap + EPS
        for d in line.days:
            if rule.daily_cap is not None:
                assert abs(d.counted) <= rule.daily_cap + EPS
            if rule.points > 0:
                positive_per_day[d.day] = positive_per_day.get(d.day, 0) + d.counted
    if c.rules.daily_cap is not None:
        assert all(p <= c.rules.daily_cap + EPS for p in positive_per_day.values())
    if c.rules.max_fit is not None:
        assert result.fit <= c.rules.max_fit


@settings(max_examples=40, deadline=None)
@given(sections(), records(), touches())
def test_contributions_sum_to_the_total(playbook_sections, who, person_touches) -> None:
    result = score(compiled(**playbook_sections).rules, person_touches, who=who)
    assert sum(c.points for c in result.contributions) == pytest.approx(result.total, abs=EPS)
    assert result.total == result.fit + result.engagement


@settings(max_examples=40, deadline=None)
@given(st.integers(-1000, 1000), st.integers(1, 90), st.integers(0, 3))
def test_decay_halves_at_each_half_life(points: int, half_life: int, k: int) -> None:
    r = engagement({"id": "e", "event": "Demo Watched", "points": points}, half_life_days=half_life)
    result = score(r, [event("Demo Watched", k * half_life)])
    assert result.engagement == pytest.approx(points * 0.5**k, rel=1e-12, abs=1e-12)


@st.composite
def new_touch(draw: st.DrawFn, earliest_seconds_ago: int) -> Touch:
    seconds = draw(st.integers(0, earliest_seconds_ago))
    return Touch(
        occurred_at=NOW - timedelta(seconds=seconds),
        kind=draw(st.sampled_from(KINDS)),
        name=draw(st.sampled_from(NAMES)),
        url=draw(st.sampled_from(URLS)),
        fields={"channel": draw(st.sampled_from(CHANNELS))},
    )


@settings(max_examples=80, deadline=None)
@given(sections(positive=True), records(), touches(future=False), st.data())
def test_a_new_positive_touch_never_lowers_the_score(
    playbook_sections, who, person_touches, data
) -> None:
    """Events arrive in time order: the new touch is at or after every earlier one."""
    rules = compiled(**playbook_sections).rules
    latest = max((t.occurred_at for t in person_touches), default=NOW - timedelta(days=90))
    added = data.draw(new_touch(int((NOW - latest).total_seconds())))
    before = score(rules, person_touches, who=who)
    after = score(rules, [*person_touches, added], who=who)
    assert after.total >= before.total - EPS


@settings(max_examples=60, deadline=None)
@given(sections(positive=True, caps=False), records(), touches(future=False), st.data())
def test_without_rule_caps_a_positive_touch_at_any_time_never_lowers_the_score(
    playbook_sections, who, person_touches, data
) -> None:
    rules = compiled(**playbook_sections).rules
    added = data.draw(new_touch(90 * 86_400))
    before = score(rules, person_touches, who=who)
    after = score(rules, [*person_touches, added], who=who)
    assert after.total >= before.total - EPS


@settings(max_examples=40, deadline=None)
@given(sections(), touches(future=False), st.data())
def test_negative_rules_do_not_break_monotony_for_touches_they_do_not_match(
    playbook_sections, person_touches, data
) -> None:
    rules = compiled(**playbook_sections).rules
    latest = max((t.occurred_at for t in person_touches), default=NOW - timedelta(days=90))
    added = data.draw(new_touch(int((NOW - latest).total_seconds())))
    alone = score(rules, [added])
    assume(all(c.raw_points >= 0 for c in alone.contributions if c.part == "engagement"))
    before = score(rules, person_touches)
    after = score(rules, [*person_touches, added])
    assert after.total >= before.total - EPS


@settings(max_examples=30, deadline=None)
@given(sections(), st.sampled_from((None, "Intern", "VP Sales")), st.integers(1, 1000))
def test_a_positive_fit_rule_that_starts_to_hold_never_lowers_fit(
    playbook_sections, title, employees
) -> None:
    rules = compiled(**playbook_sections).rules
    base = {"person": {"title": title}, "account": {"employees": employees}}
    promoted = {"person": {"title": "VP Sales"}, "account": {"employees": max(employees, 500)}}
    assume(title != "VP Sales" or employees < 200)
    assert score(rules, [], who=promoted).fit >= score(rules, [], who=base).fit

"""Lead scoring: fit + engagement from the playbook's rules. Pure: plain records in, numbers out.

This docstring is the contract. `score_person` below computes it the plain way (and explains
it); `domain.scoring_batch` computes the same numbers for many people at once with numpy, and
`bench/score.py` checks that one SQL statement gets them too.

Records. Conditions see `{"person": P, "account": A}` (`A` is `{}` without an account). `P` has
the person's traits, then their columns (`id`, `email`, `first_name`, `last_name`, `title`,
`phone`, `country`, `stage`, `owner_id`, `original_channel`; a column wins over a trait of the
same name), then `email_domain` and `freemail` (True for a free-mail address, None without an
email); `A` has the account's traits, then `id`, `name`, `domain`, `industry`, `employees`,
`annual_revenue`, `owner_id`. An engagement `when` also sees `"event": E`, the touch: `kind`,
`name`, `url`, `path`, `channel`, `source`, `medium`, `campaign`, `team`, `referrer`,
`properties`.

Fit. `fit_raw` = the sum of `points` of every fit rule whose `when` holds (negative points
included); `fit = min(fit_raw, max_points)` when `max_points` is set. There is no floor.

Engagement. Only touches that occurred at or before `now` count. A rule matches a touch when
every trigger it names matches (one touch may match several rules; each counts it):
- `event`: the touch is a tracked event (kind not `page_view`/`screen_view`) whose name equals
  `event` ignoring case (casefold; no trimming);
- `page`: `re.search(page, path)` on the URL path (`domain.utm.path_of`: no host, query or
  fragment; `/` for a bare host). A rule with `page` and no `event` matches page views only;
- `when`: the condition holds over `{"event": E, "person": P, "account": A}`.

A touch's day is the calendar date of `occurred_at` in the playbook's `timezone`; `today` is the
date of `now` there. For each rule r (points p, sign s) and day d on which it matched n touches:
1. raw = n * p;
2. rule daily cap: v = s * min(|raw|, daily_cap)  (v = raw without a `daily_cap`);
3. rule cap, first come first served: with C(d) = sum of |v| over the rule's days up to and
   including d, a = s * (min(C(d), cap) - min(C(d) - |v|, cap)); days after the cap is
   reached add nothing (a = v without a `cap`);
4. person daily cap D (`engagement.daily_cap`): with P(d) = the sum of a over the rules with
   p > 0, when P(d) > D every positive a of day d is multiplied by D / P(d), so the day's
   positive points are min(P(d), D); negative points are not capped by D;
5. decay: points now = a * 0.5 ** (age / half_life_days), age = (today - d) in whole days.
engagement = the sum of points now over rules and days; total = fit + engagement.

In one formula (what the SQL computes): engagement = sum over days d of
(min(P(d), D) + N(d)) * 0.5 ** ((today - d) / half_life_days), N(d) = the day's negative a.

Rounding: none. Caps work on integers; decay and the daily-cap share are IEEE doubles. Scores
are stored unrounded and shown to two decimals; another engine summing in another order agrees
to about 1e-12.

Invariants (proved with Hypothesis in tests/scoring):
- caps: a rule never counts more than `cap` (in magnitude) in all, nor `daily_cap` in a day;
  a day's positive points never exceed the person daily cap; fit never exceeds `max_points`;
- decay: points earned one half-life ago count one half, two half-lives ago one quarter;
- monotone: a touch that matches only positive rules and arrives at or after every earlier
  touch (the way events arrive) never lowers the score; without rule `cap`s, neither does one
  at any time (with a `cap`, an early touch can take the cap from a later, less decayed one).
  A positive fit rule that starts to hold never lowers fit;
- explainable: the contributions sum to the total.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from smarketing.domain.utm import path_of

Record = Mapping[str, Any]
Test = Callable[[Record], bool]
VIEW_KINDS = frozenset({"page_view", "screen_view"})
MAX_POINTS_ID = "(max_points)"
"""Rule id of the fit line that takes off what `max_points` cuts (never a valid rule id)."""
Part = Literal["fit", "engagement"]


@dataclass(frozen=True, slots=True)
class FitRule:
    id: str
    points: int
    test: Test
    fields: tuple[str, ...] = ()
    """Dotted fields the test reads; with them, batches judge each distinct value once."""


@dataclass(frozen=True, slots=True)
class EngagementRule:
    id: str
    points: int
    event: str | None = None
    page: re.Pattern[str] | None = None
    when: Test | None = None
    when_reads_person: bool = False
    """True when `when` reads `person.*` or `account.*` (then judged per touch)."""
    cap: int | None = None
    daily_cap: int | None = None

    def matches_touch(self, kind: str, name: str | None, path: str | None) -> bool:
        """The `event` and `page` triggers (the `when` is judged by the caller)."""
        if self.event is not None and (
            kind in VIEW_KINDS or name is None or name.casefold() != self.event.casefold()
        ):
            return False
        if self.page is not None:
            if self.event is None and kind != "page_view":
                return False
            if path is None or self.page.search(path) is None:
                return False
        return True


@dataclass(frozen=True, slots=True)
class ScoringRules:
    """The playbook's scoring sections, compiled (see `services.scoring.compile_rules`)."""

    timezone: str = "UTC"
    fit: tuple[FitRule, ...] = ()
    max_fit: int | None = None
    engagement: tuple[EngagementRule, ...] = ()
    half_life_days: float = 30.0
    daily_cap: int | None = None


@dataclass(frozen=True, slots=True)
class Touch:
    occurred_at: datetime
    kind: str
    name: str | None = None
    url: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    """Other event fields a `when` may read (channel, source, medium, properties, ...)."""

    def record(self) -> dict[str, Any]:
        return {
            **self.fields,
            "kind": self.kind,
            "name": self.name,
            "url": self.url,
            "path": path_of(self.url),
        }


@dataclass(frozen=True, slots=True)
class DayPoints:
    day: date
    touches: int
    raw: float
    counted: float
    """After the rule's daily cap, its cap and the person's daily cap."""
    points: float
    """`counted` decayed to now."""


@dataclass(frozen=True, slots=True)
class Contribution:
    part: Part
    rule_id: str
    points: float
    """What the rule adds to the total now (after caps and decay)."""
    raw_points: float
    """Before caps and decay: touches x points (fit: the rule's points)."""
    touches: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    days: tuple[DayPoints, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoreResult:
    person_id: int
    fit: float
    engagement: float
    total: float
    computed_at: datetime
    contributions: tuple[Contribution, ...] = ()


def decay_factor(age_days: int, half_life_days: float) -> float:
    return float(0.5 ** (age_days / half_life_days))


def clip(value: float, cap: int | None) -> float:
    """`value` with its magnitude capped (`cap` None: unchanged)."""
    if cap is None:
        return value
    return max(-float(cap), min(float(cap), value))


def score_fit(rules: ScoringRules, record: Record) -> tuple[float, list[Contribution]]:
    """Fit points of one `{"person": ..., "account": ...}` record, with the rules that gave them."""
    lines = [
        Contribution("fit", r.id, float(r.points), float(r.points))
        for r in rules.fit
        if r.test(record)
    ]
    raw = float(sum(r.points for r in lines))
    if rules.max_fit is not None and raw > rules.max_fit:
        cut = rules.max_fit - raw
        lines.append(Contribution("fit", MAX_POINTS_ID, cut, 0.0))
        return float(rules.max_fit), lines
    return raw, lines


@dataclass
class _RuleDays:
    touches: dict[date, int] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None

    def add(self, day: date, at: datetime) -> None:
        self.touches[day] = self.touches.get(day, 0) + 1
        self.first = at if self.first is None or at < self.first else self.first
        self.last = at if self.last is None or at > self.last else self.last


def _sign(points: int) -> int:
    return (points > 0) - (points < 0)


def _matched(
    rules: ScoringRules, touches: Sequence[Touch], now: datetime, record: Record
) -> list[_RuleDays]:
    zone = ZoneInfo(rules.timezone)
    per_rule = [_RuleDays() for _ in rules.engagement]
    for touch in touches:
        if touch.occurred_at > now:
            continue
        event = touch.record()
        judged = {**record, "event": event}
        day = touch.occurred_at.astimezone(zone).date()
        for rule, days in zip(rules.engagement, per_rule, strict=True):
            if rule.matches_touch(touch.kind, touch.name, event["path"]) and (
                rule.when is None or rule.when(judged)
            ):
                days.add(day, touch.occurred_at)
    return per_rule


def score_engagement(
    rules: ScoringRules, touches: Sequence[Touch], now: datetime, record: Record
) -> tuple[float, list[Contribution]]:
    """Engagement points now, with one contribution per rule that matched (days included)."""
    per_rule = _matched(rules, touches, now, record)
    counted: list[dict[date, float]] = []
    for rule, days in zip(rules.engagement, per_rule, strict=True):
        sign, used, after = _sign(rule.points), 0.0, {}
        for day in sorted(days.touches):
            v = abs(clip(days.touches[day] * rule.points, rule.daily_cap))
            allowed = v if rule.cap is None else min(used + v, rule.cap) - min(used, rule.cap)
            used += v
            after[day] = sign * allowed
        counted.append(after)
    if rules.daily_cap is not None:
        positive: dict[date, float] = {}
        for rule, after in zip(rules.engagement, counted, strict=True):
            if rule.points > 0:
                for day, a in after.items():
                    positive[day] = positive.get(day, 0.0) + a
        share = {d: rules.daily_cap / p for d, p in positive.items() if p > rules.daily_cap}
        for rule, after in zip(rules.engagement, counted, strict=True):
            if rule.points > 0:
                for day in after:
                    after[day] *= share.get(day, 1.0)
    today = now.astimezone(ZoneInfo(rules.timezone)).date()
    lines: list[Contribution] = []
    for rule, days, after in zip(rules.engagement, per_rule, counted, strict=True):
        if not days.touches:
            continue
        breakdown = tuple(
            DayPoints(
                day=day,
                touches=days.touches[day],
                raw=float(days.touches[day] * rule.points),
                counted=after[day],
                points=after[day] * decay_factor((today - day).days, rules.half_life_days),
            )
            for day in sorted(days.touches)
        )
        lines.append(
            Contribution(
                "engagement",
                rule.id,
                points=sum(d.points for d in breakdown),
                raw_points=sum(d.raw for d in breakdown),
                touches=sum(d.touches for d in breakdown),
                first_at=days.first,
                last_at=days.last,
                days=breakdown,
            )
        )
    return sum(c.points for c in lines), lines


def score_person(
    person_id: int,
    rules: ScoringRules,
    record: Record,
    touches: Sequence[Touch],
    now: datetime,
) -> ScoreResult:
    """The score of one person now, explained rule by rule (the reference implementation)."""
    fit, fit_lines = score_fit(rules, record)
    engagement, engagement_lines = score_engagement(rules, touches, now, record)
    return ScoreResult(
        person_id=person_id,
        fit=fit,
        engagement=engagement,
        total=fit + engagement,
        computed_at=now,
        contributions=(*fit_lines, *engagement_lines),
    )

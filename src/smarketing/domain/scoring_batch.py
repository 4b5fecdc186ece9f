"""Scores of many people at once, with numpy: the numbers of `domain.scoring`, vectorised.

Touches come as arrays (person index, epoch seconds, index of the touch's *kind of touch*: the
distinct (kind, name, url, ...) tuple); each kind of touch is matched against the rules once.
Then every step of the contract is an array operation over (person, rule, day) groups: the
rule daily cap, the rule cap as a running sum per (person, rule), the person daily cap per
(person, day), decay per day. Tests prove it equal to `score_person` (Hypothesis).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from smarketing.domain.scoring import Record, ScoringRules

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
DAY = 86_400
_TABLE_HOURS = 24 * 400


@dataclass(frozen=True, slots=True)
class TouchArrays:
    person: IntArray
    """Index of the touch's person in the batch (0 .. n_people - 1)."""
    epoch: IntArray
    """`occurred_at` in whole seconds since 1970-01-01 UTC (floored)."""
    combo: IntArray
    """Index of the touch's kind of touch (a row of the match table)."""


@dataclass(frozen=True, slots=True)
class RuleTotals:
    """One row per (person, rule) that matched, sorted by person then rule."""

    person: IntArray
    rule: IntArray
    points: FloatArray
    raw: FloatArray
    touches: IntArray
    first_epoch: IntArray
    last_epoch: IntArray


@dataclass(frozen=True, slots=True)
class EngagementBatch:
    engagement: FloatArray
    """Per person of the batch."""
    rules: RuleTotals


@lru_cache(maxsize=65_536)
def _hour_offsets(zone_key: str, hour: int) -> tuple[int, int]:
    """UTC offset (seconds) at the start and at the end of one UTC hour."""
    zone = ZoneInfo(zone_key)
    start = datetime.fromtimestamp(hour * 3600, UTC).astimezone(zone).utcoffset()
    end = datetime.fromtimestamp(hour * 3600 + 3599, UTC).astimezone(zone).utcoffset()
    assert start is not None
    assert end is not None
    return int(start.total_seconds()), int(end.total_seconds())


def _offset_at(zone_key: str, epoch: int) -> int:
    offset = datetime.fromtimestamp(epoch, UTC).astimezone(ZoneInfo(zone_key)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def local_days(epoch: IntArray, zone_key: str) -> IntArray:
    """Local calendar day (days since 1970-01-01) in `zone_key` of each UTC epoch second."""
    if epoch.size == 0 or zone_key in ("UTC", "Etc/UTC"):
        return epoch // DAY
    hours = epoch // 3600
    low, high = int(hours.min()), int(hours.max())
    if high - low < max(_TABLE_HOURS, epoch.size):
        table = np.array([_hour_offsets(zone_key, h) for h in range(low, high + 1)])
        pairs = table[hours - low]
    else:
        unique, inverse = np.unique(hours, return_inverse=True)
        pairs = np.array([_hour_offsets(zone_key, int(h)) for h in unique])[inverse]
    offsets = pairs[:, 0].copy()
    moving = np.flatnonzero(pairs[:, 0] != pairs[:, 1])
    for i in moving:
        offsets[i] = _offset_at(zone_key, int(epoch[i]))
    result: IntArray = (epoch + offsets) // DAY
    return result


def local_day_number(moment: datetime, zone_key: str) -> int:
    local = moment.astimezone(ZoneInfo(zone_key)).date()
    return (local - datetime(1970, 1, 1).date()).days


def epoch_seconds(moment: datetime) -> int:
    return math.floor(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def fit_batch(
    rules: ScoringRules,
    records: Sequence[Record],
    keys: Sequence[Callable[[Record], Hashable] | None],
) -> tuple[FloatArray, BoolArray]:
    """Fit per record (capped) and which rules held. `keys[j]` maps a record to what rule j
    reads: rules sharing a key are judged once per distinct value (None: every record)."""
    n = len(records)
    matched = np.zeros((n, len(rules.fit)), dtype=np.bool_)
    groups: dict[int, list[int]] = {}
    for j, key in enumerate(keys):
        if key is None:
            matched[:, j] = [rules.fit[j].test(rec) for rec in records]
        else:
            groups.setdefault(id(key), []).append(j)
    for members in groups.values():
        key = keys[members[0]]
        assert key is not None
        tests = [rules.fit[j].test for j in members]
        seen: dict[Hashable, tuple[bool, ...]] = {}
        hits: list[tuple[bool, ...]] = []
        for rec in records:
            value = key(rec)
            try:
                hit = seen.get(value)
                if hit is None:
                    hit = seen[value] = tuple(test(rec) for test in tests)
            except TypeError:  # an unhashable value (a list in traits): judge it directly
                hit = tuple(test(rec) for test in tests)
            hits.append(hit)
        if n:
            matched[:, members] = np.array(hits, dtype=np.bool_)
    points = np.array([r.points for r in rules.fit], dtype=np.float64)
    fit: FloatArray = matched.astype(np.float64) @ points if rules.fit else np.zeros(n)
    if rules.max_fit is not None:
        fit = np.minimum(fit, float(rules.max_fit))
    return fit, matched


def combo_matches(rules: ScoringRules, combos: Sequence[Mapping[str, Any]]) -> BoolArray:
    """Which rules match each kind of touch (an event record: kind, name, path, ...), ignoring
    the `when`s that read the person or account (see `person_hits`)."""
    table = np.zeros((len(combos), len(rules.engagement)), dtype=np.bool_)
    for i, event in enumerate(combos):
        judged = {"event": event}
        for j, rule in enumerate(rules.engagement):
            table[i, j] = rule.matches_touch(event["kind"], event["name"], event["path"]) and (
                rule.when is None or rule.when_reads_person or rule.when(judged)
            )
    return table


def person_hits(
    rules: ScoringRules,
    touches: TouchArrays,
    matches: BoolArray,
    combos: Sequence[Mapping[str, Any]],
    records: Sequence[Record],
) -> tuple[IntArray, IntArray]:
    """(touch index, rule index) of the rules whose `when` reads the person, judged per touch;
    their columns of `matches` are cleared (they are counted from these hits instead)."""
    wanted = [j for j, r in enumerate(rules.engagement) if r.when_reads_person]
    touch_idx: list[int] = []
    rule_idx: list[int] = []
    for j in wanted:
        test = rules.engagement[j].when
        assert test is not None
        for i in np.flatnonzero(matches[touches.combo, j]):
            judged = {**records[touches.person[i]], "event": combos[touches.combo[i]]}
            if test(judged):
                touch_idx.append(int(i))
                rule_idx.append(j)
        matches[:, j] = False
    return np.array(touch_idx, dtype=np.int64), np.array(rule_idx, dtype=np.int64)


def _limits(values: Sequence[int | None]) -> FloatArray:
    return np.array([math.inf if v is None else float(v) for v in values], dtype=np.float64)


def _starts(keys: IntArray) -> IntArray:
    """Start index of each run of equal values in a sorted array."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))


def engagement_batch(
    rules: ScoringRules,
    n_people: int,
    touches: TouchArrays,
    matches: BoolArray,
    now: datetime,
    extra_hits: tuple[IntArray, IntArray] | None = None,
) -> EngagementBatch:
    """Engagement now of `n_people`, from their touches and the match table (`combo_matches`),
    plus `extra_hits` (`person_hits`). Callers pass the touches up to `now` (the store filters
    on the exact time; epochs are whole seconds)."""
    n_rules = len(rules.engagement)
    counted = touches.epoch <= epoch_seconds(now)
    parts_t: list[IntArray] = []
    parts_r: list[IntArray] = []
    for j in range(n_rules):
        idx = np.flatnonzero(matches[touches.combo, j] & counted)
        parts_t.append(idx)
        parts_r.append(np.full(idx.size, j, dtype=np.int64))
    if extra_hits is not None:
        keep = counted[extra_hits[0]]
        parts_t.append(extra_hits[0][keep])
        parts_r.append(extra_hits[1][keep])
    hit_t = np.concatenate(parts_t) if parts_t else np.zeros(0, dtype=np.int64)
    hit_r = np.concatenate(parts_r) if parts_r else np.zeros(0, dtype=np.int64)
    if hit_t.size == 0:
        return _empty(n_people)
    epoch = touches.epoch[hit_t]
    person = touches.person[hit_t]
    day = local_days(epoch, rules.timezone)
    first_day = int(day.min())
    span = int(day.max()) - first_day + 1
    key = (person * n_rules + hit_r) * span + (day - first_day)
    order = np.argsort(key, kind="stable")
    key, epoch = key[order], epoch[order]
    starts = _starts(key)
    n = np.diff(np.append(starts, key.size))
    group = key[starts]
    g_day = group % span + first_day
    g_pr = group // span
    g_rule = g_pr % n_rules
    g_person = g_pr // n_rules
    g_first = np.minimum.reduceat(epoch, starts)
    g_last = np.maximum.reduceat(epoch, starts)

    points = np.array([r.points for r in rules.engagement], dtype=np.float64)[g_rule]
    sign = np.sign(points)
    raw = n * points
    value = np.minimum(np.abs(raw), _limits([r.daily_cap for r in rules.engagement])[g_rule])
    pr_starts = _starts(g_pr)
    is_start = np.zeros(g_pr.size, dtype=np.bool_)
    is_start[pr_starts] = True
    pr_of_group = np.cumsum(is_start) - 1
    running = np.cumsum(value)
    running -= (running - value)[pr_starts][pr_of_group]
    cap = _limits([r.cap for r in rules.engagement])[g_rule]
    counted_pts = sign * (np.minimum(running, cap) - np.minimum(running - value, cap))
    if rules.daily_cap is not None:
        positive = sign > 0
        pd_key = g_person * span + (g_day - first_day)
        _, inverse = np.unique(pd_key, return_inverse=True)
        per_day = np.bincount(inverse, weights=np.where(positive, counted_pts, 0.0))
        cap_d = float(rules.daily_cap)
        share = np.where(per_day > cap_d, cap_d / np.maximum(per_day, 1e-300), 1.0)
        counted_pts = np.where(positive, counted_pts * share[inverse], counted_pts)
    today = local_day_number(now, rules.timezone)
    now_pts = counted_pts * 0.5 ** ((today - g_day) / rules.half_life_days)
    engagement = np.bincount(g_person, weights=now_pts, minlength=n_people).astype(np.float64)
    totals = RuleTotals(
        person=g_person[pr_starts],
        rule=g_rule[pr_starts],
        points=np.add.reduceat(now_pts, pr_starts),
        raw=np.add.reduceat(raw, pr_starts),
        touches=np.add.reduceat(n, pr_starts),
        first_epoch=np.minimum.reduceat(g_first, pr_starts),
        last_epoch=np.maximum.reduceat(g_last, pr_starts),
    )
    return EngagementBatch(engagement=engagement, rules=totals)


def _empty(n_people: int) -> EngagementBatch:
    ints = np.zeros(0, dtype=np.int64)
    floats = np.zeros(0, dtype=np.float64)
    return EngagementBatch(
        engagement=np.zeros(n_people, dtype=np.float64),
        rules=RuleTotals(ints, ints, floats, floats, ints, ints, ints),
    )

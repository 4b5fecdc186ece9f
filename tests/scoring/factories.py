"""Scoring test data: playbooks written the way a playbook reads, touches by age."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from smarketing.domain.scoring import Record, ScoreResult, ScoringRules, Touch, score_person
from smarketing.domain.scoring_batch import (
    TouchArrays,
    combo_matches,
    engagement_batch,
    epoch_seconds,
    fit_batch,
    person_hits,
)
from smarketing.playbook.schema import Playbook
from smarketing.services.scoring_rules import CompiledRules, compile_rules

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def playbook(**sections: Any) -> Playbook:
    return Playbook.model_validate({"version": 1, **sections})


def compiled(**sections: Any) -> CompiledRules:
    return compile_rules(playbook(**sections))


def rules(**sections: Any) -> ScoringRules:
    return compiled(**sections).rules


def engagement(*rule_list: dict[str, Any], **settings: Any) -> ScoringRules:
    """Rules of an `engagement` section (half-life 30 days unless said)."""
    return rules(engagement={"half_life_days": 30, **settings, "rules": list(rule_list)})


def touch(
    days_ago: float = 0,
    *,
    kind: str = "page_view",
    name: str | None = None,
    url: str | None = None,
    at: datetime | None = None,
    **fields: Any,
) -> Touch:
    return Touch(
        occurred_at=at or NOW - timedelta(days=days_ago),
        kind=kind,
        name=name,
        url=url,
        fields=fields,
    )


def event(name: str, days_ago: float = 0, *, kind: str = "event", **kw: Any) -> Touch:
    return touch(days_ago, kind=kind, name=name, **kw)


def view(url: str, days_ago: float = 0, **kw: Any) -> Touch:
    return touch(days_ago, kind="page_view", url=url, **kw)


def record(person: dict[str, Any] | None = None, account: dict[str, Any] | None = None) -> Record:
    return {"person": person or {}, "account": account or {}}


def score(
    r: ScoringRules, touches: Sequence[Touch], *, who: Record | None = None, now: datetime = NOW
) -> ScoreResult:
    return score_person(1, r, who or record(), touches, now)


def batch_scores(
    c: CompiledRules,
    people: Sequence[tuple[Record, Sequence[Touch]]],
    now: datetime = NOW,
) -> list[tuple[float, float, dict[str, tuple[float, float, int, int, int]]]]:
    """What the numpy path computes, the way `services.scoring` feeds it: per person
    (fit, engagement, {rule id: (points, raw, touches, first epoch, last epoch)})."""
    codes: dict[tuple[Any, ...], int] = {}
    combos: list[dict[str, Any]] = []
    person, epoch, combo = [], [], []
    for i, (_, touches) in enumerate(people):
        for t in touches:
            if t.occurred_at > now:
                continue
            rec = t.record()
            key = tuple(sorted((k, repr(v)) for k, v in rec.items()))
            if key not in codes:
                codes[key] = len(combos)
                combos.append(rec)
            person.append(i)
            epoch.append(epoch_seconds(t.occurred_at))
            combo.append(codes[key])
    arrays = TouchArrays(
        person=np.array(person, dtype=np.int64),
        epoch=np.array(epoch, dtype=np.int64),
        combo=np.array(combo, dtype=np.int64),
    )
    records = [r for r, _ in people]
    matches = combo_matches(c.rules, combos)
    extra = person_hits(c.rules, arrays, matches, combos, records) if c.person_when else None
    fit, _ = fit_batch(c.rules, records, c.fit_keys)
    eng = engagement_batch(c.rules, len(people), arrays, matches, now, extra)
    out = []
    for i in range(len(people)):
        t = eng.rules
        lines = {
            c.rules.engagement[int(t.rule[k])].id: (
                float(t.points[k]),
                float(t.raw[k]),
                int(t.touches[k]),
                int(t.first_epoch[k]),
                int(t.last_epoch[k]),
            )
            for k in np.flatnonzero(t.person == i)
        }
        out.append((float(fit[i]), float(eng.engagement[i]), lines))
    return out

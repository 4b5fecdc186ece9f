"""A scored chunk as what leaves scoring: rows for the scores table (contributions as JSON,
built straight from the arrays: bulk rescoring writes a million of them) and `ScoreResult`s.

Stored contributions: a JSON list, fit rules first, each
`{"part": "fit", "rule": ID, "points": P, "raw": P}` (the `(max_points)` line takes off what
the cap cuts), then `{"part": "engagement", "rule": ID, "points": NOW, "raw": RAW,
"touches": N, "first_at": ISO, "last_at": ISO}` (times to the second, UTC).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from smarketing.domain.scoring import MAX_POINTS_ID, Contribution, ScoreResult, ScoringRules
from smarketing.domain.scoring_batch import EngagementBatch, from_epoch

Row = tuple[int, float, float, float, str]


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    ids: np.ndarray
    fit: np.ndarray
    matched: np.ndarray
    """Which fit rules hold, per person."""
    engagement: EngagementBatch


def _fit_lines(rules: ScoringRules, matched: tuple[bool, ...]) -> list[Contribution]:
    lines = [
        Contribution("fit", r.id, float(r.points), float(r.points))
        for r, hit in zip(rules.fit, matched, strict=True)
        if hit
    ]
    raw = float(sum(c.points for c in lines))
    if rules.max_fit is not None and raw > rules.max_fit:
        lines.append(Contribution("fit", MAX_POINTS_ID, rules.max_fit - raw, 0.0))
    return lines


def _fit_json(lines: list[Contribution]) -> str:
    return ",".join(
        json.dumps(
            {"part": "fit", "rule": c.rule_id, "points": c.points, "raw": c.raw_points},
            separators=(",", ":"),
        )
        for c in lines
    )


def _iso(epochs: np.ndarray) -> list[str]:
    text = np.datetime_as_string(epochs.astype("datetime64[s]"), unit="s")
    return [f"{t}+00:00" for t in text.tolist()]


def stored_rows(rules: ScoringRules, chunk: ScoredChunk) -> list[Row]:
    """(person_id, fit, engagement, total, contributions JSON) per person of the chunk."""
    t = chunk.engagement.rules
    names = [json.dumps(r.id) for r in rules.engagement]
    lines = [
        f'{{"part":"engagement","rule":{names[r]},"points":{p!r},"raw":{raw!r},'
        f'"touches":{n},"first_at":"{first}","last_at":"{last}"}}'
        for r, p, raw, n, first, last in zip(
            t.rule.tolist(),
            t.points.tolist(),
            t.raw.tolist(),
            t.touches.tolist(),
            _iso(t.first_epoch),
            _iso(t.last_epoch),
            strict=True,
        )
    ]
    bounds = np.searchsorted(t.person, np.arange(chunk.ids.size + 1)).tolist()
    fit_json: dict[tuple[bool, ...], str] = {}
    rows: list[Row] = []
    matched = [tuple(m) for m in chunk.matched.tolist()]
    fit = chunk.fit.tolist()
    engagement = chunk.engagement.engagement.tolist()
    for i, person_id in enumerate(chunk.ids.tolist()):
        head = fit_json.get(matched[i])
        if head is None:
            head = fit_json[matched[i]] = _fit_json(_fit_lines(rules, matched[i]))
        tail = ",".join(lines[bounds[i] : bounds[i + 1]])
        body = f"{head},{tail}" if head and tail else head or tail
        rows.append((person_id, fit[i], engagement[i], fit[i] + engagement[i], f"[{body}]"))
    return rows


def results(rules: ScoringRules, chunk: ScoredChunk, now: datetime) -> list[ScoreResult]:
    """The chunk's scores as `ScoreResult`s (for callers who act on them)."""
    t = chunk.engagement.rules
    per_person: list[list[Contribution]] = [[] for _ in range(chunk.ids.size)]
    for p, r, points, raw, n, first, last in zip(
        t.person.tolist(),
        t.rule.tolist(),
        t.points.tolist(),
        t.raw.tolist(),
        t.touches.tolist(),
        t.first_epoch.tolist(),
        t.last_epoch.tolist(),
        strict=True,
    ):
        per_person[p].append(
            Contribution(
                "engagement",
                rules.engagement[r].id,
                points=points,
                raw_points=raw,
                touches=n,
                first_at=from_epoch(first),
                last_at=from_epoch(last),
            )
        )
    out = []
    for i, person_id in enumerate(chunk.ids.tolist()):
        fit = float(chunk.fit[i])
        engagement = float(chunk.engagement.engagement[i])
        lines = _fit_lines(rules, tuple(chunk.matched[i].tolist()))
        out.append(
            ScoreResult(
                person_id=person_id,
                fit=fit,
                engagement=engagement,
                total=fit + engagement,
                computed_at=now,
                contributions=(*lines, *per_person[i]),
            )
        )
    return out

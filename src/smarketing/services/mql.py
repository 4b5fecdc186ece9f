"""Promotion to MQL, by the playbook's definition or a fast-track rule, as events arrive.

Runs inside the ingest transaction. Only people at `subscriber` or `lead` are candidates
(recycled people wait out the recycle period; later stages are past MQL). A lead that cannot
be routed (no eligible rep) still becomes an MQL, its hand-off waits for a rep (the worker's
`handoffs.route_waiting`), and the reason is logged: routing trouble never blocks ingestion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from smarketing.domain.stages import Stage
from smarketing.playbook.conditions import evaluate
from smarketing.playbook.triggers import fires
from smarketing.services.handoffs import NewMql, make_mqls
from smarketing.services.lifecycle import Change
from smarketing.store import identity
from smarketing.store import people as people_store

logger = logging.getLogger("smarketing.mql")
CANDIDATE_STAGES = frozenset({Stage.SUBSCRIBER, Stage.LEAD})


def fast_track_rule(
    c: Change, touches: Sequence[Mapping[str, Any]], record: Callable[[], Mapping[str, Any]]
) -> tuple[str, datetime] | None:
    """The first fast-track rule one of these touches fires, and when. `record` is read only
    for rules with a `when` condition."""
    rules = c.playbook.mql.fast_track
    if not rules or not touches:
        return None
    context = record() if any(r.when is not None for r in rules) else None
    for touch in sorted(touches, key=lambda t: t["occurred_at"]):
        for rule in rules:
            if fires(rule, touch, context):
                return rule.id, touch["occurred_at"]
    return None


def meets_definition(c: Change, score: Any, record: Callable[[], Mapping[str, Any]]) -> bool:
    """Score at or above the MQL thresholds (total, fit, engagement) and the extra condition."""
    mql = c.playbook.mql
    if score.total < mql.min_score or score.fit < mql.min_fit:
        return False
    if score.engagement < mql.min_engagement:
        return False
    return mql.when is None or evaluate(mql.when, record())


def promote(
    c: Change,
    touches_by_person: Mapping[int, Sequence[Mapping[str, Any]]],
    scores: Mapping[int, Any] | None = None,
    states: Mapping[int, identity.PersonState] | None = None,
) -> list[int]:
    """Make MQLs of the candidates that qualify; returns their person ids. `states`: the
    people's current stage (`identity.people_state`) when the caller knows it already."""
    qualified: list[NewMql] = []
    scores = scores or {}
    people = set(touches_by_person) | set(scores)
    if states is None:
        states = identity.people_state(c.conn, people)
    for person_id in sorted(people):
        stage = states[person_id].stage
        if stage is None or Stage(stage) not in CANDIDATE_STAGES:
            continue

        def record(pid: int = person_id) -> Mapping[str, Any]:
            return people_store.person_record(c.conn, pid)

        hit = fast_track_rule(c, touches_by_person.get(person_id, ()), record)
        score = scores.get(person_id)
        if hit is not None:
            qualified.append(NewMql(person_id, f"fast track: {hit[0]}", True, hit[1]))
        elif score is not None and meets_definition(c, score, record):
            reason = f"score {score.total:.0f} reached the MQL threshold {c.playbook.mql.min_score}"
            qualified.append(NewMql(person_id, reason, False, c.now))
    answers = make_mqls(c, qualified)
    unrouted = [(m.person_id, why) for m, why in zip(qualified, answers, strict=True) if why]
    if unrouted:  # one line per call, not per MQL: a workspace without reps would flood the log
        logger.warning(
            "%d MQL(s) wait for a rep (first: person %s): %s", len(unrouted), *unrouted[0]
        )
    return [m.person_id for m in qualified]

"""Scoring use cases: rescore people as events arrive (inside the caller's transaction), rescore
everyone after a playbook change (streaming, in chunks), explain one person's score.

The rules are the playbook's `fit` and `engagement` sections, compiled once per call into
`domain.scoring.ScoringRules`; the numbers follow the contract in `domain.scoring`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection

from smarketing.domain.identity import is_freemail
from smarketing.domain.scoring import (
    Record,
    ScoreResult,
    Touch,
    score_person,
)
from smarketing.domain.scoring_batch import (
    TouchArrays,
    combo_matches,
    engagement_batch,
    fit_batch,
    person_hits,
)
from smarketing.domain.utm import path_of
from smarketing.errors import NotFoundError
from smarketing.playbook.schema import Playbook
from smarketing.services.playbooks import register
from smarketing.services.scoring_rows import Row, ScoredChunk, results, stored_rows
from smarketing.services.scoring_rules import CompiledRules, compile_rules
from smarketing.services.workspace import Workspace
from smarketing.store import scores as store
from smarketing.store.scores import EVENT_COLUMNS, PersonRow, Selection, StoredScore

IDS_PER_QUERY = 10_000
DEFAULT_CHUNK_PEOPLE = 20_000
Progress = Callable[[int, int], None]


@dataclass
class _Matcher:
    """Kinds of touch seen so far (shared by the chunks of one run) and the rules they match."""

    compiled: CompiledRules
    codes: dict[tuple[Hashable, ...], int] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    freemail: dict[str, bool] = field(default_factory=dict)
    table: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.table = np.zeros((0, len(self.compiled.rules.engagement)), dtype=np.bool_)

    def update(self) -> None:
        """Match the kinds of touch added to `codes` since the last call."""
        keys = list(self.codes)[len(self.events) :]
        if keys:
            fresh = [_event_record(k, self.compiled.event_columns) for k in keys]
            self.events.extend(fresh)
            self.table = np.concatenate([self.table, combo_matches(self.compiled.rules, fresh)])


def _event_record(key: tuple[Hashable, ...], extra: Sequence[str]) -> dict[str, Any]:
    kind, name, url, *rest = key
    event: dict[str, Any] = dict(zip(extra, rest, strict=True))
    if isinstance(event.get("properties"), str):
        event["properties"] = json.loads(event["properties"])
    event.update(kind=kind, name=name, url=url, path=path_of(url) if isinstance(url, str) else None)
    return event


def person_record(row: PersonRow, freemail: dict[str, bool] | None = None) -> dict[str, Any]:
    """`{"person": ..., "account": ...}` as conditions read it (with email_domain, freemail);
    `freemail` caches `is_freemail` by domain."""
    person = row.person
    email = person.get("email")
    domain = email.rpartition("@")[2].lower() if email else None
    person["email_domain"] = domain
    if domain is None:
        person["freemail"] = None
    elif freemail is None:
        person["freemail"] = is_freemail(domain)
    else:
        free = freemail.get(domain)
        if free is None:
            free = freemail[domain] = is_freemail(domain)
        person["freemail"] = free
    return {"person": person, "account": row.account or {}}


def _score_chunk(
    conn: Connection, matcher: _Matcher, selection: Selection, now: datetime, *, lock: bool = True
) -> ScoredChunk:
    compiled = matcher.compiled
    rows = store.people_rows(
        conn,
        selection,
        person_traits=compiled.person_traits,
        account_traits=compiled.account_traits,
        lock=lock,
    )
    ids = np.array([r.person["id"] for r in rows], dtype=np.int64)
    records = [person_record(r, matcher.freemail) for r in rows]
    touches = store.touch_columns(
        conn, selection, until=now, extra=compiled.event_columns, codes=matcher.codes
    )
    matcher.update()
    position = np.searchsorted(ids, touches.person_id)
    known = position < ids.size
    known[known] = ids[position[known]] == touches.person_id[known]
    arrays = TouchArrays(
        person=position[known], epoch=touches.epoch[known], combo=touches.combo[known]
    )
    matches = matcher.table
    extra = None
    if compiled.person_when:
        matches = matches.copy()
        extra = person_hits(compiled.rules, arrays, matches, matcher.events, records)
    fit, matched = fit_batch(compiled.rules, records, compiled.fit_keys)
    engagement = engagement_batch(compiled.rules, ids.size, arrays, matches, now, extra)
    return ScoredChunk(ids, fit, matched, engagement)


def _store(conn: Connection, rows: list[Row], now: datetime, version_id: int | None) -> None:
    store.upsert_scores(conn, rows, computed_at=now, playbook_version_id=version_id)


def _rescore_chunks(
    conn: Connection,
    person_ids: Iterable[int],
    playbook: Playbook,
    playbook_version_id: int | None,
    now: datetime,
    *,
    lock: bool = True,
) -> Iterator[tuple[CompiledRules, ScoredChunk]]:
    """Score and store `person_ids`, 10,000 at a time; yields each stored chunk. `lock`
    False: the caller has locked their rows already (`identity.lock_people`)."""
    ids = sorted(set(person_ids))
    matcher = _Matcher(compile_rules(playbook))
    for start in range(0, len(ids), IDS_PER_QUERY):
        part = ids[start : start + IDS_PER_QUERY]
        selection = Selection(ids=part)
        chunk = _score_chunk(conn, matcher, selection, now, lock=lock)
        _store(conn, stored_rows(matcher.compiled.rules, chunk), now, playbook_version_id)
        if chunk.ids.size < len(part):  # some were merged away (or do not exist)
            store.delete_merged_scores(conn, selection)
        yield matcher.compiled, chunk


def rescore(
    conn: Connection,
    person_ids: Iterable[int],
    playbook: Playbook,
    playbook_version_id: int | None,
    now: datetime,
) -> dict[int, ScoreResult]:
    """Recompute and store the scores of `person_ids` inside the caller's transaction.

    One query for the people (with their accounts; on PostgreSQL it also locks their rows, so
    concurrent rescoring of one person takes turns), one for their touchpoints, one upsert
    (per 10,000 people). People merged into someone else get no score (an old one is
    deleted).
    """
    out: dict[int, ScoreResult] = {}
    for compiled, chunk in _rescore_chunks(conn, person_ids, playbook, playbook_version_id, now):
        out.update((r.person_id, r) for r in results(compiled.rules, chunk, now))
    return out


@dataclass(frozen=True, slots=True)
class ScoreTotals:
    """A score without its contributions: what MQL promotion compares with its thresholds."""

    fit: float
    engagement: float
    total: float


def rescore_totals(
    conn: Connection,
    person_ids: Iterable[int],
    playbook: Playbook,
    playbook_version_id: int | None,
    now: datetime,
    *,
    locked: bool = False,
) -> dict[int, ScoreTotals]:
    """`rescore` (the same rows stored), returning the totals only: cheaper for tracking,
    which rescores everyone each chunk touches and reads no contributions. `locked`: the
    caller holds their rows' locks already (`identity.lock_people`; people it created in
    this transaction need none)."""
    out: dict[int, ScoreTotals] = {}
    chunks = _rescore_chunks(conn, person_ids, playbook, playbook_version_id, now, lock=not locked)
    for _, chunk in chunks:
        fit, engagement = chunk.fit.tolist(), chunk.engagement.engagement.tolist()
        out.update(
            (p, ScoreTotals(f, e, f + e))
            for p, f, e in zip(chunk.ids.tolist(), fit, engagement, strict=True)
        )
    return out


@dataclass(frozen=True, slots=True)
class RescoreSummary:
    people: int
    playbook_version: int
    seconds: float


def rescore_all(
    ws: Workspace,
    *,
    chunk_people: int = DEFAULT_CHUNK_PEOPLE,
    progress: Progress | None = None,
) -> RescoreSummary:
    """Rescore everyone with the workspace's playbook (after a change), `chunk_people` ids per
    transaction, calling `progress(done, total)` after each chunk."""
    started = time.perf_counter()
    loaded = ws.playbook
    version = register(ws, loaded, actor="scoring")
    now = ws.clock.now()
    matcher = _Matcher(compile_rules(loaded.playbook))
    with ws.db.read() as conn:
        total, low, high = store.people_bounds(conn)
    done = 0
    if progress:
        progress(0, total)
    for start in range(low, high + 1, chunk_people) if total else ():
        with ws.db.begin() as conn:
            selection = Selection(low=start, high=start + chunk_people)
            scored = _score_chunk(conn, matcher, selection, now)
            _store(conn, stored_rows(matcher.compiled.rules, scored), now, version.id)
            store.delete_merged_scores(conn, selection)
        done += int(scored.ids.size)
        if progress:
            progress(done, total)
    return RescoreSummary(done, version.number, time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class ScoreExplanation:
    person_id: int
    email: str | None
    result: ScoreResult
    """The score now with the workspace's playbook, rule by rule and day by day."""
    timezone: str
    half_life_days: float
    stored: StoredScore | None


def explain(
    ws: Workspace, *, person_id: int | None = None, email: str | None = None
) -> ScoreExplanation:
    """Why a person scores what they score now (computed live, read-only)."""
    compiled = compile_rules(ws.playbook.playbook)
    now = ws.clock.now()
    with ws.db.read() as conn:
        if person_id is None:
            person_id = store.person_id_by_email(conn, (email or "").strip().lower())
            if person_id is None:
                raise NotFoundError(
                    f"nobody has the email {email!r}", hint="check the address or use the id"
                )
        exists, merged = store.merged_into(conn, person_id)
        if not exists:
            raise NotFoundError(f"no person {person_id}", hint="list people with GET /api/people")
        if merged is not None:
            raise NotFoundError(
                f"person {person_id} was merged into person {merged}",
                hint=f"explain person {merged}",
            )
        (row,) = store.people_rows(
            conn, Selection(ids=[person_id]), person_traits=True, account_traits=True
        )
        touches = [_touch(t) for t in store.person_touches(conn, person_id, now)]
        stored = store.stored_score(conn, person_id)
    record: Record = person_record(row)
    return ScoreExplanation(
        person_id=person_id,
        email=row.person["email"],
        result=score_person(person_id, compiled.rules, record, touches, now),
        timezone=compiled.rules.timezone,
        half_life_days=compiled.rules.half_life_days,
        stored=stored,
    )


def _touch(row: Any) -> Touch:
    m = row._mapping
    return Touch(
        occurred_at=m["occurred_at"],
        kind=m["kind"],
        name=m["name"],
        url=m["url"],
        fields={c: m[c] for c in EVENT_COLUMNS},
    )

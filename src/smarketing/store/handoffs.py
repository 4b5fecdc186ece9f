"""Hand-offs from marketing to sales, and their SLA clocks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, exists, func, select, update

from smarketing.domain.lifecycle import OPEN_STATUSES, HandoffStatus
from smarketing.domain.model import Handoff, SlaClock
from smarketing.store.crm.common import insert_many, reserve_ids
from smarketing.store.pagination import Page, decode_cursor, encode_cursor
from smarketing.store.tables import handoffs, sla_clocks


@dataclass(frozen=True, slots=True)
class HandoffFilter:
    status: str | None = None
    owner_ids: frozenset[int] | None = None  # None: everyone's
    breached: bool | None = None


def create_waiting(conn: Connection, new: Sequence[tuple[int, bool, datetime]]) -> list[int]:
    """One waiting hand-off per (person id, fast track, at), in one statement (`assign`
    gives each a rep); their ids in the same order."""
    ids = reserve_ids(conn, handoffs, len(new))
    columns = ("id", "person_id", "status", "fast_track", "assigned_at", "created_at", "updated_at")
    waiting = HandoffStatus.WAITING.value
    rows = [
        (handoff_id, person_id, waiting, fast_track, at, at, at)
        for handoff_id, (person_id, fast_track, at) in zip(ids, new, strict=True)
    ]
    insert_many(conn, handoffs, columns, rows)
    return ids


def assign(
    conn: Connection,
    handoff_id: int,
    *,
    owner_id: int,
    rule_id: str,
    at: datetime,
    clocks: Sequence[tuple[str, datetime]],
) -> None:
    """Give a waiting hand-off to a rep from `at`, and start its SLA clocks."""
    update_handoff(
        conn,
        handoff_id,
        {
            "owner_id": owner_id,
            "rule_id": rule_id,
            "status": HandoffStatus.ASSIGNED.value,
            "assigned_at": at,
        },
        at,
    )
    conn.execute(
        sla_clocks.insert(),
        [
            {"handoff_id": handoff_id, "kind": kind, "started_at": at, "due_at": due}
            for kind, due in clocks
        ],
    )


def waiting(conn: Connection, limit: int) -> list[Handoff]:
    """Hand-offs waiting for a rep, oldest first."""
    rows = conn.execute(
        select(handoffs)
        .where(handoffs.c.status == HandoffStatus.WAITING.value)
        .order_by(handoffs.c.id)
        .limit(limit)
    )
    return [_handoff(r, []) for r in rows]


def _clocks(conn: Connection, ids: Sequence[int]) -> dict[int, list[SlaClock]]:
    out: dict[int, list[SlaClock]] = {i: [] for i in ids}
    if ids:
        rows = conn.execute(
            select(sla_clocks).where(sla_clocks.c.handoff_id.in_(ids)).order_by(sla_clocks.c.id)
        )
        for r in rows:
            out[r.handoff_id].append(
                SlaClock(
                    r.kind, r.started_at, r.due_at, r.stopped_at, r.breached_at, r.escalated_to_id
                )
            )
    return out


def _handoff(row: Row[Any], clocks: list[SlaClock]) -> Handoff:
    return Handoff(
        id=row.id,
        person_id=row.person_id,
        owner_id=row.owner_id,
        status=row.status,
        rule_id=row.rule_id,
        fast_track=row.fast_track,
        assigned_at=row.assigned_at,
        first_touched_at=row.first_touched_at,
        accepted_at=row.accepted_at,
        rejected_at=row.rejected_at,
        reject_reason=row.reject_reason,
        note=row.note,
        qualification=row.qualification,
        clocks=tuple(clocks),
    )


def get(conn: Connection, handoff_id: int) -> Handoff | None:
    row = conn.execute(select(handoffs).where(handoffs.c.id == handoff_id)).first()
    return _handoff(row, _clocks(conn, [row.id])[row.id]) if row else None


def list_page(
    conn: Connection, f: HandoffFilter, *, cursor: str | None, limit: int
) -> Page[Handoff]:
    query = select(handoffs).where(handoffs.c.id > decode_cursor(cursor))
    if f.status:
        query = query.where(handoffs.c.status == f.status)
    if f.owner_ids is not None:
        query = query.where(handoffs.c.owner_id.in_(sorted(f.owner_ids)))
    if f.breached is not None:
        breached = exists().where(
            sla_clocks.c.handoff_id == handoffs.c.id, sla_clocks.c.breached_at.is_not(None)
        )
        query = query.where(breached if f.breached else ~breached)
    rows = list(conn.execute(query.order_by(handoffs.c.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    clocks = _clocks(conn, [r.id for r in rows])
    return Page(
        [_handoff(r, clocks[r.id]) for r in rows],
        more,
        encode_cursor(rows[-1].id) if more and rows else None,
    )


def update_handoff(
    conn: Connection, handoff_id: int, values: dict[str, Any], now: datetime
) -> None:
    conn.execute(
        update(handoffs).where(handoffs.c.id == handoff_id).values(**values, updated_at=now)
    )


def stop_clock(conn: Connection, handoff_id: int, kind: str, at: datetime) -> None:
    conn.execute(
        update(sla_clocks)
        .where(
            sla_clocks.c.handoff_id == handoff_id,
            sla_clocks.c.kind == kind,
            sla_clocks.c.stopped_at.is_(None),
        )
        .values(stopped_at=at)
    )


ROUTING_LOCK = 0x736D6B5F726F7574  # "smk_rout": the key of the routing advisory lock


def lock_routing(conn: Connection) -> None:
    """Take the routing lock until the transaction ends: on PostgreSQL, transactions that
    give hand-offs to reps (several tracking processors, the worker's `route_waiting`) take
    turns, each reading the open hand-offs after the previous one committed, so a rep's cap
    holds. SQLite needs nothing: one writer at a time. Take it after the rows of the people
    being routed are locked (as the tracking processor's scoring does), never before."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ROUTING_LOCK})")


def open_counts(conn: Connection) -> dict[int, int]:
    """Open hand-offs per rep (for routing caps)."""
    rows = conn.execute(
        select(handoffs.c.owner_id, func.count())
        .where(handoffs.c.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(handoffs.c.owner_id)
    )
    return {int(r[0]): int(r[1]) for r in rows if r[0] is not None}


def due_unbreached(conn: Connection, now: datetime) -> list[Row[Any]]:
    """Running clocks past their due time that are not yet marked breached."""
    return list(
        conn.execute(
            select(sla_clocks, handoffs.c.owner_id, handoffs.c.person_id)
            .join(handoffs, handoffs.c.id == sla_clocks.c.handoff_id)
            .where(
                sla_clocks.c.stopped_at.is_(None),
                sla_clocks.c.breached_at.is_(None),
                sla_clocks.c.due_at <= now,
            )
            .order_by(sla_clocks.c.due_at)
        )
    )


def mark_breached(conn: Connection, clock_id: int, at: datetime, escalated_to: int | None) -> bool:
    """Mark one clock breached; False when another worker already did."""
    result = conn.execute(
        update(sla_clocks)
        .where(sla_clocks.c.id == clock_id, sla_clocks.c.breached_at.is_(None))
        .values(breached_at=at, escalated_to_id=escalated_to)
    )
    return bool(result.rowcount)


def recycled_before(conn: Connection, before: datetime) -> list[Row[Any]]:
    """Hand-offs recycled at or before `before` (their people may return to nurture)."""
    return list(
        conn.execute(
            select(handoffs.c.id, handoffs.c.person_id).where(
                handoffs.c.status == "recycled", handoffs.c.rejected_at <= before
            )
        )
    )


def last_owner_by_rules(conn: Connection, rule_ids: Sequence[str]) -> int:
    """Owner of the hand-off one of these rules assigned last (0 when none): the round-robin
    cursor, derived rather than stored. Ordered by when the rep got it, not by hand-off id: a
    hand-off that waited for a rep is assigned after newer ones (ties in time: by id, the
    order a routing pass assigns them in)."""
    if not rule_ids:
        return 0
    owner = conn.execute(
        select(handoffs.c.owner_id)
        .where(handoffs.c.rule_id.in_(list(rule_ids)), handoffs.c.owner_id.is_not(None))
        .order_by(handoffs.c.assigned_at.desc(), handoffs.c.id.desc())
        .limit(1)
    ).scalar()
    return int(owner or 0)

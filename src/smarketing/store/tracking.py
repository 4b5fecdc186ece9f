"""Tracked events, failed events, touchpoints, content and accounts, written in bulk per batch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, func, select, update

from smarketing.store.crm.common import driver_select_in, insert_many, time_converter
from smarketing.store.sql import insert_ignore, update_each
from smarketing.store.tables import (
    accounts,
    content_items,
    events,
    failed_events,
    touchpoints,
)
from smarketing.store.types import stored_time

EVENT_COLUMNS = (
    "source_id",
    "message_id",
    "type",
    "event",
    "user_id",
    "anonymous_id",
    "timestamp",
    "original_timestamp",
    "sent_at",
    "received_at",
    "payload",
    "processed_at",
)
_TIMES = tuple(
    EVENT_COLUMNS.index(c)
    for c in ("timestamp", "original_timestamp", "sent_at", "received_at", "processed_at")
)
_ROWS_PER_INSERT = 2_000  # 12 parameters a row: under SQLite's 32,766


def insert_new_events(
    conn: Connection, rows: Sequence[tuple[Any, ...]]
) -> dict[tuple[int, str], int]:
    """Insert events (tuples in `EVENT_COLUMNS` order, payload as JSON text), skipping
    (source, messageId) pairs already stored; returns the ids of the rows this call inserted,
    by (source id, message id). The UNIQUE constraint decides (`ON CONFLICT DO NOTHING ...
    RETURNING`), so a retried batch or concurrent senders store each event once.

    One multi-row statement per 2,000 events, through the driver: the hot path of tracking."""
    if not rows:
        return {}
    convert = time_converter(conn)
    memo: dict[datetime, Any] = {}
    ready = []
    for row in rows:
        values = list(row)
        for index in _TIMES:
            value = values[index]
            if value is not None:
                found = memo.get(value)
                values[index] = (
                    found if found is not None else memo.setdefault(value, convert(value))
                )
        ready.append(values)
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    one = f"({', '.join([mark] * len(EVENT_COLUMNS))})"
    new: dict[tuple[int, str], int] = {}
    for start in range(0, len(ready), _ROWS_PER_INSERT):
        part = ready[start : start + _ROWS_PER_INSERT]
        tuples = ", ".join([one] * len(part))
        statement = (
            f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES {tuples} "
            "ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id, source_id, message_id"
        )
        params = tuple(v for row in part for v in row)
        for event_id, source_id, message_id in conn.exec_driver_sql(statement, params):
            new[(source_id, message_id)] = event_id
    return new


def _payload_text(conn: Connection) -> str:
    """The payload column as JSON text: psycopg would decode it with the (slower) stdlib."""
    return "CAST(payload AS TEXT)" if conn.dialect.name == "postgresql" else "payload"


def event_payloads(conn: Connection, ids: Sequence[int]) -> dict[int, Any]:
    """Stored payloads by event id (read through the driver and decoded with orjson: the
    processor reads every event it did not accept itself)."""
    rows = driver_select_in(conn, events, ("id", _payload_text(conn)), "id", ids)
    return {event_id: orjson.loads(payload) for event_id, payload in rows}


class PendingEvent(NamedTuple):
    id: int
    source_id: int
    received_at: datetime
    payload: Any = None


def pending_events(conn: Connection, limit: int, *, payloads: bool = False) -> list[PendingEvent]:
    """Up to `limit` stored events not processed yet, oldest first; with their decoded payload
    when `payloads` (one statement instead of two).

    On PostgreSQL the rows are locked and locked ones skipped (`FOR UPDATE SKIP LOCKED`), so
    any number of processors take disjoint chunks; SQLite has one writer at a time anyway.
    Through the driver: the processor's hot read.
    """
    payload = _payload_text(conn) if payloads else "NULL"
    statement = (
        f"SELECT id, source_id, received_at, {payload} FROM events "
        f"WHERE processed_at IS NULL ORDER BY id LIMIT {int(limit)}"
    )
    if conn.dialect.name == "postgresql":
        statement += " FOR UPDATE SKIP LOCKED"
    times: dict[Any, datetime] = {}  # a batch's events share their received time
    found = []
    for event_id, source_id, received, text in conn.exec_driver_sql(statement):
        at = times.get(received)
        if at is None:
            at = times[received] = stored_time(received)
        found.append(
            PendingEvent(event_id, source_id, at, None if text is None else orjson.loads(text))
        )
    return found


def mark_processed(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    if not ids:
        return
    at = time_converter(conn)(now)
    if conn.dialect.name == "postgresql":  # one statement, the ids as one array
        conn.exec_driver_sql(
            "UPDATE events SET processed_at = %s WHERE id = ANY(%s)", (at, list(ids))
        )
    else:  # one statement, the ids as one JSON array
        conn.exec_driver_sql(
            "UPDATE events SET processed_at = ? WHERE id IN (SELECT value FROM json_each(?))",
            (at, orjson.dumps(list(ids)).decode()),
        )


TRACKED_TABLES = ("events", "touchpoints", "identities", "people", "accounts", "scores")


def refresh_statistics(conn: Connection) -> None:
    """PostgreSQL: `ANALYZE` the tables tracking fills. Their statistics go stale while they
    grow from empty (autovacuum lags behind, or is off), and the planner then scans: measured
    on the processor, `UPDATE touchpoints ... WHERE anonymous_id = ...` went through the
    person index (every anonymous touch) and the queue was sorted whole for each chunk. A
    no-op on SQLite, whose planner uses the indexes without statistics."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {', '.join(TRACKED_TABLES)}")


def has_pending(conn: Connection) -> bool:
    query = select(events.c.id).where(events.c.processed_at.is_(None)).limit(1)
    return conn.execute(query).first() is not None


def count_pending(conn: Connection) -> int:
    query = select(func.count()).select_from(events).where(events.c.processed_at.is_(None))
    return int(conn.execute(query).scalar_one())


def insert_failed(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(failed_events.insert(), list(rows))


def failed_to_replay(conn: Connection, limit: int) -> list[Any]:
    return list(
        conn.execute(
            select(failed_events)
            .where(failed_events.c.replayed_at.is_(None))
            .order_by(failed_events.c.id)
            .limit(limit)
        )
    )


def mark_replayed(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    if ids:
        conn.execute(
            update(failed_events).where(failed_events.c.id.in_(ids)).values(replayed_at=now)
        )


def update_failed_reason(conn: Connection, failed_id: int, reason: str) -> None:
    conn.execute(update(failed_events).where(failed_events.c.id == failed_id).values(reason=reason))


def content_ids(
    conn: Connection, wanted: dict[str, tuple[str | None, str]], now: datetime
) -> dict[str, int]:
    """Ids of content items by key; unknown keys become stubs for marketing to name and type.
    `wanted` maps key -> (title, kind guess)."""
    keys = sorted(wanted)
    found = dict(
        conn.execute(
            select(content_items.c.key, content_items.c.id).where(content_items.c.key.in_(keys))
        ).all()
    )
    missing = [k for k in keys if k not in found]
    if missing:
        conn.execute(
            insert_ignore(conn, content_items),
            [
                {
                    "key": k,
                    "title": wanted[k][0],
                    "kind": wanted[k][1],
                    "url": None,
                    "is_stub": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for k in missing
            ],
        )
        found.update(
            conn.execute(
                select(content_items.c.key, content_items.c.id).where(
                    content_items.c.key.in_(missing)
                )
            ).all()
        )
    return {str(k): int(v) for k, v in found.items()}


def insert_touchpoints(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Through the driver (PostgreSQL: COPY): the hot insert of tracking."""
    if rows:
        columns = tuple(rows[0])
        insert_many(conn, touchpoints, columns, [tuple(r.values()) for r in rows])


def account_by(
    conn: Connection, *, group_id: str | None = None, domain: str | None = None
) -> int | None:
    column, value = (accounts.c.group_id, group_id) if group_id else (accounts.c.domain, domain)
    if value is None:
        return None
    found = conn.execute(select(accounts.c.id).where(column == value)).scalar()
    return int(found) if found is not None else None


def upsert_account(
    conn: Connection,
    *,
    now: datetime,
    group_id: str | None = None,
    domain: str | None = None,
    name: str | None = None,
    industry: str | None = None,
    employees: int | None = None,
) -> int:
    """The account with this group id (or else domain), created if missing; fills blanks."""
    account_id = account_by(conn, group_id=group_id) if group_id else None
    if account_id is None and domain:
        account_id = account_by(conn, domain=domain)
    fields = {
        k: v
        for k, v in (("name", name), ("industry", industry), ("employees", employees))
        if v is not None
    }
    if account_id is None:
        conn.execute(
            insert_ignore(conn, accounts).values(
                name=name or domain or group_id or "unknown",
                group_id=group_id,
                domain=domain,
                industry=industry,
                employees=employees,
                traits={},
                change_seq=0,
                created_at=now,
                updated_at=now,
            )
        )
        account_id = account_by(conn, group_id=group_id) if group_id else None
        account_id = account_id or account_by(conn, domain=domain)
        assert account_id is not None
        return account_id
    if group_id:
        fields["group_id"] = group_id
    if fields:
        conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(**fields, updated_at=now, change_seq=accounts.c.change_seq + 1)
        )
    return account_id


def create_domain_accounts(
    conn: Connection, domains: Iterable[str], now: datetime
) -> dict[str, int]:
    """Accounts named after their domain, one per domain (kept when one exists already, e.g.
    made concurrently); returns the id of each domain's account. `upsert_account(domain=d,
    name=d)` for many domains known to be missing, in two statements."""
    wanted = sorted(set(domains))
    if not wanted:
        return {}
    conn.execute(
        insert_ignore(conn, accounts),
        [
            {
                "name": d,
                "group_id": None,
                "domain": d,
                "industry": None,
                "employees": None,
                "traits": {},
                "change_seq": 0,
                "created_at": now,
                "updated_at": now,
            }
            for d in wanted
        ],
    )
    return accounts_by(conn, "domain", wanted)


def attach_anonymous(conn: Connection, person_of: Mapping[str, int]) -> None:
    """Earlier touches of each anonymous id that have no person yet join that person."""
    update_each(
        conn,
        "touchpoints",
        set_="person_id = :pid",
        where="anonymous_id = :anon AND person_id IS NULL",
        rows=[{"anon": a, "pid": p} for a, p in person_of.items()],
        types={"anon": "text", "pid": "bigint"},
    )


def accounts_by(conn: Connection, column: str, values: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(values))
    if not wanted:
        return {}
    col = accounts.c[column]
    return {
        str(k): int(v) for k, v in conn.execute(select(col, accounts.c.id).where(col.in_(wanted)))
    }


def link_touches_to_accounts(conn: Connection, links: Mapping[int, int]) -> None:
    """Touches of each person that have no account get the person's (new) account."""
    update_each(
        conn,
        "touchpoints",
        set_="account_id = :aid",
        where="person_id = :pid AND account_id IS NULL",
        rows=[{"pid": p, "aid": a} for p, a in links.items()],
        types={"pid": "bigint", "aid": "bigint"},
    )

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
    event_queue,
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
)
_TIMES = tuple(
    EVENT_COLUMNS.index(c) for c in ("timestamp", "original_timestamp", "sent_at", "received_at")
)
_ROWS_PER_INSERT = 2_000  # 11 parameters a row: under SQLite's 32,766


def insert_new_events(
    conn: Connection, rows: Sequence[tuple[Any, ...]], *, queue: bool
) -> dict[tuple[int, str], int]:
    """Insert events (tuples in `EVENT_COLUMNS` order, payload as JSON text), skipping
    (source, messageId) pairs already stored; returns the ids of the rows this call inserted,
    by (source id, message id). The UNIQUE constraint decides (`ON CONFLICT DO NOTHING ...
    RETURNING`), so a retried batch or concurrent senders store each event once. With `queue`
    the new events also join the processor's queue, in this transaction: on PostgreSQL in the
    same statement (a data-modifying `WITH`), on SQLite (no DML in `WITH`) by one more INSERT.
    Without it the caller processes them in this transaction itself (inline).

    Through the driver, the hot path of tracking: on SQLite one multi-row statement per 2,000
    events, on PostgreSQL one statement (`_insert_new_events_postgres`)."""
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
    if conn.dialect.name == "postgresql":
        return _insert_new_events_postgres(conn, ready, queue=queue)
    one = f"({', '.join(['?'] * len(EVENT_COLUMNS))})"
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
    if queue and new:
        conn.exec_driver_sql(
            f"INSERT INTO event_queue (event_id) {_id_rows(conn)}", _ids(new.values())
        )
    return new


_EVENT_CASTS = {"source_id": "::bigint"} | {EVENT_COLUMNS[i]: "::timestamp" for i in _TIMES}
_EVENT_FIELDS = ", ".join(
    f"r->{i}" if c == "payload" else f"(r->>{i}){_EVENT_CASTS.get(c, '')}"
    for i, c in enumerate(EVENT_COLUMNS)
)  # the payload stays JSON (`->`); the rest is text (`->>`), cast where it is not
_INSERT_EVENTS_POSTGRES = (
    f"WITH new AS (INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
    f"SELECT {_EVENT_FIELDS} FROM json_array_elements(%s::json) AS r "
    "ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id, source_id, message_id)"
)


def _insert_new_events_postgres(
    conn: Connection, rows: Sequence[Sequence[Any]], *, queue: bool
) -> dict[tuple[int, str], int]:
    """`insert_new_events` on PostgreSQL: the rows as one JSON array (their payloads, JSON
    already, embedded as they are) in one statement whose text never changes. With a
    statement per row count psycopg parsed each new text for its placeholders in Python (a
    fifth of the server's time under tracking load); this one it parses once and the server
    prepares once."""
    body = orjson.dumps([[*row[:-1], orjson.Fragment(row[-1])] for row in rows])
    tail = ", queued AS (INSERT INTO event_queue (event_id) SELECT id FROM new) " if queue else " "
    statement = f"{_INSERT_EVENTS_POSTGRES}{tail}SELECT id, source_id, message_id FROM new"
    result = conn.exec_driver_sql(statement, (body.decode(),))
    return {(source_id, message_id): event_id for event_id, source_id, message_id in result}


def _id_rows(conn: Connection) -> str:
    """A SELECT of the ids in one JSON array parameter (`_ids`), one row each: a single
    statement and parameter for any number of ids, on both dialects. A set-returning function,
    so PostgreSQL probes an index per id instead of weighing a long list against the table."""
    if conn.dialect.name == "postgresql":
        return "SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST(%s AS json))"
    return "SELECT value FROM json_each(?)"


def _ids(ids: Iterable[int]) -> tuple[str]:
    return (orjson.dumps(list(ids)).decode(),)


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
    """Up to `limit` queued events, oldest first; with their decoded payload when `payloads`
    (one statement instead of two). The caller `dequeue`s them in the same transaction as
    their processing, so a processor killed half-way leaves them queued.

    On PostgreSQL their queue rows are locked and locked ones skipped (`FOR UPDATE SKIP
    LOCKED`), so any number of processors take disjoint chunks; the wide `events` rows are
    only read. SQLite has one writer at a time anyway. Through the driver: the processor's hot
    read.
    """
    payload = _payload_text(conn) if payloads else "NULL"
    if conn.dialect.name == "postgresql":
        # The chunk's ids first, then one index probe per id (a LATERAL kept apart by OFFSET
        # 0), whatever the statistics say. Joined plainly, PostgreSQL chose a merge join that
        # walks `events` from its first id (slower with every chunk: 3.7 to 15 ms a chunk of
        # 1,000 over 20,000 events) or a hash join over all of `events` (17.8 ms), against a
        # flat 2.7 ms this way.
        lock = " FOR UPDATE SKIP LOCKED"
        where = "WHERE id = taken.event_id OFFSET 0"
        by_id = f"CROSS JOIN LATERAL (SELECT * FROM events {where}) AS e"
    else:
        lock, by_id = "", "JOIN events AS e ON e.id = taken.event_id"
    statement = (
        "WITH taken AS MATERIALIZED (SELECT event_id FROM event_queue "
        f"ORDER BY event_id LIMIT {int(limit)}{lock}) "
        f"SELECT id, source_id, received_at, {payload} FROM taken {by_id} ORDER BY id"
    )
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


def dequeue(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Take processed events off the queue (in the transaction that processes them); returns
    those that were still on it. One DELETE of narrow rows, where marking the `events` row
    wrote a new version of it."""
    if not ids:
        return set()
    statement = f"DELETE FROM event_queue WHERE event_id IN ({_id_rows(conn)}) RETURNING event_id"
    return {event_id for (event_id,) in conn.exec_driver_sql(statement, _ids(ids))}


TRACKED_TABLES = (
    "events",
    "event_queue",
    "touchpoints",
    "identities",
    "people",
    "accounts",
    "scores",
)


def refresh_statistics(conn: Connection) -> None:
    """PostgreSQL: `ANALYZE` the tables tracking fills. Their statistics go stale while they
    grow from empty (autovacuum lags behind, or is off), and the planner then scans: measured
    on the processor, `UPDATE touchpoints ... WHERE anonymous_id = ...` went through the
    person index (every anonymous touch) and the queue was sorted whole for each chunk. A
    no-op on SQLite, whose planner uses the indexes without statistics."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {', '.join(TRACKED_TABLES)}")


def has_pending(conn: Connection) -> bool:
    return conn.execute(select(event_queue.c.event_id).limit(1)).first() is not None


def queued_more_than(conn: Connection, limit: int) -> bool:
    """Whether more than `limit` events wait on the queue. The span of queued ids bounds
    their count (two index lookups), so only a queue near the limit is counted, and only up
    to `limit + 1` rows."""
    low, high = conn.execute(
        select(func.min(event_queue.c.event_id), func.max(event_queue.c.event_id))
    ).one()
    if low is None or high - low + 1 <= limit:
        return False
    some = select(event_queue.c.event_id).limit(limit + 1).subquery()
    return int(conn.execute(select(func.count()).select_from(some)).scalar_one()) > limit


def count_pending(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(event_queue)).scalar_one())


def oldest_pending_received_at(conn: Connection) -> datetime | None:
    """When the longest-waiting queued event was received (None: the queue is empty)."""
    oldest = select(func.min(event_queue.c.event_id)).scalar_subquery()
    at = conn.execute(select(events.c.received_at).where(events.c.id == oldest)).scalar()
    return stored_time(at) if at is not None else None


def count_failed_to_replay(conn: Connection) -> int:
    waiting = select(func.count()).select_from(failed_events)
    return int(conn.execute(waiting.where(failed_events.c.replayed_at.is_(None))).scalar_one())


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

"""Scores in the store: what scoring reads (people with their account, touchpoints as arrays)
and writes (one upsert for many people).

Touchpoints are read through the driver's own cursor, not SQLAlchemy rows: bulk rescoring reads
tens of millions of them, and the timestamp arrives as epoch seconds computed by the database.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Row, func, select

from smarketing.store.tables import people, scores, touchpoints

PERSON_COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "title",
    "phone",
    "country",
    "stage",
    "owner_id",
    "original_channel",
)
ACCOUNT_COLUMNS = ("id", "name", "domain", "industry", "employees", "annual_revenue", "owner_id")
EVENT_COLUMNS = ("channel", "source", "medium", "campaign", "team", "referrer", "properties")
"""Touch columns a `when` may read besides kind, name and url (fetched only when it does)."""


@dataclass(frozen=True, slots=True)
class Selection:
    """Which people: the ids listed, or every id in [low, high)."""

    ids: Sequence[int] | None = None
    low: int | None = None
    high: int | None = None


@dataclass(frozen=True, slots=True)
class PersonRow:
    person: dict[str, Any]
    account: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class TouchColumns:
    person_id: NDArray[np.int64]
    epoch: NDArray[np.int64]
    combo: NDArray[np.int64]
    """Code of the touch's (kind, name, url, *extra columns) in the caller's `codes` dict."""


@dataclass(frozen=True, slots=True)
class StoredScore:
    fit: float
    engagement: float
    total: float
    computed_at: datetime
    playbook_version_id: int | None
    contributions: list[dict[str, Any]]


def people_bounds(conn: Connection) -> tuple[int, int, int]:
    """(count, lowest id, highest id) of the people who are not merged into someone else."""
    row = conn.execute(
        select(func.count(), func.min(people.c.id), func.max(people.c.id)).where(
            people.c.merged_into_id.is_(None)
        )
    ).one()
    return int(row[0]), int(row[1] or 0), int(row[2] or 0)


def person_id_by_email(conn: Connection, email: str) -> int | None:
    found = conn.execute(select(people.c.id).where(people.c.email == email)).scalar()
    return int(found) if found is not None else None


def merged_into(conn: Connection, person_id: int) -> tuple[bool, int | None]:
    """(exists, the person it was merged into or None)."""
    row = conn.execute(select(people.c.merged_into_id).where(people.c.id == person_id)).first()
    return (row is not None, row[0] if row is not None else None)


def _where(conn: Connection, selection: Selection, column: str) -> tuple[str, list[Any]]:
    """SQL condition on `column` for the people selected, and its parameters."""
    if conn.dialect.name == "postgresql":
        if selection.ids is not None:
            return f"{column} = ANY(%s)", [list(selection.ids)]
        return f"{column} >= %s AND {column} < %s", [selection.low, selection.high]
    if selection.ids is not None:
        return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(list(selection.ids))]
    return f"{column} >= ? AND {column} < ?", [selection.low, selection.high]


def _raw_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def people_rows(
    conn: Connection,
    selection: Selection,
    *,
    person_traits: bool,
    account_traits: bool,
    lock: bool = False,
) -> list[PersonRow]:
    """The people selected (merged ones left out), ordered by id, with their account's fields.
    Traits (when asked for) are merged in under the columns, as conditions read them.

    `lock` (PostgreSQL): lock their rows until the transaction ends, so two transactions
    rescoring the same person take turns and the second sees the first one's touchpoints
    (SQLite needs nothing: it has one writer at a time)."""
    cols = [f"p.{c}" for c in PERSON_COLUMNS] + [f"a.{c}" for c in ACCOUNT_COLUMNS]
    cols += ["p.traits" if person_traits else "NULL", "a.traits" if account_traits else "NULL"]
    where, params = _where(conn, selection, "p.id")
    sql = (
        f"SELECT {', '.join(cols)} FROM people p LEFT JOIN accounts a ON a.id = p.account_id "
        f"WHERE p.merged_into_id IS NULL AND {where} ORDER BY p.id"
    )
    if lock and conn.dialect.name == "postgresql":
        sql += " FOR UPDATE OF p"
    n_person, n_account = len(PERSON_COLUMNS), len(ACCOUNT_COLUMNS)
    out = []
    for row in _raw_rows(conn, sql, params):
        person = dict(_json(row[-2]) or {}) if person_traits else {}
        person.update(zip(PERSON_COLUMNS, row[:n_person], strict=True))
        account = None
        if row[n_person] is not None:
            account = dict(_json(row[-1]) or {}) if account_traits else {}
            account.update(zip(ACCOUNT_COLUMNS, row[n_person : n_person + n_account], strict=True))
            if account["annual_revenue"] is not None:
                account["annual_revenue"] = float(account["annual_revenue"])
        out.append(PersonRow(person, account))
    return out


def _epoch_sql(dialect: str) -> str:
    if dialect == "postgresql":
        return "CAST(FLOOR(EXTRACT(EPOCH FROM occurred_at)) AS BIGINT)"
    if sqlite3.sqlite_version_info >= (3, 38):
        return "unixepoch(occurred_at)"
    return "CAST(strftime('%s', occurred_at) AS INTEGER)"


def _bind_time(conn: Connection, column: Any, value: datetime) -> Any:
    """`value` as the driver takes it for `column` (the same text SQLAlchemy would store)."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process else value


def touch_columns(
    conn: Connection,
    selection: Selection,
    *,
    until: datetime,
    extra: Sequence[str],
    codes: dict[tuple[Hashable, ...], int],
) -> TouchColumns:
    """Touchpoints of the selected people that occurred at or before `until`, as arrays; each
    distinct (kind, name, url, *extra) gets a code in `codes` (shared across calls)."""
    dialect = conn.dialect.name
    mark = "%s" if dialect == "postgresql" else "?"
    cols = ["kind", "name", "url"] + [
        "CAST(properties AS TEXT)" if c == "properties" else c for c in extra
    ]
    where, params = _where(conn, selection, "person_id")
    params.append(_bind_time(conn, touchpoints.c.occurred_at, until))
    sql = (
        f"SELECT person_id, {_epoch_sql(dialect)}, {', '.join(cols)} FROM touchpoints "
        f"WHERE {where} AND occurred_at <= {mark}"
    )
    cursor: Any = conn.connection.cursor()  # iterated row by row: the fastest way in
    person_ids: list[int] = []
    epochs: list[int] = []
    combos: list[int] = []
    add_person, add_epoch, add_combo = person_ids.append, epochs.append, combos.append
    code = codes.setdefault
    try:
        cursor.execute(sql, params)
        if extra:
            for row in cursor:
                add_person(row[0])
                add_epoch(row[1])
                add_combo(code(row[2:], len(codes)))
        else:
            for person_id, epoch, kind, name, url in cursor:
                add_person(person_id)
                add_epoch(epoch)
                add_combo(code((kind, name, url), len(codes)))
    finally:
        cursor.close()
    return TouchColumns(
        person_id=np.array(person_ids, dtype=np.int64),
        epoch=np.array(epochs, dtype=np.int64),
        combo=np.array(combos, dtype=np.int64),
    )


def person_touches(conn: Connection, person_id: int, until: datetime) -> list[Row[Any]]:
    """Every touchpoint of one person up to `until`, oldest first, with the fields rules read."""
    cols = [touchpoints.c[c] for c in ("occurred_at", "kind", "name", "url", *EVENT_COLUMNS)]
    return list(
        conn.execute(
            select(*cols)
            .where(touchpoints.c.person_id == person_id, touchpoints.c.occurred_at <= until)
            .order_by(touchpoints.c.occurred_at, touchpoints.c.id)
        )
    )


def upsert_scores(
    conn: Connection,
    rows: Sequence[tuple[int, float, float, float, str]],
    *,
    computed_at: datetime,
    playbook_version_id: int | None,
) -> None:
    """Insert or replace the scores of many people (distinct ids) in one call: rows are
    (person_id, fit, engagement, total, contributions as JSON text). SQLite: one driver
    executemany; PostgreSQL: one statement over the rows passed as arrays (`unnest`), planned
    and run once instead of once per person. The contributions go as one JSON array (their
    texts joined), not a text array: psycopg escapes every quote of a text array's elements
    in Python, which was 29 % of the tracking processor's time under load."""
    if not rows:
        return
    columns = "person_id, fit, engagement, total, contributions, computed_at, playbook_version_id"
    upsert = (
        "ON CONFLICT (person_id) DO UPDATE SET fit = excluded.fit, "
        "engagement = excluded.engagement, total = excluded.total, "
        "contributions = excluded.contributions, computed_at = excluded.computed_at, "
        "playbook_version_id = excluded.playbook_version_id"
    )
    at = _bind_time(conn, scores.c.computed_at, computed_at)
    if conn.dialect.name == "postgresql":
        person, fit, engagement, total, contributions = (list(c) for c in zip(*rows, strict=True))
        conn.exec_driver_sql(
            f"INSERT INTO scores ({columns}) SELECT v.p, v.f, v.e, v.t, v.c, %(at)s, %(version)s "
            "FROM ROWS FROM (unnest(%(p)s::bigint[]), unnest(%(f)s::float8[]), "
            "unnest(%(e)s::float8[]), unnest(%(t)s::float8[]), json_array_elements(%(c)s::json)) "
            f"AS v(p, f, e, t, c) {upsert}",
            {
                "at": at,
                "version": playbook_version_id,
                "p": person,
                "f": fit,
                "e": engagement,
                "t": total,
                "c": f"[{','.join(contributions)}]",
            },
        )
        return
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO scores ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?) {upsert}",
            [(*r, at, playbook_version_id) for r in rows],
        )
    finally:
        cursor.close()


def delete_merged_scores(conn: Connection, selection: Selection) -> None:
    """Drop the scores of the selected people who were merged into someone else."""
    where, params = _where(conn, selection, "id")
    cursor = conn.connection.cursor()
    try:
        cursor.execute(
            "DELETE FROM scores WHERE person_id IN "
            f"(SELECT id FROM people WHERE merged_into_id IS NOT NULL AND {where})",
            params,
        )
    finally:
        cursor.close()


def stored_score(conn: Connection, person_id: int) -> StoredScore | None:
    row = conn.execute(select(scores).where(scores.c.person_id == person_id)).first()
    if row is None:
        return None
    return StoredScore(
        fit=row.fit,
        engagement=row.engagement,
        total=row.total,
        computed_at=row.computed_at,
        playbook_version_id=row.playbook_version_id,
        contributions=list(row.contributions or []),
    )

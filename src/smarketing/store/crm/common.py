"""What every CRM upsert shares: outcomes, the write context, record shapes, set-based lookups."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    String,
    Table,
    bindparam,
    func,
    select,
)
from sqlalchemy.types import TypeEngine

from smarketing.store.tables import accounts, campaigns, deals, identities, people, touchpoints
from smarketing.store.types import UTCDateTime

IN_BATCH = 5000
"""Most values in one `IN (...)` list (SQLite allows 32,766 bound values per statement)."""


class Outcome(StrEnum):
    IMPORTED = "imported"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What became of one record; a rejection names our field and says why."""

    outcome: Outcome
    field: str | None = None
    reason: str | None = None
    value: str = ""


IMPORTED = RowOutcome(Outcome.IMPORTED)
UNCHANGED = RowOutcome(Outcome.UNCHANGED)


def rejected(field: str, reason: str, value: str = "") -> RowOutcome:
    return RowOutcome(Outcome.REJECTED, field, reason, value)


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who writes, when: `now` stamps `updated_at`; actor/reason go on transitions."""

    now: datetime
    actor: str
    reason: str
    playbook_version_id: int | None = None
    default_currency: str = "USD"


class IdentityRef(Protocol):
    """A person by identity: kind `email`, `hubspot`, `salesforce`... and its value."""

    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> str: ...


class AccountLink(Protocol):
    """An account by `hubspot_id`, `salesforce_id` or `domain` (the `key`) and its value."""

    @property
    def key(self) -> str: ...
    @property
    def value(self) -> str: ...


STATISTICS_TABLES: dict[str, tuple[Table, ...]] = {
    "people": (people, identities),
    "accounts": (accounts,),
    "deals": (deals,),
    "campaigns": (campaigns,),
    "campaign-responses": (touchpoints,),
}
"""The tables an import of each kind of record fills and then looks rows up in."""


def refresh_statistics(conn: Connection, records: str) -> None:
    """PostgreSQL: `ANALYZE` the tables an import of `records` (`people`, `accounts`, `deals`,
    `campaigns`, `campaign-responses`) fills, so its lookups keep using their
    indexes. Planner statistics of a table that grew from empty to millions of rows within
    minutes are stale (autovacuum lags behind, or is off), and PostgreSQL then plans the
    `kind = ... AND value IN (...)` lookups as scans of every row: measured 100+ s per chunk at
    700k people. A no-op on SQLite, whose planner uses the indexes without statistics."""
    tables = STATISTICS_TABLES.get(records, ())
    if conn.dialect.name == "postgresql" and tables:
        conn.exec_driver_sql(f"ANALYZE {', '.join(table.name for table in tables)}")


def select_in(
    conn: Connection, columns: Sequence[Any], where: Column[Any], values: Iterable[Any]
) -> list[Any]:
    """Rows of `columns` whose `where` is in `values`: one SELECT per `IN_BATCH` values."""
    wanted = list(dict.fromkeys(v for v in values if v is not None))
    found: list[Any] = []
    for start in range(0, len(wanted), IN_BATCH):
        batch = wanted[start : start + IN_BATCH]
        found.extend(conn.execute(select(*columns).where(where.in_(batch))).all())
    return found


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """`count` new ids for `table`, so rows can be inserted with their ids known up front.

    PostgreSQL draws them from the table's sequence (safe with concurrent writers). SQLite
    continues after the largest id, which is safe because every write transaction there holds
    the database's write lock from its start (`BEGIN IMMEDIATE`, see `store.database`).
    """
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        sequence = f"pg_get_serial_sequence('{table.name}', 'id')::regclass"
        rows = conn.exec_driver_sql(  # the sequence looked up once, not once per id
            f"SELECT nextval(s.seq) FROM (SELECT {sequence} AS seq OFFSET 0) AS s, "
            f"generate_series(1, {int(count)})"
        )
        return list(rows.scalars().all())  # one fetch, not one per id
    largest = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(int(largest) + 1, int(largest) + 1 + count))


def _copy_in(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    converters: tuple[tuple[int, Callable[[Any], Any], bool], ...],
) -> None:
    """PostgreSQL: `COPY ... FROM STDIN` on the connection's own driver connection, so inside
    the caller's transaction; 5-10x faster than executemany for thousands of rows.

    Rows converted by the caller (no `converters`) go in COPY's binary format, typed by the
    columns (`_copy_types`): about 6x cheaper to format here than text (measured: 3.0 ->
    0.5 us for a row of `people`) and cheaper for the server to read."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    names = ", ".join(columns)
    types = None if converters else _copy_types(table, tuple(columns))
    try:
        if types is not None:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
            return
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                if not converters:
                    copy.write_row(row)
                    continue
                values = list(row)
                for index, convert, _ in converters:
                    if values[index] is not None:
                        values[index] = convert(values[index])
                copy.write_row(values)
    finally:
        cursor.close()


_COPY_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (UTCDateTime, "timestamp"),  # naive UTC (`time_converter`)
    (JSON, "text"),  # `json_text`: json's binary form is its text
    (String, "text"),  # varchar's binary form is text's
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Boolean, "bool"),
)


@cache
def _copy_types(table: Table, columns: tuple[str, ...]) -> list[str] | None:
    """The binary COPY type of each of `columns`, or None (text COPY) if one has no
    binary form here (dates, floats, money: their values may come as other Python types)."""
    types = []
    for name in columns:
        column_type = table.c[name].type
        found = next((t for kind, t in _COPY_TYPES if isinstance(column_type, kind)), None)
        if found is None:
            return None
        types.append(found)
    return types


def time_converter(conn: Connection) -> Callable[[datetime], Any]:
    """How this connection's driver takes a `UTCDateTime` value (see `insert_many`)."""
    return _sqlite_time if conn.dialect.name == "sqlite" else _naive_utc


def insert_many(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    converted: bool = False,
) -> None:
    """Insert `rows` (tuples in the order of `columns`) with the driver's own executemany.

    The hot path of large imports: SQLAlchemy's per-row parameter processing costs more than
    the insert itself (measured: ~10 us per row against ~3 us). Values are converted here the
    way the column types would: `UTCDateTime` to naive UTC (SQLite: its text format), JSON to
    text; `converted=True` says the caller did that already (`time_converter`, `json_text`).
    """
    if not rows:
        return
    converters = () if converted else _converters(conn.dialect.name, table, tuple(columns))
    if conn.dialect.name == "postgresql":
        _copy_in(conn, table, columns, rows, converters)
        return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    if converters:
        memo: dict[datetime, Any] = {}
        ready = []
        for row in rows:
            values = list(row)
            for index, convert, is_time in converters:
                value = values[index]
                if value is None:
                    continue
                if is_time:
                    found = memo.get(value)
                    if found is None:
                        found = memo[value] = convert(value)
                    values[index] = found
                else:
                    values[index] = convert(value)
            ready.append(tuple(values))
        rows = ready
    conn.exec_driver_sql(statement, list(rows))


def json_text(value: Any) -> str:
    """`json.dumps(value)` (text passes as it is), through one C encoder made once: `dumps`
    makes a new one on every call, half its cost for a small dict (measured: 2.0 -> 0.9 us).
    The one difference: a value that contains itself raises `RecursionError`, not
    `ValueError` (the stored values are flat dicts and lists)."""
    if isinstance(value, str):
        return value
    if _ENCODE is None:
        return json.dumps(value)
    return "".join(_ENCODE(value, 0))


def _json_encoder() -> Callable[[Any, int], Sequence[str]] | None:
    """The encoder `json.dumps` makes with its default arguments, without circular checks;
    None when the C accelerator is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    plain = json.JSONEncoder()
    encoder: Callable[[Any, int], Sequence[str]] = make(
        None, plain.default, json.encoder.encode_basestring_ascii, None,
        plain.key_separator, plain.item_separator, False, False, True,
    )  # fmt: skip
    return encoder


_ENCODE = _json_encoder()


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


def _sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite text format for a UTC time: `2024-03-01 10:00:00.000000`."""
    if value.tzinfo is UTC:
        return value.isoformat(" ", "microseconds")[:26]
    return _naive_utc(value).isoformat(" ", "microseconds")


@cache
def _converters(
    dialect: str, table: Table, columns: tuple[str, ...]
) -> tuple[tuple[int, Callable[[Any], Any], bool], ...]:
    """(position, converter, is a time) for the columns whose values need converting."""
    found: list[tuple[int, Callable[[Any], Any], bool]] = []
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type, UTCDateTime):
            found.append((index, _sqlite_time if dialect == "sqlite" else _naive_utc, True))
        elif isinstance(column_type, JSON):
            found.append((index, json_text, False))
    return tuple(found)


def update_by_id(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """One executemany UPDATE; each row holds `row_id` and the columns to set. Tables with a
    `change_seq` get it incremented."""
    if rows:
        statement = table.update().where(table.c.id == bindparam("row_id"))
        if "change_seq" in table.c:
            statement = statement.values(change_seq=table.c.change_seq + 1)
        conn.execute(statement, rows)


def account_ids(conn: Connection, links: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Account ids by (`hubspot_id` | `salesforce_id` | `domain`, value)."""
    wanted: dict[str, set[str]] = {}
    for column, value in links:
        wanted.setdefault(column, set()).add(value)
    found: dict[tuple[str, str], int] = {}
    for column, values in wanted.items():
        for account_id, value in driver_select_in(conn, accounts, ("id", column), column, values):
            found[(column, value)] = account_id
    return found


def driver_select_in(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    where: str,
    values: Iterable[Any],
    *,
    equal: tuple[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """Like `select_in`, through the driver: 3x cheaper for long `IN` lists, but values come
    back as the driver gives them (JSON may be text). For the hot lookups of large imports.

    PostgreSQL gets the values as one array, joined as `IN (SELECT unnest(array))`: one index
    probe per value whatever the table's statistics. `= ANY(array)` lets the planner weigh all
    5,000 values against the table's size, and it chose parallel scans of every row (measured
    at 200k people: 45 ms and three processes per lookup, against 10 ms in one)."""
    wanted = list(dict.fromkeys(v for v in values if v is not None))
    is_postgres = conn.dialect.name == "postgresql"
    numeric = isinstance(table.c[where].type, Integer)
    array_type = "bigint" if numeric else "text"
    marker = "%s" if is_postgres else "?"
    prefix = f"SELECT {', '.join(columns)} FROM {table.name} WHERE "
    if equal is not None:
        prefix += f"{equal[0]} = {marker} AND "
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(wanted), IN_BATCH):
        batch = wanted[start : start + IN_BATCH]
        if is_postgres:  # one array: cheaper to send and plan than a long list
            array = _array_literal(batch, numeric=numeric)
            statement = f"{prefix}{where} IN (SELECT unnest(%s::{array_type}[]))"
            params: tuple[Any, ...] = (array,)
        else:
            statement = f"{prefix}{where} IN ({', '.join([marker] * len(batch))})"
            params = tuple(batch)
        if equal is not None:
            params = (equal[1], *params)
        found.extend(map(tuple, conn.exec_driver_sql(statement, params).all()))
    return found


def _array_literal(values: Sequence[Any], *, numeric: bool) -> str:
    """`values` as a PostgreSQL array literal (of numbers, else of quoted text): 5x cheaper to
    build than the driver's dump of a list."""
    if numeric:
        return "{" + ",".join(map(str, values)) + "}"
    quoted = (str(v).replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + '","'.join(quoted) + '"}'


def identity_owners(
    conn: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """The person owning each known (kind, value): one SELECT per kind (and `IN_BATCH`
    values), so the unique (kind, value) index answers it."""
    by_kind: dict[str, set[str]] = {}
    for kind, value in keys:
        by_kind.setdefault(kind, set()).add(value)
    found: dict[tuple[str, str], int] = {}
    for kind, values in by_kind.items():
        rows = driver_select_in(
            conn, identities, ("value", "person_id"), "value", values, equal=("kind", kind)
        )
        found.update({(kind, value): person_id for value, person_id in rows})
    return found


def person_ids(conn: Connection, refs: Iterable[IdentityRef]) -> dict[tuple[str, str], int]:
    """Person ids by (identity kind, value); `email` refs match `people.email` first."""
    wanted = {(str(r.kind), r.value) for r in refs}
    found = identity_owners(conn, wanted)
    emails = {value for kind, value in wanted if kind == "email"}
    for person_id, email in select_in(conn, [people.c.id, people.c.email], people.c.email, emails):
        found[("email", email)] = person_id
    return found

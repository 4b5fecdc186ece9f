"""Keep the DuckDB copy (`analytics.duckdb`) current with the store, incrementally.

A report first syncs, then reads the copy. Each table of `analytics.tables` says how it is
kept (`Sync`); the state of the copy lives in `_smarketing_sync`, one row per table:

- APPEND (touchpoints, transitions, playbook versions): rows with `id > max id copied`.
  Ids are never reused by the store (SQLite AUTOINCREMENT semantics are not needed: rows are
  never deleted, see below).
- MUTABLE (people, accounts, deals, hand-offs, campaigns, content, users): rows with
  `updated_at >= max(watermark, last sync time) - overlap`, upserted by id. The store reads
  its clock *before* it commits, so a row can become visible with an `updated_at` a little
  older than rows seen earlier: the overlap window (5 minutes by default) re-reads that span.
  Writers' clocks must agree with the syncing process's clock within the window.
- OPEN_ROWS (SLA clocks, which have no `updated_at`): new ids, plus the clocks that were
  still running in the copy (a clock changes only while it runs).
- FULL (sign-offs): a few rows, copied whole.

Rows that follow a person (touchpoints, transitions, hand-offs, deals) are also moved by
merges, anonymous-history attachment and account links, which touch the person but not those
rows' timestamps. So every person changed since the last sync (and the survivor of a merge,
and whoever gained an identity) has those rows re-read whole. After 100 new events a sync
copies about 100 touchpoints plus the rows of the few people they changed.

People erased from the store (rows deleted) are detected by count and trigger a full rebuild;
so does a new table layout. `full=True` rebuilds on demand. One sync is one snapshot of the
store (one read transaction) and one DuckDB transaction: a report never sees half a sync.

Readers: SQLite through the standard `sqlite3` module in batches of Arrow (not ADBC in this
process: see `_SqliteSource`), except full copies of big tables, which a child process reads
with ADBC when `adbc-driver-sqlite` is installed (`_AdbcChild`); PostgreSQL through
psycopg's `COPY ... TO STDOUT (FORMAT csv)`, read by DuckDB with declared types. Every column
travels as an integer or as text and is cast once, in DuckDB, to the type in
`analytics.tables` (money DECIMAL(18, 2), timestamps naive UTC): no type is guessed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import itertools
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from smarketing.analytics.engines.errors import EngineError
from smarketing.analytics.tables import MONEY, SPECS, Sync, TableSpec
from smarketing.store.database import Database

OVERLAP = timedelta(minutes=5)
STATE = "_smarketing_sync"
IDENTITIES = "_identities"
META = "_layout"
CHUNK_IDS = 10_000
LAYOUT = hashlib.sha256(
    json.dumps([(s.name, s.columns, s.sync.value) for s in SPECS]).encode()
).hexdigest()[:16]

_WIRES = itertools.count()
_DUCK_TYPES = {
    "int64": "BIGINT",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    MONEY: "DECIMAL(18, 2)",
    "date": "DATE",
    "string": "VARCHAR",
}


@dataclass(frozen=True, slots=True)
class TableSync:
    table: str
    rows: int
    full: bool


@dataclass(frozen=True, slots=True)
class SyncResult:
    tables: tuple[TableSync, ...]
    seconds: float
    full: bool
    reason: str | None = None

    def rows(self, table: str) -> int:
        return next((t.rows for t in self.tables if t.table == table), 0)

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def describe(self) -> str:
        kind = "full copy" if self.full else "incremental sync"
        why = f" ({self.reason})" if self.reason else ""
        return f"{kind}{why}: {self.total_rows:,} rows in {self.seconds:.2f} s"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _wire_int(spec: TableSpec, column: str) -> bool:
    return spec.columns[column] in ("int64", "boolean")


def _typed(column: str, kind: str) -> str:
    c = _q(column)
    if kind == "boolean":
        return f"(CAST({c} AS BIGINT) <> 0) AS {c}"
    if kind == "string":
        return c
    return f"CAST({c} AS {_DUCK_TYPES[kind]}) AS {c}"


def _typed_select(spec: TableSpec) -> str:
    return ", ".join(_typed(c, k) for c, k in spec.columns.items())


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


class _Source(Protocol):
    dialect: str

    def stage(self, con: duckdb.DuckDBPyConnection, name: str, spec: TableSpec, where: str) -> None:
        """Create (or append to) DuckDB temp table `name` with the rows of `where`, typed."""
        ...

    def count(self, sql: str) -> int: ...

    def timestamp_literal(self, at: datetime) -> str: ...

    def close(self) -> None: ...


def _wire_columns(spec: TableSpec, integer: str) -> str:
    return ", ".join(
        f"CAST({_q(c)} AS {integer}) AS {_q(c)}"
        if _wire_int(spec, c)
        else f"CAST({_q(c)} AS TEXT) AS {_q(c)}"
        for c in spec.columns
    )


def _insert_stage(con: duckdb.DuckDBPyConnection, name: str, select: str) -> None:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [name]
    ).fetchone()
    if exists and exists[0]:
        con.execute(f"INSERT INTO {_q(name)} {select}")
    else:
        con.execute(f"CREATE TEMP TABLE {_q(name)} AS {select}")


class _SqliteSource:
    """SQLite through the `sqlite3` module: the same SQLite library the store's writers use.

    Not ADBC: its driver bundles a second copy of SQLite, and two copies in one process
    release each other's POSIX locks (sqlite.org, "How To Corrupt An SQLite Database" 2.2.1),
    which broke reads in a test and can corrupt a store that the API process writes."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.plain = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.plain.execute("PRAGMA busy_timeout = 30000")
        self.plain.execute("BEGIN")  # one snapshot for the whole sync

    def count(self, sql: str) -> int:
        row = self.plain.execute(sql).fetchone()
        return int(row[0] or 0) if row else 0

    def timestamp_literal(self, at: datetime) -> str:
        # The store's SQLite format: 'YYYY-MM-DD HH:MM:SS.ffffff' (text, compares in order).
        return "'" + _naive(at).strftime("%Y-%m-%d %H:%M:%S.%f") + "'"

    def _wire_schema(self, spec: TableSpec) -> pa.Schema:
        return pa.schema(
            [(c, pa.int64() if _wire_int(spec, c) else pa.string()) for c in spec.columns]
        )

    def _reader(self, spec: TableSpec, where: str) -> pa.RecordBatchReader:
        select = f"SELECT {_wire_columns(spec, 'INTEGER')} FROM {_q(spec.name)} WHERE {where}"
        schema = pa.schema(
            [(c, pa.int64() if _wire_int(spec, c) else pa.string()) for c in spec.columns]
        )
        cursor = self.plain.execute(select)

        def batches() -> Iterator[pa.RecordBatch]:
            while rows := cursor.fetchmany(100_000):
                columns = list(zip(*rows, strict=True))
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(values, type=field.type)
                        for values, field in zip(columns, schema, strict=True)
                    ],
                    schema=schema,
                )
            cursor.close()

        return pa.RecordBatchReader.from_batches(schema, batches())

    def stage(self, con: duckdb.DuckDBPyConnection, name: str, spec: TableSpec, where: str) -> None:
        child = None
        if (
            where == FULL_COPY
            and _adbc_available()
            and self.count(f"SELECT coalesce(max(id), 0) FROM {_q(spec.name)}") >= CHILD_MIN_ROWS
        ):
            child = _AdbcChild(self.path, spec)
        # a fresh name per stream: inside a transaction DuckDB may keep an old registration
        wire = f"_wire_{next(_WIRES)}"
        con.register(wire, child.reader if child else self._reader(spec, where))
        try:
            probe = " WHERE _probe = 0" if child else ""
            _insert_stage(con, name, f"SELECT {_typed_select(spec)} FROM {wire}{probe}")
        finally:
            con.unregister(wire)
            if child is not None:
                child.finish()

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.plain.execute("ROLLBACK")
        self.plain.close()


FULL_COPY = "1 = 1"
CHILD_MIN_ROWS = 200_000


def _adbc_available() -> bool:
    return importlib.util.find_spec("adbc_driver_sqlite") is not None


def _probe_select(spec: TableSpec) -> str:
    """The wire SELECT behind a probe row of 0 / '': ADBC types each column from its first
    batch, and a first batch of NULLs would pin a text column to int64."""
    probe = ", ".join(
        f"0 AS {_q(c)}" if _wire_int(spec, c) else f"'' AS {_q(c)}" for c in spec.columns
    )
    select = f"SELECT {_wire_columns(spec, 'INTEGER')} FROM {_q(spec.name)}"
    return f"SELECT 1 AS _probe, {probe} UNION ALL SELECT 0, * FROM ({select})"


class _AdbcChild:
    """A full copy of a big table read by ADBC in a child process, streamed back as Arrow IPC.

    About 10x faster than `sqlite3` (which builds a Python tuple per row). In a child process
    ADBC's own SQLite library cannot release the locks of this process's SQLite (see
    `_SqliteSource`). Its snapshot is its own: rows committed in between come with the next
    sync (its windows are read from the copy and the clock, not from the snapshot)."""

    def __init__(self, path: str, spec: TableSpec) -> None:
        self.spec = spec
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE, path, _probe_select(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        self.reader = pa.ipc.open_stream(self.process.stdout)

    def finish(self) -> None:
        _, err = self.process.communicate()
        if self.process.returncode:
            message = err.decode(errors="replace").strip().splitlines()
            raise EngineError(
                f"copying {self.spec.name} failed: {message[-1] if message else 'no output'}",
                hint="run `smarketing sync --full` again; uninstall adbc-driver-sqlite to "
                "copy without it",
            )


_CHILD_CODE = """
import sys
import adbc_driver_manager, adbc_driver_sqlite, pyarrow as pa
db = adbc_driver_sqlite.connect(sys.argv[1])
conn = adbc_driver_manager.AdbcConnection(db)
statement = adbc_driver_manager.AdbcStatement(conn)
statement.set_sql_query(sys.argv[2])
stream, _ = statement.execute_query()
reader = pa.RecordBatchReader._import_from_c(stream.address)
with pa.ipc.new_stream(sys.stdout.buffer, reader.schema) as out:
    for batch in reader:
        out.write_batch(batch)
"""


class _PostgresSource:
    """PostgreSQL through psycopg: `COPY (SELECT ...) TO STDOUT (FORMAT csv)`, one snapshot."""

    dialect = "postgresql"

    def __init__(self, db: Database) -> None:
        self._conn = db.engine.connect().execution_options(isolation_level="REPEATABLE READ")
        self._conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        self._conn.exec_driver_sql("SET LOCAL DateStyle = 'ISO, YMD'")
        self._conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
        self._pg: Any = self._conn.connection.driver_connection

    def count(self, sql: str) -> int:
        with self._pg.cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
        return int(row[0] or 0) if row else 0

    def timestamp_literal(self, at: datetime) -> str:
        return "TIMESTAMP '" + _naive(at).isoformat(sep=" ") + "'"

    def stage(self, con: duckdb.DuckDBPyConnection, name: str, spec: TableSpec, where: str) -> None:
        select = f"SELECT {_wire_columns(spec, 'BIGINT')} FROM {_q(spec.name)} WHERE {where}"
        for column, kind in spec.columns.items():
            if kind == "boolean":  # PostgreSQL casts boolean to integer, not to bigint
                select = select.replace(
                    f"CAST({_q(column)} AS BIGINT)", f"CAST({_q(column)} AS INTEGER)"
                )
        with tempfile.NamedTemporaryFile(suffix=".csv") as handle:
            with (
                self._pg.cursor() as cur,
                cur.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)") as copy,
            ):
                for data in copy:
                    handle.write(data)
            handle.flush()
            columns = ", ".join(
                f"'{c}': '{'BIGINT' if _wire_int(spec, c) else 'VARCHAR'}'" for c in spec.columns
            )
            wire = (
                f"read_csv('{handle.name}', columns={{{columns}}}, header=false, "
                "nullstr='', allow_quoted_nulls=false, quote='\"', escape='\"', "
                "auto_detect=false)"
            )
            _insert_stage(con, name, f"SELECT {_typed_select(spec)} FROM {wire}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.rollback()
        self._conn.close()


def open_source(db: Database) -> _Source:
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        return _SqliteSource(str(url.database))
    return _PostgresSource(db)


def _ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE} (name VARCHAR PRIMARY KEY, max_id BIGINT, "
        "watermark TIMESTAMP, synced_at TIMESTAMP, layout VARCHAR)"
    )


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, datetime | None, datetime]]:
    rows = con.execute(f"SELECT name, max_id, watermark, synced_at FROM {STATE}").fetchall()
    return {r[0]: (int(r[1] or 0), r[2], r[3]) for r in rows}


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    for spec in SPECS:
        columns = ", ".join(f"{_q(c)} {_DUCK_TYPES[k]}" for c, k in spec.columns.items())
        con.execute(f"DROP TABLE IF EXISTS {_q(spec.name)}")
        con.execute(f"CREATE TABLE {_q(spec.name)} ({columns})")
    con.execute(f"DELETE FROM {STATE}")
    con.execute(f"INSERT INTO {STATE} (name, layout) VALUES (?, ?)", [META, LAYOUT])


def _id_chunks(ids: Sequence[int]) -> Iterator[str]:
    for i in range(0, len(ids), CHUNK_IDS):
        yield ", ".join(str(int(x)) for x in ids[i : i + CHUNK_IDS])


def _column_ids(con: duckdb.DuckDBPyConnection, sql: str) -> list[int]:
    return sorted({int(r[0]) for r in con.execute(sql).fetchall() if r[0] is not None})


class _Run:
    def __init__(
        self, con: duckdb.DuckDBPyConnection, source: _Source, now: datetime, overlap: timedelta
    ) -> None:
        self.con, self.source, self.now, self.overlap = con, source, _naive(now), overlap
        self.state = _state(con)
        self.counts: list[TableSync] = []
        self.changed_people: list[int] = []
        self.identities_max = 0

    def _stage_parts(self, spec: TableSpec, parts: list[str]) -> int:
        self.con.execute("DROP TABLE IF EXISTS _stage")
        for where in parts:
            self.source.stage(self.con, "_stage", spec, where)
        if len(parts) > 1:  # a row may match two parts: keep one copy
            self.con.execute("CREATE OR REPLACE TEMP TABLE _stage AS SELECT DISTINCT * FROM _stage")
        row = self.con.execute("SELECT count(*) FROM _stage").fetchone()
        return int(row[0]) if row else 0

    def copy_full(self, spec: TableSpec) -> int:
        self.con.execute(f"DELETE FROM {_q(spec.name)}")
        self.source.stage(self.con, "_full", spec, FULL_COPY)
        self.con.execute(f"INSERT INTO {_q(spec.name)} SELECT * FROM _full")
        row = self.con.execute("SELECT count(*) FROM _full").fetchone()
        self.con.execute("DROP TABLE _full")
        return int(row[0]) if row else 0

    def parts(self, spec: TableSpec) -> list[str]:
        max_id, watermark, synced_at = self.state[spec.name]
        if spec.sync is Sync.MUTABLE:
            lower = max(watermark or synced_at, synced_at) - self.overlap
            parts = [f"updated_at >= {self.source.timestamp_literal(lower)}"]
        else:
            parts = [f"id > {max_id}"]
        if spec.sync is Sync.OPEN_ROWS:
            running = _column_ids(
                self.con, f"SELECT id FROM {_q(spec.name)} WHERE stopped_at IS NULL"
            )
            parts += [f"id IN ({chunk})" for chunk in _id_chunks(running)]
        if spec.person_owned:
            parts += [f"person_id IN ({chunk})" for chunk in _id_chunks(self.changed_people)]
        return parts

    def copy_incremental(self, spec: TableSpec) -> int:
        rows = self._stage_parts(spec, self.parts(spec))
        table = _q(spec.name)
        self.con.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM _stage)")
        if spec.person_owned and self.changed_people:
            # rows moved away from a changed person (a merge) leave with the old copy
            people = f"_people_{next(_WIRES)}"
            self.con.register(people, pa.table({"id": pa.array(self.changed_people)}))
            self.con.execute(f"DELETE FROM {table} WHERE person_id IN (SELECT id FROM {people})")
            self.con.unregister(people)
        self.con.execute(f"INSERT INTO {table} SELECT * FROM _stage")
        if spec.name == "people":
            self.changed_people = _column_ids(
                self.con,
                "SELECT id FROM _stage UNION SELECT merged_into_id FROM _stage",
            )
        return rows

    def identities_changed(self) -> None:
        """People who gained an identity since the last sync had anonymous history attached."""
        max_id = self.state.get(IDENTITIES, (0, None, self.now))[0]
        rows = self.source.count(f"SELECT max(id) FROM identities WHERE id > {max_id}")
        if rows:
            spec = TableSpec("identities", {"id": "int64", "person_id": "int64"}, Sync.APPEND)
            self._stage_parts(spec, [f"id > {max_id}"])
            new = _column_ids(self.con, "SELECT person_id FROM _stage")
            self.changed_people = sorted(set(self.changed_people) | set(new))
        self.identities_max = max(rows, max_id)

    def save_state(self) -> None:
        for spec in SPECS:
            table = _q(spec.name)
            row = self.con.execute(f"SELECT max(id) FROM {table}").fetchone()
            max_id = int(row[0]) if row and row[0] is not None else 0
            watermark = None
            if spec.sync is Sync.MUTABLE:
                found = self.con.execute(f"SELECT max(updated_at) FROM {table}").fetchone()
                watermark = found[0] if found else None
            self.con.execute(
                f"INSERT OR REPLACE INTO {STATE} (name, max_id, watermark, synced_at) "
                "VALUES (?, ?, ?, ?)",
                [spec.name, max_id, watermark, self.now],
            )
        self.con.execute(
            f"INSERT OR REPLACE INTO {STATE} (name, max_id, synced_at) VALUES (?, ?, ?)",
            [IDENTITIES, self.identities_max, self.now],
        )


def _needs_rebuild(con: duckdb.DuckDBPyConnection, source: _Source) -> str | None:
    layout = con.execute(f"SELECT layout FROM {STATE} WHERE name = ?", [META]).fetchone()
    if not layout or layout[0] != LAYOUT:
        return "first copy" if not layout else "the table layout changed"
    state = _state(con)
    if "people" not in state:
        return "first copy"
    max_id = state["people"][0]
    copied = con.execute(f"SELECT count(*) FROM people WHERE id <= {max_id}").fetchone()
    stored = source.count(f"SELECT count(*) FROM people WHERE id <= {max_id}")
    if copied and stored < copied[0]:
        return "people were erased in the store"
    return None


def sync_copy(
    db: Database,
    con: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    full: bool = False,
    overlap: timedelta = OVERLAP,
) -> SyncResult:
    """Bring the copy on `con` up to date with the store of `db` (see the module docstring).

    `now` is the syncing process's clock (the workspace clock), read before the snapshot.
    """
    started = time.perf_counter()
    source = open_source(db)
    try:
        _ensure_state(con)
        reason = "asked for a full copy" if full else _needs_rebuild(con, source)
        con.execute("BEGIN TRANSACTION")
        try:
            if reason is not None:
                _create_tables(con)
            run = _Run(con, source, now, overlap)
            for spec in SPECS:
                if reason is not None or spec.sync is Sync.FULL or spec.name not in run.state:
                    rows = run.copy_full(spec)
                    run.counts.append(TableSync(spec.name, rows, True))
                else:
                    rows = run.copy_incremental(spec)
                    run.counts.append(TableSync(spec.name, rows, False))
                if spec.name == "people":
                    if reason is None:
                        run.identities_changed()
                    else:
                        run.identities_max = source.count("SELECT max(id) FROM identities")
            run.save_state()
            con.execute("DROP TABLE IF EXISTS _stage")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        source.close()
    return SyncResult(
        tables=tuple(run.counts),
        seconds=time.perf_counter() - started,
        full=reason is not None,
        reason=reason,
    )

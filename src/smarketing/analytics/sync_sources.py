"""Readers of the store for `analytics.sync`: SQLite (the `sqlite3` module in batches of
Arrow; full copies of big tables through ADBC in a child process) and PostgreSQL (`COPY ...
TO STDOUT`). Every column travels as an integer or as text and is cast once, in DuckDB, to the
type in `analytics.tables`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from smarketing.analytics.engines.errors import EngineError
from smarketing.analytics.tables import MONEY, TableSpec
from smarketing.store.database import Database

WIRES = itertools.count()
DUCK_TYPES = {
    "int64": "BIGINT",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    MONEY: "DECIMAL(18, 2)",
    "date": "DATE",
    "string": "VARCHAR",
}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _wire_int(spec: TableSpec, column: str) -> bool:
    return spec.columns[column] in ("int64", "boolean")


def _typed(column: str, kind: str) -> str:
    c = quote(column)
    if kind == "boolean":
        return f"(CAST({c} AS BIGINT) <> 0) AS {c}"
    if kind == "string":
        return c
    return f"CAST({c} AS {DUCK_TYPES[kind]}) AS {c}"


def _typed_select(spec: TableSpec) -> str:
    return ", ".join(_typed(c, k) for c, k in spec.columns.items())


def naive_utc(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


class Source(Protocol):
    dialect: str

    def stage(self, con: duckdb.DuckDBPyConnection, name: str, spec: TableSpec, where: str) -> None:
        """Create (or append to) DuckDB temp table `name` with the rows of `where`, typed."""
        ...

    def count(self, sql: str) -> int: ...

    def timestamp_literal(self, at: datetime) -> str: ...

    def close(self) -> None: ...


def _wire_columns(spec: TableSpec, integer: str) -> str:
    return ", ".join(
        f"CAST({quote(c)} AS {integer}) AS {quote(c)}"
        if _wire_int(spec, c)
        else f"CAST({quote(c)} AS TEXT) AS {quote(c)}"
        for c in spec.columns
    )


def _insert_stage(con: duckdb.DuckDBPyConnection, name: str, select: str) -> None:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [name]
    ).fetchone()
    if exists and exists[0]:
        con.execute(f"INSERT INTO {quote(name)} {select}")
    else:
        con.execute(f"CREATE TEMP TABLE {quote(name)} AS {select}")


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
        return "'" + naive_utc(at).strftime("%Y-%m-%d %H:%M:%S.%f") + "'"

    def _wire_schema(self, spec: TableSpec) -> pa.Schema:
        return pa.schema(
            [(c, pa.int64() if _wire_int(spec, c) else pa.string()) for c in spec.columns]
        )

    def _reader(self, spec: TableSpec, where: str) -> pa.RecordBatchReader:
        select = f"SELECT {_wire_columns(spec, 'INTEGER')} FROM {quote(spec.name)} WHERE {where}"
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
            and self.count(f"SELECT coalesce(max(id), 0) FROM {quote(spec.name)}") >= CHILD_MIN_ROWS
        ):
            child = _AdbcChild(self.path, spec)
        # a fresh name per stream: inside a transaction DuckDB may keep an old registration
        wire = f"_wire_{next(WIRES)}"
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
        f"0 AS {quote(c)}" if _wire_int(spec, c) else f"'' AS {quote(c)}" for c in spec.columns
    )
    select = f"SELECT {_wire_columns(spec, 'INTEGER')} FROM {quote(spec.name)}"
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
        return "TIMESTAMP '" + naive_utc(at).isoformat(sep=" ") + "'"

    def stage(self, con: duckdb.DuckDBPyConnection, name: str, spec: TableSpec, where: str) -> None:
        select = f"SELECT {_wire_columns(spec, 'BIGINT')} FROM {quote(spec.name)} WHERE {where}"
        for column, kind in spec.columns.items():
            if kind == "boolean":  # PostgreSQL casts boolean to integer, not to bigint
                select = select.replace(
                    f"CAST({quote(column)} AS BIGINT)", f"CAST({quote(column)} AS INTEGER)"
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


def open_source(db: Database) -> Source:
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        return _SqliteSource(str(url.database))
    return _PostgresSource(db)

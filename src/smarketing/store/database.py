"""The one place that opens connections to the operational store.

SQLite (the embedded default) runs in WAL mode with foreign keys on; every write transaction
starts with `BEGIN IMMEDIATE` so writers queue instead of failing half-way. PostgreSQL is used
as it comes. `open_database` refuses a store whose schema is behind and says how to fix it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

from smarketing.errors import DatabaseUnavailableError, SchemaBehindError, WorkspaceNotFoundError
from smarketing.settings import Settings
from smarketing.store.wal import WalCheckpointer


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 32 MiB of page cache per connection (SQLite's default is 2): a growing store's index
    # pages stay in memory; measured on tracking ingest, 3,736 -> 4,121 events/s and p99 at
    # 1,000 events/s 149 -> 82 ms after 60 s of load. Used as needed, not allocated up front.
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.close()


READ_ONLY = "smarketing_read_only"
BULK_WAL_PAGES = 10_000
"""A write transaction of a `Database` whose commit leaves more pages than this in the
write-ahead log copies them back into the database file (checkpoint), holding the write lock.
SQLite's default is 1,000; here the log is normally copied off the lock, by the
`WalCheckpointer` (store/wal.py), and this is the bound in case it falls behind. 40 MiB of
4 KiB pages."""
_WAL_BOUND = "smarketing_wal_bound"


def _sqlite_begin(conn: Connection) -> None:
    """Writers take the write lock up front (no deadlock on upgrade); readers don't (WAL)."""
    conn.exec_driver_sql(
        "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE"
    )


RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def retryable(exc: DBAPIError) -> bool:
    """Whether a failed transaction may simply be run again (PostgreSQL deadlock or
    serialization failure)."""
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def make_engine(url: str) -> Engine:
    """An engine for `url`, with the SQLite settings above; raises a clear error if unusable."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, pool_size=8, max_overflow=16)
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DatabaseUnavailableError(
            f"cannot use database URL {_redact(url)}: {exc}",
            hint="set SMARKETING_DATABASE_URL to e.g. postgresql+psycopg://user@host:5432/db",
        ) from None
    return engine


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{creds}@{host}"
    return url


def check_connects(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailableError(
            f"cannot connect to the database {_redact(str(engine.url))}: {reason}",
            hint="check that the server runs and SMARKETING_DATABASE_URL is right",
        ) from None


class _WriterFileLock:
    """An advisory lock on a file beside a SQLite database, held by one writer at a time
    across processes (`serve` and its tracking processor, an import, the worker). A waiting
    writer wakes the moment the lock is free, where SQLite's busy handler would sleep in steps
    of up to 100 ms."""

    def __init__(self, database_path: str) -> None:
        self.path = f"{database_path}-writer.lock"
        self._fd: int | None = None

    def __enter__(self) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class Database:
    """An engine plus the transaction helpers every repository and service uses.

    On SQLite, writers queue before `BEGIN IMMEDIATE` (one writer path): on a lock within the
    process, then on a lock file across processes. Waiting on a lock is cheap and wakes at
    once; SQLite's busy handler sleeps in steps of milliseconds.
    """

    engine: Engine
    _write_lock: threading.Lock = field(default_factory=threading.Lock)
    _file_lock: _WriterFileLock | None = field(init=False, default=None)
    _checkpointer: WalCheckpointer | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        path = self.engine.url.database or ":memory:"
        on_disk = path != ":memory:" and not path.startswith("file:")
        if self.engine.dialect.name == "sqlite" and on_disk:
            self._checkpointer = WalCheckpointer(path)
            if fcntl is not None:
                self._file_lock = _WriterFileLock(path)

    @property
    def single_writer(self) -> bool:
        """SQLite: one write transaction at a time for the whole store, so work that needs no
        lock is best done before taking it."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def begin(self, *, bulk: bool = False) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any error.

        On SQLite the commit does not copy the write-ahead log back into the database file
        (up to `BULK_WAL_PAGES`); the checkpointer thread does, once the write lock is free
        (store/wal.py). `bulk`: one of a run of large transactions (an import's chunks), which
        does not wake it: the log then grows to `BULK_WAL_PAGES` and the commit that crosses
        that copies it, so the index pages every chunk changes are copied once per several
        chunks, not once per chunk. Measured on `bench/import.py --rows 200000`, five
        alternating pairs: 16,189-18,083 -> 18,062-19,402 contacts/s."""
        if not self.single_writer:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self._file_lock or nullcontext(), self.engine.connect() as conn:
            record = conn.connection
            if not record.info.get(_WAL_BOUND):  # once per connection of the pool
                raw = record.driver_connection  # outside SQLAlchemy's transaction
                assert raw is not None
                raw.execute(f"PRAGMA wal_autocheckpoint={BULK_WAL_PAGES}")
                record.info[_WAL_BOUND] = True
            with conn.begin():
                yield conn
        if not bulk and self._checkpointer is not None:
            self._checkpointer.wake()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection (on SQLite: a deferred transaction, never the write lock)."""
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            yield conn

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()
        if self._file_lock is not None:
            self._file_lock.close()


def workspace_engine(settings: Settings, *, must_exist: bool = True) -> Engine:
    if settings.is_sqlite and must_exist and not settings.workspace.is_dir():
        raise WorkspaceNotFoundError(
            f"workspace {settings.workspace} does not exist",
            hint="create it with `smarketing init DIR` or pass --workspace",
        )
    engine = make_engine(settings.resolved_database_url)
    check_connects(engine)
    return engine


def open_database(settings: Settings) -> Database:
    """Open the store of a workspace whose schema is current; refuse otherwise."""
    from smarketing.store.migrations_runner import current_revision, head_revision

    if settings.is_sqlite:
        if not settings.workspace.is_dir():
            raise WorkspaceNotFoundError(
                f"workspace {settings.workspace} does not exist",
                hint="create it with `smarketing init DIR` or pass --workspace",
            )
        db_file = settings.workspace / "smarketing.db"
        if not db_file.exists():
            raise WorkspaceNotFoundError(
                f"no smarketing database in {settings.workspace}",
                hint="run `smarketing init DIR` (or `smarketing db upgrade`) first",
            )
    engine = workspace_engine(settings)
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        engine.dispose()
        state = "empty" if current is None else f"at revision {current}"
        raise SchemaBehindError(
            f"the database schema is behind ({state}; this version needs {head})",
            hint="run `smarketing db upgrade`",
        )
    return Database(engine)

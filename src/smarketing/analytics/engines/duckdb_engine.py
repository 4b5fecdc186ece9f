"""DuckDB, the default engine: in-process, over the copy `analytics.duckdb` in the workspace.

One process writes the file at a time (DuckDB's file lock); in this process, one engine holds
it at a time (a lock per path), and a second process waits for it a while, then gets a clear
error. `sync` feeds the copy through `connection()` before reports read it.

A server keeps the copy open between reports (`keep_open`): a closed engine parks its
connection, the next engine of the process takes it back (no reopening, and the blocks read
last time are still in DuckDB's buffers: about 0.4 s of a million-people attribution report),
and a timer closes it once it has sat idle for the given time, so another process waits at
most that long after the last report.
"""

from __future__ import annotations

import atexit
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from smarketing.analytics.engines.base import EngineName, Limits, deadline, failure, timeout_error
from smarketing.analytics.engines.errors import EngineUnavailableError

_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
_PARKED: dict[Path, tuple[duckdb.DuckDBPyConnection, threading.Timer]] = {}
_keep_open_seconds = 0.0


def keep_open(seconds: float) -> None:
    """Keep each copy open `seconds` after its engine closes, for this process's next engine
    (0, the default: close at once). For long-running processes: `smarketing serve`."""
    global _keep_open_seconds
    _keep_open_seconds = seconds


def _park(key: Path, con: duckdb.DuckDBPyConnection) -> None:
    timer = threading.Timer(_keep_open_seconds, _close_parked, (key, con))
    timer.daemon = True
    with _LOCKS_GUARD:
        _PARKED[key] = (con, timer)
    timer.start()


def _unpark(key: Path) -> duckdb.DuckDBPyConnection | None:
    with _LOCKS_GUARD:
        parked = _PARKED.pop(key, None)
    if parked is None:
        return None
    parked[1].cancel()
    return parked[0]


def _close_parked(key: Path, con: duckdb.DuckDBPyConnection) -> None:
    """The idle timer: close `con` unless an engine took it back."""
    lock = _path_lock(key)
    if not lock.acquire(blocking=False):
        return  # an engine holds the copy: it parks the connection again when done
    try:
        with _LOCKS_GUARD:
            parked = _PARKED.get(key)
            if parked is None or parked[0] is not con:
                return
            del _PARKED[key]
        con.close()
    finally:
        lock.release()


@atexit.register
def close_parked() -> None:
    """Close every parked connection now (at exit, or before another reader opens a copy)."""
    for key in list(_PARKED):
        parked = _PARKED.get(key)
        if parked is not None:
            _close_parked(key, parked[0])


def _path_lock(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path.resolve(), threading.Lock())


def connect_file(path: Path, *, wait_seconds: float = 30.0) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, waiting while another process holds it."""
    give_up = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(path), config={"threads": 2})
            con.execute("SET enable_progress_bar = false")
            return con
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > give_up:
                raise EngineUnavailableError(
                    f"cannot open the analytics copy {path}: {str(exc).splitlines()[0]}",
                    hint="another smarketing process is using it; retry when it is done",
                ) from None
            time.sleep(0.1)


class DuckDBEngine:
    """The copy at `path`, opened on first use and held until `close()`."""

    name: EngineName = "duckdb"
    dialect = "duckdb"

    def __init__(self, path: Path, *, wait_seconds: float = 30.0) -> None:
        self.path = path
        self.wait_seconds = wait_seconds
        self._key = path.resolve()
        self._lock = _path_lock(path)
        self._con: duckdb.DuckDBPyConnection | None = None

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            if not self._lock.acquire(timeout=self.wait_seconds):
                raise EngineUnavailableError(
                    f"the analytics copy {self.path} is busy in this process",
                    hint="retry in a moment",
                )
            try:
                self._con = _unpark(self._key)
                if self._con is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._con = connect_file(self.path, wait_seconds=self.wait_seconds)
            except BaseException:
                self._lock.release()
                raise
        return self._con

    def run_sql(self, sql: str, *, limits: Limits) -> pa.Table:
        con = self.connection()
        with deadline(limits.timeout_seconds, con.interrupt) as fired:
            try:
                return con.sql(sql).to_arrow_table()
            except duckdb.Error as exc:
                if fired.is_set():
                    raise timeout_error(self.name, limits.timeout_seconds) from None
                raise failure(self.name, exc) from None

    def run_statement(self, sql: str, *, limits: Limits) -> int:
        """Run a statement (a `COPY ... TO` of an export); returns the rows it reports."""
        con = self.connection()
        with deadline(limits.timeout_seconds, con.interrupt) as fired:
            try:
                row = con.execute(sql).fetchone()
            except duckdb.Error as exc:
                if fired.is_set():
                    raise timeout_error(self.name, limits.timeout_seconds) from None
                raise failure(self.name, exc) from None
        return int(row[0]) if row and row[0] is not None else 0

    def close(self) -> None:
        if self._con is not None:
            try:
                if _keep_open_seconds > 0:
                    _park(self._key, self._con)
                else:
                    self._con.close()
            finally:
                self._con = None
                self._lock.release()

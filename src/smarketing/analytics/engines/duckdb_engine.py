"""DuckDB, the default engine: in-process, over the copy `analytics.duckdb` in the workspace.

One process writes the file at a time (DuckDB's file lock); in this process, one engine holds
it at a time (a lock per path), and a second process waits for it a while, then gets a clear
error. `sync` feeds the copy through `connection()` before reports read it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from smarketing.analytics.engines.base import EngineName, Limits, deadline, failure, timeout_error
from smarketing.analytics.engines.errors import EngineUnavailableError

_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


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
                self._con.close()
            finally:
                self._con = None
                self._lock.release()

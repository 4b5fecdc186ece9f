"""A server keeps the analytics copy open between reports, and lets it go when idle.

`smarketing serve` calls `keep_open`: a closed engine parks its DuckDB connection, the next
engine of the process takes that same connection back, and an idle timer closes it, after
which another process can open the file.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smarketing.analytics.engines import duckdb_engine
from smarketing.analytics.engines.duckdb_engine import DuckDBEngine, keep_open


@pytest.fixture
def kept_open() -> Iterator[None]:
    keep_open(0.5)
    try:
        yield
    finally:
        keep_open(0.0)
        duckdb_engine.close_parked()


def _other_process_opens(path: Path) -> bool:
    code = f"import duckdb; duckdb.connect({str(path)!r}).close()"
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True)
    return done.returncode == 0


def test_the_next_engine_reuses_the_connection_until_idle(kept_open: None, tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    first = DuckDBEngine(path)
    con = first.connection()
    con.execute("CREATE TABLE t AS SELECT 42 AS x")
    first.close()
    second = DuckDBEngine(path)
    assert second.connection() is con  # taken back, not reopened
    assert second.connection().execute("SELECT x FROM t").fetchall() == [(42,)]
    second.close()
    deadline = time.monotonic() + 10
    while path.resolve() in duckdb_engine._PARKED and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.resolve() not in duckdb_engine._PARKED  # the idle timer closed it
    assert _other_process_opens(path)


def test_a_parked_copy_stays_locked_for_other_processes(tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    keep_open(60.0)
    try:
        engine = DuckDBEngine(path)
        engine.connection()
        engine.close()
        assert not _other_process_opens(path)  # parked: still open in this process
    finally:
        keep_open(0.0)
        duckdb_engine.close_parked()
    assert _other_process_opens(path)


def test_without_keep_open_an_engine_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    engine = DuckDBEngine(path)
    con = engine.connection()
    engine.close()
    assert path.resolve() not in duckdb_engine._PARKED
    with pytest.raises(Exception, match="closed"):
        con.execute("SELECT 1")
    assert _other_process_opens(path)

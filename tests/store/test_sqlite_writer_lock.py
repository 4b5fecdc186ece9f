"""SQLite writers in different processes (the server, its tracking processor, an import) queue
on one lock file, so a waiting writer goes as soon as the other is done."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from smarketing.store.database import BULK_WAL_PAGES, WAL_PAGES, Database, make_engine

HOLDER = """
import fcntl, os, sqlite3, sys, time
path = sys.argv[1]
fd = os.open(path + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(0.5)
db = sqlite3.connect(path, isolation_level=None)
db.execute("INSERT INTO writes (who) VALUES ('other process')")
db.close()
fcntl.flock(fd, fcntl.LOCK_UN)
"""


def test_a_writer_waits_for_the_lock_file_of_another_process(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    db = Database(make_engine(f"sqlite:///{path}"))
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE writes (id INTEGER PRIMARY KEY, who TEXT)"))
    assert Path(f"{path}-writer.lock").exists()

    other = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert other.stdout is not None
    assert other.stdout.readline().strip() == "locked"
    # The other process holds the lock but no SQLite transaction: only the lock file makes
    # this writer wait until it has written and let go.
    with db.begin() as conn:
        conn.execute(text("INSERT INTO writes (who) VALUES ('this process')"))
    assert other.wait(timeout=30) == 0
    other.stdout.close()
    with db.read() as conn:
        order = [r.who for r in conn.execute(text("SELECT who FROM writes ORDER BY id"))]
    db.dispose()
    assert order == ["other process", "this process"]


def test_bulk_transactions_checkpoint_less_often_and_only_themselves(tmp_path: Path) -> None:
    """An import's chunks (`bulk`) let the write-ahead log grow before copying it back; the
    connection goes back to the pool with SQLite's default, whether the chunk committed or
    not."""
    db = Database(make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}"))

    def pages(conn: Connection) -> int:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())

    with db.begin() as conn:
        assert pages(conn) == WAL_PAGES
    with db.begin(bulk=True) as conn:
        assert pages(conn) == BULK_WAL_PAGES
        conn.execute(text("CREATE TABLE writes (id INTEGER PRIMARY KEY)"))
    with db.begin() as conn:
        assert pages(conn) == WAL_PAGES

    def failing_chunk() -> None:
        with db.begin(bulk=True) as conn:
            conn.execute(text("INSERT INTO writes (id) VALUES (1)"))
            raise RuntimeError("the chunk fails")

    with pytest.raises(RuntimeError, match="the chunk fails"):
        failing_chunk()
    with db.begin() as conn:
        assert pages(conn) == WAL_PAGES
        assert conn.execute(text("SELECT count(*) FROM writes")).scalar_one() == 0

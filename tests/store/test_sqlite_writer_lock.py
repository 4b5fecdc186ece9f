"""SQLite writers in different processes (the server, its tracking processor, an import) queue
on one lock file, so a waiting writer goes as soon as the other is done."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import text

from smarketing.store.database import BULK_WAL_PAGES, Database, make_engine
from smarketing.store.wal import WalCheckpointer

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


def test_the_log_is_copied_back_after_commits_off_the_lock_and_not_after_bulk_ones(
    tmp_path: Path,
) -> None:
    """Commits leave the write-ahead log to the checkpointer thread, which copies it into the
    database file once the writer is done; an import's chunks (`bulk`) let it grow instead.
    Either way SQLite's own checkpoint is held back to `BULK_WAL_PAGES`."""
    path = tmp_path / "store.sqlite"
    threads_before = set(threading.enumerate())
    db = Database(make_engine(f"sqlite:///{path}"))

    def copied_back(at_least: int) -> int:
        deadline = time.monotonic() + 10
        while path.stat().st_size < at_least and time.monotonic() < deadline:
            time.sleep(0.01)
        return path.stat().st_size

    with db.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == BULK_WAL_PAGES
        conn.execute(text("CREATE TABLE writes (id INTEGER PRIMARY KEY, body TEXT)"))
    size = copied_back(2 * 4096)  # the schema page and the table's first page
    assert size >= 2 * 4096
    rows = [{"body": "x" * 3000} for _ in range(300)]  # about 900 KB
    with db.begin(bulk=True) as conn:
        conn.execute(text("INSERT INTO writes (body) VALUES (:body)"), rows)
    time.sleep(0.3)
    assert path.stat().st_size == size  # in the log only
    with db.begin() as conn:
        conn.execute(text("INSERT INTO writes (body) VALUES ('one more')"))
    assert copied_back(900_000) >= 900_000
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM writes")).scalar_one() == 301
    (thread,) = set(threading.enumerate()) - threads_before
    assert thread.name == "smarketing-wal-checkpoint"
    db.dispose()
    assert not thread.is_alive()


def test_the_checkpointer_stops_whenever_it_is_closed(tmp_path: Path) -> None:
    """`close` while the thread checkpoints, or pauses before the next checkpoint, ends it."""
    path = tmp_path / "store.sqlite"
    Database(make_engine(f"sqlite:///{path}")).dispose()  # the file, in WAL mode
    threads_before = set(threading.enumerate())
    for delay in (0.0, 0.001, 0.005, 0.02):
        checkpointer = WalCheckpointer(str(path), min_interval_s=0.05)
        checkpointer.wake()
        time.sleep(0.01)  # the first checkpoint is done: the next one pauses
        checkpointer.wake()
        time.sleep(delay)
        checkpointer.close()
    assert set(threading.enumerate()) - threads_before == set()

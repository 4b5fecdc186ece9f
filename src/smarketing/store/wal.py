"""SQLite's write-ahead log copied back into the database file off the write lock.

SQLite checkpoints in the commit that takes the log past `wal_autocheckpoint` pages, so the
writer that happens to cross the line pays for it while it still holds the write lock that
every other writer waits for: with tracking under load, 15-50 ms in more than half of the
processor's chunks, and 1-30 ms in one request's commit out of seven (`bench/ingest.py`).

Here each `Database` on SQLite gets a checkpointer thread instead: write transactions wake it
after their commit, and it runs a `PASSIVE` checkpoint, which SQLite runs beside readers and
writers (it copies what no reader still needs, and the next writer restarts a fully copied
log from its start). It runs at most every `MIN_INTERVAL_S`, so a busy store checkpoints a
few times a second rather than after every commit. Write transactions keep
`wal_autocheckpoint` at `BULK_WAL_PAGES` as a bound in case the thread falls behind (a
reader holding an old snapshot for long).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

logger = logging.getLogger("smarketing.store")

MIN_INTERVAL_S = 0.05


class WalCheckpointer:
    """`wake()` after a commit; `close()` stops the thread (waiting for a checkpoint in
    flight). The thread has a connection of its own, outside the engine's pool: a pooled
    one would join the rotation of the readers and fill a page cache of its own with their
    pages (measured: 58 MiB more for a re-import of a million contacts)."""

    def __init__(self, path: str, min_interval_s: float = MIN_INTERVAL_S) -> None:
        self._path = path
        self._min_interval_s = min_interval_s
        self._due = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._closed:
                    self._thread = threading.Thread(
                        target=self._run, name="smarketing-wal-checkpoint", daemon=True
                    )
                    self._thread.start()
        self._due.set()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        self._due.set()
        if thread is not None:
            thread.join(timeout=30)

    def _run(self) -> None:
        last = 0.0
        connection: sqlite3.Connection | None = None
        try:
            while True:
                self._due.wait()
                self._due.clear()  # before the check: `close` sets `_closed`, then `_due`
                if self._closed:
                    return
                pause = last + self._min_interval_s - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                last = time.monotonic()
                try:
                    if connection is None:
                        connection = sqlite3.connect(self._path)
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # the next commit wakes us again; SQLite's bound holds
                    logger.exception("checkpointing the SQLite write-ahead log failed")
        finally:
            if connection is not None:
                connection.close()

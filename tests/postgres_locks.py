"""For tests of concurrent PostgreSQL transactions: run one in a thread until it waits on a
lock that the test's own open transaction holds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from smarketing.services.workspace import Workspace


def _someone_waits(ws: Workspace, wait_event: str | None) -> bool:
    sql = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    if wait_event is not None:
        sql += f" AND wait_event = '{wait_event}'"
    with ws.db.read() as conn:
        return bool(conn.exec_driver_sql(sql).scalar_one())


def start_until_it_waits(
    ws: Workspace, target: Callable[[], None], *, wait_event: str | None = None
) -> threading.Thread:
    """Start `target` in a thread; return once it has ended or a session waits on a lock (of
    the kind `wait_event` names, e.g. `advisory`, or any). Fails after 60 s of neither."""
    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + 60
    while thread.is_alive() and not _someone_waits(ws, wait_event):
        assert time.monotonic() < deadline, "the other transaction neither ended nor waited"
        time.sleep(0.01)
    return thread

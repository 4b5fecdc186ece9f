"""The processor's queue (`event_queue`) across a kill and across the migration that made it:
an event leaves the queue only in the transaction that processed it."""

from __future__ import annotations

import subprocess
import sys
from textwrap import dedent

from sqlalchemy import func, inspect, select, text

from smarketing.services import admin
from smarketing.services.tracking import Tracker
from smarketing.services.workspace import Workspace
from smarketing.store import migrations_runner
from smarketing.store.tables import event_queue, touchpoints
from tests.tracking.test_queue import pending, send

KILLED = 9
# A processor that takes a chunk off the queue and dies before its commit.
DIE_AFTER_DEQUEUE = dedent(
    """
    import os, sys
    from smarketing.services.tracking import Tracker
    from smarketing.services.workspace import open_workspace
    from smarketing.settings import load_settings
    from smarketing.store import tracking

    settings = load_settings(workspace=sys.argv[1], database_url=sys.argv[2] or None)
    dequeue = tracking.dequeue

    def dequeue_then_die(conn, ids):
        dequeue(conn, ids)
        conn.exec_driver_sql("SELECT 1")  # the DELETE reached the database
        os._exit(KILLED)

    tracking.dequeue = dequeue_then_die
    Tracker(open_workspace(settings), inline=False).process_pending(10)
    """
).replace("KILLED", str(KILLED))


def queued_ids(ws: Workspace) -> list[int]:
    with ws.db.read() as conn:
        return list(conn.execute(select(event_queue.c.event_id).order_by("event_id")).scalars())


def touch_count(ws: Workspace) -> int:
    with ws.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(touchpoints)).scalar_one())


def test_a_processor_killed_before_its_commit_leaves_its_events_queued(
    workspace: Workspace,
) -> None:
    key = admin.add_source(workspace, name="website").secret
    send(Tracker(workspace, inline=False), key, range(5))
    before = queued_ids(workspace)
    assert len(before) == 20

    settings = workspace.settings
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            DIE_AFTER_DEQUEUE,
            str(settings.workspace),
            settings.database_url or "",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == KILLED, killed.stderr
    assert queued_ids(workspace) == before
    assert touch_count(workspace) == 0

    assert Tracker(workspace, inline=False).process_backlog() == 20
    assert pending(workspace) == 0
    assert touch_count(workspace) == 15  # once each: identify calls are not touches


def test_the_migration_keeps_pending_events_pending_both_ways(workspace: Workspace) -> None:
    key = admin.add_source(workspace, name="website").secret
    send(Tracker(workspace, inline=False), key, range(3))
    assert Tracker(workspace, inline=False).process_pending(5) == 5
    waiting = queued_ids(workspace)
    assert len(waiting) == 7

    engine = workspace.db.engine
    migrations_runner.downgrade(engine, "0006")
    with engine.connect() as conn:
        unprocessed = conn.execute(
            text("SELECT id FROM events WHERE processed_at IS NULL ORDER BY id")
        ).scalars()
        assert list(unprocessed) == waiting
        assert "event_queue" not in inspect(conn).get_table_names()

    migrations_runner.upgrade(engine)
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("events")}
    assert "processed_at" not in columns
    assert queued_ids(workspace) == waiting
    assert Tracker(workspace, inline=False).process_backlog() == 7
    assert pending(workspace) == 0
    assert touch_count(workspace) == 9

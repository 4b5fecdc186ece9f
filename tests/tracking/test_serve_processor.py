"""`smarketing serve` as users run it: requests store events, a processor process resolves
them, and stopping the server stops the processor too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from segment.analytics.client import Client as SegmentClient
from sqlalchemy import func, select

from smarketing.services.workspace import Workspace
from smarketing.store import tracking
from smarketing.store.tables import people, touchpoints
from tests.tracking.conftest import _free_port
from tests.tracking.test_real_clients import send_journey


def _processors(pid: int) -> list[int]:
    """Child processes of `pid` spawned by multiprocessing (not its resource tracker)."""
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            for child in f.read().split():
                with open(f"/proc/{child}/cmdline", "rb") as cmd:
                    if b"spawn_main" in cmd.read():
                        found.append(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_until(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_serve_queues_events_and_its_processor_resolves_them(
    workspace: Workspace, write_key: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = {**os.environ, "SMARKETING_WORKSPACE": str(workspace.settings.workspace)}
    if workspace.settings.database_url:
        env["SMARKETING_DATABASE_URL"] = workspace.settings.database_url
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "smarketing", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success
            except httpx.HTTPError:
                return server.poll() is not None

        _wait_until(up, 60, "the server to start")
        assert server.poll() is None, log.read_text()
        children = _processors(server.pid)
        assert len(children) == 1
        assert _alive(children[0])

        client = SegmentClient(write_key=write_key, host=f"http://127.0.0.1:{port}", sync_mode=True)
        for n in range(3):
            send_journey(client, f"serve-{n}")

        def processed() -> bool:
            with workspace.db.read() as conn:
                return tracking.count_pending(conn) == 0

        _wait_until(processed, 60, "the processor to empty the queue")
        with workspace.db.read() as conn:
            touches = conn.execute(select(func.count()).select_from(touchpoints)).scalar_one()
            known = conn.execute(select(people.c.email, people.c.stage)).all()
        assert touches == 3 * 4
        assert sorted(known) == sorted((f"serve-{n}@buyer-corp.example", "lead") for n in range(3))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    _wait_until(lambda: not _alive(children[0]), 10, "the processor to stop")

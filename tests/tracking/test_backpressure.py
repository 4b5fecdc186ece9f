"""Backpressure: while more events wait for the processor than `max_queued_events`, the tracking
API answers 429 with Retry-After and stores nothing; the real clients send again later and every
event is stored exactly once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from smarketing.api.app import create_app
from smarketing.cli.main import run
from smarketing.domain.stages import Role
from smarketing.services import admin
from smarketing.services.tracking import Tracker
from smarketing.services.tracking_gate import CHECK_INTERVAL_S, QueueGate
from smarketing.services.workspace import Workspace
from smarketing.store import tracking
from smarketing.store.tables import events
from tests.tracking.conftest import OFFICIAL_CLIENTS, LiveServer, serving

LIMIT = 10


@dataclass(frozen=True)
class QueueOnly:
    server: LiveServer
    gate: QueueGate


@pytest.fixture
def queue_only(workspace: Workspace, write_key: str) -> Iterator[QueueOnly]:
    """`serve --no-processor` with a queue limit of `LIMIT`: nothing here resolves events, a
    worker elsewhere does (the tests call one when they want the queue drained)."""
    settings = workspace.settings.model_copy(update={"max_queued_events": LIMIT})
    app = create_app(settings, clock=workspace.clock, tracking_processor="external")
    with serving(app, workspace, write_key) as server:
        yield QueueOnly(server, app.state.tracker.gate)


def batch(run: str, n: int) -> dict[str, Any]:
    return {
        "batch": [
            {
                "type": "track",
                "event": "Signed Up",
                "userId": f"u-{run}-{i}",
                "messageId": f"{run}-{i}",
            }
            for i in range(n)
        ]
    }


def stored_events(ws: Workspace) -> int:
    with ws.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def test_a_full_queue_answers_429_with_retry_after_and_stores_nothing(
    queue_only: QueueOnly, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = queue_only.server
    post = lambda body: httpx.post(  # noqa: E731
        f"{server.url}/v1/batch", json=body, headers=server.basic
    )
    assert post(batch("a", LIMIT)).status_code == 200  # exactly at the limit: not over it
    time.sleep(CHECK_INTERVAL_S)
    assert post(batch("b", 1)).status_code == 200
    time.sleep(CHECK_INTERVAL_S)

    refused = post(batch("c", 5))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["status"] == 429
    assert problem["retry_after"] == 1
    assert f"more than {LIMIT:,} tracking events are waiting" in problem["detail"]
    assert "smarketing worker" in problem["hint"]
    assert stored_events(workspace) == LIMIT + 1

    # what operators see meanwhile: the API and `smarketing events status`
    received = workspace.clock.now()
    workspace.clock.advance(seconds=90)
    key = admin.create_api_key(workspace, name="ops", role=Role.VIEWER).secret
    status = httpx.get(
        f"{server.url}/api/tracking/status", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert status == {
        "waiting": LIMIT + 1,
        "oldest_waiting_received_at": received.isoformat().replace("+00:00", "Z"),
        "lag_s": 90.0,
        "queue_limit": LIMIT,
        "refusing": True,
        "failed_to_replay": 0,
    }
    if workspace.settings.database_url:
        monkeypatch.setenv("SMARKETING_DATABASE_URL", workspace.settings.database_url)
    monkeypatch.setenv("SMARKETING_MAX_QUEUED_EVENTS", str(LIMIT))
    printed = run(["events", "status", "-w", str(workspace.settings.workspace)])
    assert printed.exit_code == 0, printed.stderr
    assert f"waiting for the processor: {LIMIT + 1} events (limit {LIMIT})" in printed.stdout
    assert "the tracking API is answering 429" in printed.stdout

    assert Tracker(workspace, inline=False).process_backlog() == LIMIT + 1  # a worker drains
    time.sleep(CHECK_INTERVAL_S)
    assert post(batch("c", 5)).status_code == 200
    assert stored_events(workspace) == LIMIT + 6
    with workspace.db.read() as conn:
        assert tracking.count_pending(conn) == 5


@pytest.mark.parametrize("make_client", OFFICIAL_CLIENTS)
def test_official_clients_wait_out_a_full_queue_and_lose_nothing(
    queue_only: QueueOnly, workspace: Workspace, make_client: Any
) -> None:
    gate, server = queue_only.gate, queue_only.server
    backlog = httpx.post(
        f"{server.url}/v1/batch", json=batch("old", LIMIT + 1), headers=server.basic
    )
    assert backlog.status_code == 200
    time.sleep(CHECK_INTERVAL_S)  # the clients meet a full queue from their first request
    stop = threading.Event()
    worker = Tracker(workspace, inline=False)

    def drain_once_refused() -> None:  # a worker that starts late
        while not stop.is_set():
            if gate.refused:
                worker.process_backlog()
            time.sleep(0.05)

    drainer = threading.Thread(target=drain_once_refused, daemon=True)
    drainer.start()
    errors: list[Any] = []
    client = make_client(
        queue_only.server, on_error=lambda e, b: errors.append(e), upload_size=LIMIT, max_retries=10
    )
    run = uuid.uuid4().hex[:8]
    sent = [f"{run}-{i}" for i in range(6 * LIMIT)]
    for message_id in sent:
        client.track(user_id=f"user-{message_id}", event="Pricing Viewed", message_id=message_id)
    client.flush()
    client.join()
    stop.set()
    drainer.join(timeout=10)
    worker.process_backlog()

    assert errors == []
    assert gate.refused > 0
    with workspace.db.read() as conn:
        stored = [r.message_id for r in conn.execute(select(events.c.message_id))]
        assert tracking.count_pending(conn) == 0
    assert sorted(stored) == sorted(sent + [f"old-{i}" for i in range(LIMIT + 1)])


def test_the_queue_is_counted_not_spanned_when_its_ids_have_gaps(
    workspace: Workspace, write_key: str
) -> None:
    tracker = Tracker(workspace, inline=False)
    items = batch("gap", 20)["batch"]
    tracker.ingest(tracker.source_for(write_key), items, received_at=workspace.clock.now())
    with workspace.db.begin() as conn:
        ids = sorted(r.id for r in tracking.pending_events(conn, 100, payloads=False))
        tracking.dequeue(conn, ids[1:-1])  # the first and the last stay: a span of 20
    with workspace.db.read() as conn:
        assert [tracking.queued_more_than(conn, n) for n in (0, 1, 2, 5, 19)] == [
            True,
            True,
            False,
            False,
            False,
        ]

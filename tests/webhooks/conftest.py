"""A real webhook receiver on loopback: verifies each request with our `verify` and records it.

Tests steer it: `status` is the answer, `delay_s` makes it slow (released at teardown, so no
test waits for it), and a receiver can be started on a port that was down a moment ago.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from smarketing.domain.clock import FrozenClock
from smarketing.domain.webhook_signing import verify
from smarketing.errors import ValidationFailed
from smarketing.services.workspace import Workspace, init_workspace
from smarketing.settings import Settings, load_settings
from smarketing.store.database import Database, open_database
from smarketing.store.tables import (
    audit_log,
    outbox,
    webhook_attempts,
    webhook_deliveries,
    webhook_subscriptions,
)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    verdict: str  # "valid" or the reason `verify` gave


@dataclass
class Receiver:
    port: int
    now: Callable[[], datetime]
    secret: str | None = None
    status: int = 200
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        verdict = "valid"
        try:
            verify(
                self.secret or "",
                msg_id=headers.get("webhook-id"),
                timestamp=headers.get("webhook-timestamp"),
                signature=headers.get("webhook-signature"),
                body=body,
                now=self.now(),
            )
        except ValidationFailed as exc:
            verdict = str(exc.details["reason"])
        self.received.append(Received(headers, body, verdict))
        if self.delay_s:
            self.release.wait(self.delay_s)
        return self.status if verdict == "valid" else 401


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status = self.server.receiver.handle(headers, body)
        try:
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:  # the sender gave up (timeout): nothing to answer
            pass

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    block_on_close = False

    def __init__(self, receiver: Receiver) -> None:
        super().__init__(("127.0.0.1", receiver.port), _Handler)
        self.receiver = receiver


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """One HTTP client for a test's delivery rounds (the default opens one per round)."""
    with httpx.Client(timeout=2.0) as client:
        yield client


def free_port() -> int:
    """A port nobody listens on (a receiver that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


StartReceiver = Callable[..., Receiver]


@pytest.fixture
def start_receiver() -> Iterator[StartReceiver]:
    """Start receivers (on a given or a fresh port); all are stopped at teardown."""
    running: list[tuple[_Server, threading.Thread, Receiver]] = []

    def start(
        *, port: int | None = None, now: Callable[[], datetime] | None = None, **kw: Any
    ) -> Receiver:
        receiver = Receiver(port=port or free_port(), now=now or (lambda: datetime.now(UTC)), **kw)
        server = _Server(receiver)
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        running.append((server, thread, receiver))
        return receiver

    yield start
    for server, thread, receiver in running:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- one migrated store per backend for this package ----------------------------------------
# Migrating a PostgreSQL schema takes about a second; these tests only touch the webhook
# tables, so they share one store per backend and start each test with those tables empty.


@pytest.fixture(
    scope="package", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="package")
def shared_store(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[Settings, Database]]:
    folder = tmp_path_factory.mktemp("webhooks") / "ws"
    if backend == "postgres":
        url = request.getfixturevalue("postgres_server")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        settings = load_settings(workspace=folder, database_url=url)
    else:
        settings = load_settings(workspace=folder)
    init_workspace(settings, today=date(2026, 1, 5))
    db = open_database(settings)
    yield settings, db
    db.dispose()


@pytest.fixture
def workspace(shared_store: tuple[Settings, Database], clock: FrozenClock) -> Workspace:
    """An initialised workspace on each backend, frozen clock, no webhook data yet."""
    settings, db = shared_store
    with db.begin() as conn:
        for table in (
            webhook_attempts,
            webhook_deliveries,
            outbox,
            webhook_subscriptions,
            audit_log,
        ):
            conn.execute(table.delete())
    return Workspace(settings=settings, db=db, clock=clock)

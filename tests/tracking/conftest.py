"""A live server on loopback for the tracking tests (real HTTP clients talk to it)."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from smarketing.api.app import create_app
from smarketing.services import admin
from smarketing.services.workspace import Workspace
from smarketing.store import tracking

OFFICIAL_CLIENTS = [
    pytest.param(
        lambda s, **kw: SegmentClient(write_key=s.write_key, host=s.url, **kw), id="segment"
    ),
    pytest.param(
        lambda s, **kw: RudderClient(write_key=s.write_key, host=s.url, **kw), id="rudderstack"
    ),
]
"""`make_client(live_server, **options)` for the Segment and RudderStack Python clients."""


@dataclass(frozen=True)
class LiveServer:
    url: str
    write_key: str
    workspace: Workspace

    def settle(self, timeout_s: float = 30.0) -> None:
        """Wait until the server has processed every event it accepted (queued mode)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self.workspace.db.read() as conn:
                if tracking.count_pending(conn) == 0:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"events still queued after {timeout_s} s")
            time.sleep(0.02)

    @property
    def basic(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.write_key}:".encode()).decode()
        return {"Authorization": f"Basic {token}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def write_key(workspace: Workspace) -> str:
    return admin.add_source(workspace, name="website").secret


@contextlib.contextmanager
def serving(app: FastAPI, workspace: Workspace, write_key: str) -> Iterator[LiveServer]:
    """`app` served by uvicorn on a free loopback port until the block ends."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", write_key=write_key, workspace=workspace)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(params=["inline", "queued"])
def live_server(
    workspace: Workspace, write_key: str, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    """`inline`: each request processes its events; `queued`: as `smarketing serve` runs,
    requests only store them and the server's processor thread resolves them."""
    app = create_app(
        workspace.settings, clock=workspace.clock, background_worker=request.param == "queued"
    )
    with serving(app, workspace, write_key) as server:
        yield server

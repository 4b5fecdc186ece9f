"""A sales team, a webhook receiver that verifies signatures, and an API client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smarketing.api.app import create_app
from smarketing.domain.clock import FrozenClock
from smarketing.domain.stages import Role
from smarketing.domain.webhook_signing import verify
from smarketing.services import admin, webhooks
from smarketing.services.workspace import Workspace


@dataclass
class Receiver:
    url: str
    secret: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def types(self) -> list[str]:
        return [r["type"] for r in self.received]


@pytest.fixture
def receiver(clock: FrozenClock) -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            rec = box["r"]
            try:
                verify(
                    rec.secret,
                    msg_id=self.headers["webhook-id"],
                    timestamp=self.headers["webhook-timestamp"],
                    signature=self.headers["webhook-signature"],
                    body=body,
                    now=clock.now(),
                )
            except Exception as exc:
                rec.rejected.append(str(exc))
                self.send_response(401)
            else:
                rec.received.append({"id": self.headers["webhook-id"], **json.loads(body)})
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box["r"]
    server.shutdown()
    server.server_close()


@dataclass
class Team:
    manager_id: int
    rep_id: int
    other_rep_id: int
    rep_key: str
    other_key: str
    admin_key: str
    write_key: str


@pytest.fixture
def team(workspace: Workspace, receiver: Receiver) -> Team:
    manager = admin.add_user(workspace, email="lead@acme.example", role=Role.SALES, password="pass")
    rep = admin.add_user(
        workspace,
        email="rep@acme.example",
        role=Role.SALES,
        password="pass",
        manager_email="lead@acme.example",
    )
    other = admin.add_user(workspace, email="other@acme.example", role=Role.SALES, password="pass")
    admin.set_active(workspace, "lead@acme.example", active=False)
    admin.set_active(workspace, "other@acme.example", active=False)
    receiver.secret = webhooks.subscribe(workspace, receiver.url, ["*"]).secret
    return Team(
        manager_id=manager.id,
        rep_id=rep.id,
        other_rep_id=other.id,
        rep_key=admin.create_api_key(
            workspace, name="rep", role=Role.SALES, user_email="rep@acme.example"
        ).secret,
        other_key=admin.create_api_key(
            workspace, name="other", role=Role.SALES, user_email="other@acme.example"
        ).secret,
        admin_key=admin.create_api_key(workspace, name="ops", role=Role.ADMIN).secret,
        write_key=admin.add_source(workspace, name="web").secret,
    )


@pytest.fixture
def api(workspace: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(workspace.settings, clock=workspace.clock)) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}

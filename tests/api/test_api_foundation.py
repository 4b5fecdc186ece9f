"""The HTTP surface: health, problem+json errors, API keys and the roles each route admits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from smarketing.api.app import ROUTERS, create_app
from smarketing.domain.stages import Role
from smarketing.services import admin
from smarketing.services.workspace import Workspace
from smarketing.store import migrations_runner


@pytest.fixture
def client(workspace: Workspace) -> Iterator[TestClient]:
    app = create_app(workspace.settings, clock=workspace.clock)
    with TestClient(app) as c:
        yield c


def bearer(workspace: Workspace, role: Role) -> dict[str, str]:
    key = admin.create_api_key(workspace, name=f"{role.value}-key", role=role).secret
    return {"Authorization": f"Bearer {key}"}


def test_healthz_answers_with_the_schema_version(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body == {
        "status": "ok",
        "schema_version": migrations_runner.head_revision(),
        "demo": False,
    }


def test_missing_key_is_a_401_problem(client: TestClient) -> None:
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 401
    assert problem["detail"] == "missing API key"
    assert "smarketing keys create" in problem["hint"]


def test_unknown_key_is_a_401_problem(client: TestClient) -> None:
    response = client.get("/api/me", headers={"Authorization": "Bearer smk_nope"})
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown or revoked API key"


def test_a_key_acts_with_its_role(client: TestClient, workspace: Workspace) -> None:
    response = client.get("/api/me", headers=bearer(workspace, Role.SALES))
    assert response.json() == {"name": "api-key:sales-key", "role": "sales"}


def test_roles_are_enforced(client: TestClient, workspace: Workspace) -> None:
    denied = client.get("/api/users", headers=bearer(workspace, Role.MARKETING))
    assert denied.status_code == 403
    assert denied.json()["hint"] == "this route admits: admin"
    allowed = client.get("/api/users", headers=bearer(workspace, Role.ADMIN))
    assert allowed.status_code == 200
    assert allowed.json() == []


def test_playbook_status(client: TestClient, workspace: Workspace) -> None:
    body = client.get("/api/playbook", headers=bearer(workspace, Role.VIEWER)).json()
    assert body["version"] == 1
    assert body["agreed"] is False
    assert body["content_hash"] == workspace.playbook.content_hash


def test_every_api_route_declares_its_roles() -> None:
    checked = 0
    for route in (r for router in ROUTERS for r in router.routes):
        if isinstance(route, APIRoute) and route.path.startswith("/api/"):
            roles = [
                getattr(dep.call, "allowed_roles", None) for dep in route.dependant.dependencies
            ]
            assert any(roles), f"{route.path} declares no roles"
            checked += 1
    assert checked >= 3


def test_openapi_is_published(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/healthz" in spec["paths"]


def test_import_runs_are_readable(
    client: TestClient, workspace: Workspace, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smarketing.cli.main import run

    if workspace.settings.database_url:
        monkeypatch.setenv("SMARKETING_DATABASE_URL", workspace.settings.database_url)
    export = tmp_path / "contacts.csv"
    export.write_text("Email,First Name,Lifecycle Stage\nann@globex.example,Ann,Lead\nbad,Bo,Lead\n")
    ws_dir = str(workspace.settings.workspace)
    result = run(["import", "hubspot", "contacts", str(export), "--workspace", ws_dir, "--quiet"])
    assert result.exit_code == 0, result.stderr
    body = client.get("/api/imports/1", headers=bearer(workspace, Role.MARKETING)).json()
    assert (body["rows_read"], body["rows_imported"], body["rows_rejected"]) == (2, 1, 1)
    assert body["errors_file"]
    missing = client.get("/api/imports/99", headers=bearer(workspace, Role.MARKETING))
    assert missing.status_code == 404

"""The dashboard: sign in with a user's password, see the shared funnel; demo banner."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from smarketing.api.app import create_app
from smarketing.cli.main import run
from smarketing.demo import DEMO_PASSWORD, build_demo
from smarketing.domain.stages import Role
from smarketing.services import admin
from smarketing.services.workspace import Workspace
from smarketing.settings import load_settings


def test_sign_in_and_overview(workspace: Workspace) -> None:
    admin.add_user(workspace, email="mo@acme.example", role=Role.MARKETING, password="pw-1234")
    with TestClient(create_app(workspace.settings)) as client:
        first = client.get("/", follow_redirects=False)
        assert (first.status_code, first.headers["location"]) == (303, "/login")
        wrong = client.post("/login", data={"email": "mo@acme.example", "password": "nope"})
        assert wrong.status_code == 401
        assert "wrong email or password" in wrong.text
        page = client.post("/login", data={"email": "mo@acme.example", "password": "pw-1234"})
        assert page.status_code == 200
        assert "Funnel" in page.text
        assert "Marketing Qualified Lead" in page.text
        assert "not yet signed by both teams" in page.text
        assert "Demo data" not in page.text
        client.cookies.clear()
        client.cookies.set("smarketing_session", "forged.0000")
        assert client.get("/", follow_redirects=False).status_code == 303


def test_demo_workspace_shows_the_banner_everywhere(tmp_path: Path) -> None:
    settings = load_settings(workspace=tmp_path / "demo")
    build_demo(settings, people=40, seed=2, progress=False, today=date(2026, 11, 28))
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").headers["x-smarketing-demo"]
        page = client.post("/login", data={"email": "sales@demo.test", "password": DEMO_PASSWORD})
        assert "Demo data: this workspace holds a generated company" in page.text
        assert "agreed by marketing and sales" in page.text
    result = run(["users", "list", "--workspace", str(tmp_path / "demo")])
    assert result.stderr.startswith("DEMO DATA:")

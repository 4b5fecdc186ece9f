"""Input that no database here can hold is a 4xx with the field named, never a 500 (cases found
by fuzzing the OpenAPI description with schemathesis)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from smarketing.api.app import create_app
from smarketing.domain.stages import Role
from smarketing.services import admin
from smarketing.services.workspace import Workspace

TOO_BIG = 2**63  # one past the largest 64-bit id


@pytest.fixture
def client(workspace: Workspace) -> Iterator[TestClient]:
    key = admin.create_api_key(workspace, name="fuzz", role=Role.ADMIN).secret
    app = create_app(workspace.settings, clock=workspace.clock)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("GET", f"/api/handoffs/{TOO_BIG}", None, "handoff_id"),
        ("POST", f"/api/handoffs/{TOO_BIG}/accept", None, "handoff_id"),
        ("POST", f"/api/handoffs/{TOO_BIG}/activities", {"kind": "call"}, "handoff_id"),
        ("GET", f"/api/people/{TOO_BIG}", None, "person_id"),
        ("GET", f"/api/people?owner={TOO_BIG}", None, "owner"),
        ("GET", f"/api/touchpoints?account_id={TOO_BIG}", None, "account_id"),
        ("GET", f"/api/deals/{TOO_BIG}/attribution", None, "deal_id"),
        ("POST", "/api/deals", {"person_id": TOO_BIG, "name": "Big"}, "person_id"),
        ("POST", "/api/deals", {"person_id": 1, "name": "Big", "amount": "1e20"}, "amount"),
        ("GET", "/api/people/0", None, "person_id"),
    ],
)
def test_an_id_or_amount_out_of_range_is_a_422_naming_the_field(
    client: TestClient, method: str, url: str, body: dict[str, object] | None, field: str
) -> None:
    answer = client.request(method, url, json=body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert any(e["loc"].endswith(field) for e in problem["errors"]), problem


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_postgres_engine_on_a_sqlite_store_is_a_400_not_a_503(client: TestClient) -> None:
    answer = client.get("/api/reports/funnel?engine=postgres")
    assert answer.status_code == 400
    assert "the postgres engine runs on a PostgreSQL store" in answer.json()["detail"]

"""Per API key request limits: a burst, then a steady rate; over it 429 with Retry-After, and
one key's traffic never spends another's."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from smarketing.api.app import create_app
from smarketing.domain.rate_limit import TokenBucket
from smarketing.domain.stages import Role
from smarketing.services import admin
from smarketing.services.workspace import Workspace


@pytest.fixture
def client(workspace: Workspace) -> Iterator[TestClient]:
    settings = workspace.settings.model_copy(update={"api_rate_limit": 2.0, "api_rate_burst": 3})
    with TestClient(create_app(settings, clock=workspace.clock)) as c:
        yield c


def bearer(workspace: Workspace, name: str) -> dict[str, str]:
    key = admin.create_api_key(workspace, name=name, role=Role.VIEWER).secret
    return {"Authorization": f"Bearer {key}"}


def test_a_key_over_its_rate_gets_429_with_retry_after(
    client: TestClient, workspace: Workspace
) -> None:
    busy, quiet = bearer(workspace, "nightly-sync"), bearer(workspace, "dashboard")
    assert [client.get("/api/me", headers=busy).status_code for _ in range(3)] == [200] * 3

    refused = client.get("/api/me", headers=busy)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["retry_after"] == 1
    assert "'nightly-sync' made more than 3 requests at once or 2 a second" in problem["detail"]
    assert "SMARKETING_API_RATE_LIMIT" in problem["hint"]

    assert client.get("/api/me", headers=quiet).status_code == 200  # a bucket per key
    time.sleep(0.6)  # 2 a second: a token every 0.5 s
    assert client.get("/api/me", headers=busy).status_code == 200
    assert client.get("/api/me", headers=busy).status_code == 429


def test_an_unknown_key_is_refused_as_unknown_whatever_the_rate(client: TestClient) -> None:
    answers = [
        client.get("/api/me", headers={"Authorization": "Bearer smk_nope"}) for _ in range(5)
    ]
    assert {a.status_code for a in answers} == {401}


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    bucket = TokenBucket.full(rate=1.0, burst=2, now=0.0)
    assert [bucket.take(0.0), bucket.take(0.0)] == [0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(1.0)  # empty: a token in 1 s, none taken
    assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.take(1.0) == 0.0
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    assert bucket.take(99.0) == pytest.approx(1.0)  # a clock that steps back adds nothing


def test_the_openapi_description_lists_the_429_where_it_can_happen(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = {
        (method.upper(), path): op
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }
    without = sorted(key for key, op in operations.items() if "429" not in op["responses"])
    assert without == [("GET", "/healthz")]  # the one route that needs no key and queues nothing
    batch = operations[("POST", "/v1/batch")]["responses"]["429"]
    assert "Retry-After" in batch["headers"]
    assert "application/problem+json" in batch["content"]

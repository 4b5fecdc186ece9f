"""The tracking API's promises: once-only storage, nothing valid lost, identities joined."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from smarketing.api.app import create_app
from smarketing.domain.stages import Role
from smarketing.services import admin
from smarketing.services.replay import replay_failed
from smarketing.services.workspace import Workspace
from smarketing.settings import load_settings
from smarketing.store.tables import events, failed_events, people, person_merges, touchpoints
from tests.tracking.conftest import LiveServer


@pytest.fixture
def client(workspace: Workspace, write_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(workspace.settings, clock=workspace.clock)) as c:
        c.auth = (write_key, "")
        yield c


def count(ws: Workspace, table: Any) -> int:
    with ws.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def page(mid: str, anon: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "page",
        "messageId": mid,
        "anonymousId": anon,
        "properties": {"url": "https://acme.example/pricing"},
        **extra,
    }


def test_retry_storm_stores_each_event_once(live_server: LiveServer, workspace: Workspace) -> None:
    batch = {
        "batch": [page(f"storm-{i}", f"a-{i % 7}") for i in range(60)]
        + [
            {
                "type": "identify",
                "messageId": f"id-{i}",
                "anonymousId": f"a-{i}",
                "userId": f"u-{i}",
                "traits": {"email": f"p{i}@storm.example"},
            }
            for i in range(7)
        ]
    }
    statuses: list[int] = []

    def sender() -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as http:
            for _ in range(3):
                statuses.append(
                    http.post("/v1/batch", json=batch, headers=live_server.basic).status_code
                )

    threads = [threading.Thread(target=sender) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 24
    live_server.settle()
    assert count(workspace, events) == 67
    assert count(workspace, touchpoints) == 60
    assert count(workspace, people) == 7
    with workspace.db.read() as conn:
        unattached = conn.execute(
            select(func.count()).select_from(touchpoints).where(touchpoints.c.person_id.is_(None))
        ).scalar_one()
    assert unattached == 0


def test_batch_keeps_valid_events_and_stores_invalid_ones_with_reasons(
    client: TestClient, workspace: Workspace
) -> None:
    body = {
        "batch": [
            page("ok-1", "a1"),
            {"type": "track", "messageId": "no-ids", "event": "X"},
            {"type": "track", "messageId": "no-event", "userId": "u"},
            {"type": "track", "messageId": 5, "userId": {"not": "a string"}, "event": "X"},
            {"type": "launch", "messageId": "bad-type", "userId": "u"},
            {
                "type": "identify",
                "messageId": "bad-email",
                "userId": "u",
                "traits": {"email": "nope"},
            },
            {"type": "page", "messageId": "bad-time", "anonymousId": "a", "timestamp": "yesterday"},
            page("ok-2", "a2"),
            page("ok-1", "a1"),
        ]
    }
    answer = client.post("/v1/batch", json=body).json()
    assert (answer["stored"], answer["failed"], answer["duplicates"]) == (2, 6, 1)
    errors = {r["messageId"]: r.get("error") for r in answer["results"]}
    assert errors["no-ids"].startswith("userId or anonymousId is required")
    assert errors["no-event"].startswith("event is required for a track call")
    assert errors["5"].startswith("userId must be a string, got dict")
    assert errors["bad-type"].startswith("type 'launch' is not a Segment call")
    assert "nope" in errors["bad-email"]
    assert errors["bad-time"].startswith("timestamp 'yesterday' is not an ISO-8601 timestamp")
    with workspace.db.read() as conn:
        rows = conn.execute(select(failed_events.c.reason, failed_events.c.payload)).all()
    assert len(rows) == 6
    assert {json.loads(p)["messageId"] for _, p in rows} == {
        "no-ids",
        "no-event",
        5,
        "bad-type",
        "bad-email",
        "bad-time",
    }


def test_failed_events_replay_after_a_fix(
    workspace: Workspace, write_key: str, tmp_path: Any
) -> None:
    small = load_settings(
        workspace=workspace.settings.workspace,
        database_url=workspace.settings.database_url,
        max_event_bytes=300,
    )
    with TestClient(create_app(small)) as c:
        big = page(
            "big-1", "a1", properties={"url": "https://acme.example/blog/x", "note": "x" * 400}
        )
        answer = c.post(
            "/v1/batch", json={"batch": [big, page("small-1", "a2")]}, auth=(write_key, "")
        ).json()
    assert [r["status"] for r in answer["results"]] == ["failed", "stored"]
    assert answer["results"][0]["error"].startswith("event is ")
    result = replay_failed(workspace)
    assert (result.replayed, result.still_failing) == (1, 0)
    assert count(workspace, events) == 2
    again = replay_failed(workspace)
    assert (again.replayed, again.still_failing) == (0, 0)


def test_limits_answer_413_with_problem_json(workspace: Workspace, write_key: str) -> None:
    settings = load_settings(
        workspace=workspace.settings.workspace,
        database_url=workspace.settings.database_url,
        max_batch_events=3,
        max_batch_bytes=2000,
        max_event_bytes=500,
    )
    with TestClient(create_app(settings)) as c:
        c.auth = (write_key, "")
        too_many = c.post("/v1/batch", json={"batch": [page(f"m{i}", "a") for i in range(4)]})
        assert too_many.status_code == 413
        assert too_many.headers["content-type"] == "application/problem+json"
        assert too_many.json()["detail"] == "batch has 4 events; the limit is 3"
        too_big = c.post("/v1/batch", json={"batch": [page("m", "a", pad="x" * 3000)]})
        assert too_big.status_code == 413
        one_big = c.post(
            "/v1/track",
            json={"messageId": "t", "userId": "u", "event": "E", "properties": {"pad": "x" * 600}},
        )
        assert one_big.status_code == 413
        bomb = gzip.compress(json.dumps({"batch": [], "pad": "x" * 50_000}).encode())
        zipped = c.post(
            "/v1/batch",
            content=bomb,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
        assert zipped.status_code == 413
    assert count(workspace, events) == 0


def test_malformed_bodies_are_precise_problems(client: TestClient, write_key: str) -> None:
    bad_json = client.post(
        "/v1/track", content=b'{"messageId": ', headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 422
    assert bad_json.json()["detail"].startswith("body is not valid JSON")
    not_a_list = client.post("/v1/batch", json={"batch": {"type": "track"}})
    assert not_a_list.json()["detail"] == "`batch` must be a list of calls"
    no_key = client.post(
        "/v1/track", json={"messageId": "1", "userId": "u", "event": "E"}, auth=None
    )
    assert no_key.status_code == 401
    in_body = client.post(
        "/v1/track",
        auth=None,
        json={"messageId": "1", "userId": "u", "event": "E", "writeKey": write_key},
    )
    assert in_body.status_code == 200


def test_clock_skew_is_corrected_and_explicit_timestamps_win(
    client: TestClient, workspace: Workspace
) -> None:
    client.post(
        "/v1/batch",
        json={
            "sentAt": "2026-01-01T00:00:10Z",
            "batch": [
                {
                    "type": "track",
                    "messageId": "skew",
                    "userId": "u",
                    "event": "E",
                    "originalTimestamp": "2026-01-01T00:00:00Z",
                },
                {
                    "type": "track",
                    "messageId": "hist",
                    "userId": "u",
                    "event": "E",
                    "timestamp": "2025-06-01T12:00:00Z",
                },
            ],
        },
    )
    with workspace.db.read() as conn:
        rows = dict(conn.execute(select(events.c.message_id, events.c.timestamp)).all())
        received = conn.execute(
            select(events.c.received_at).where(events.c.message_id == "skew")
        ).scalar_one()
    assert (received - rows["skew"]).total_seconds() == pytest.approx(10, abs=0.01)
    assert rows["hist"].isoformat() == "2025-06-01T12:00:00+00:00"


def test_anonymous_history_joins_the_person_and_identities_merge(
    client: TestClient, workspace: Workspace
) -> None:
    client.post("/v1/page", json=page("p1", "device-1"))
    client.post("/v1/page", json=page("p2", "device-2"))
    client.post(
        "/v1/identify",
        json={
            "messageId": "i1",
            "anonymousId": "device-1",
            "userId": "42",
            "traits": {"email": "Kim@Globex.example", "title": "VP Sales"},
        },
    )
    client.post(
        "/v1/identify",
        json={
            "messageId": "i2",
            "anonymousId": "device-2",
            "traits": {"email": "other@globex.example"},
        },
    )
    assert count(workspace, people) == 2
    # a login on device 2 proves both devices are user 42: the two people merge
    client.post("/v1/identify", json={"messageId": "i3", "anonymousId": "device-2", "userId": "42"})
    with workspace.db.read() as conn:
        live = conn.execute(
            select(people.c.id, people.c.email, people.c.title).where(
                people.c.merged_into_id.is_(None)
            )
        ).all()
        touch_people = {r[0] for r in conn.execute(select(touchpoints.c.person_id))}
        merge_id = conn.execute(select(person_merges.c.id)).scalar_one()
    assert len(live) == 1
    assert live[0].email == "kim@globex.example"
    assert live[0].title == "VP Sales"
    assert touch_people == {live[0].id}
    key = admin.create_api_key(workspace, name="ops", role=Role.ADMIN).secret
    undo = client.post(
        f"/api/merges/{merge_id}/undo", auth=None, headers={"Authorization": f"Bearer {key}"}
    )
    assert undo.status_code == 200
    with workspace.db.read() as conn:
        emails = sorted(
            r[0]
            for r in conn.execute(select(people.c.email).where(people.c.merged_into_id.is_(None)))
        )
        touch_people = {r[0] for r in conn.execute(select(touchpoints.c.person_id))}
    assert emails == ["kim@globex.example", "other@globex.example"]
    assert len(touch_people) == 2
    again = client.post(
        f"/api/merges/{merge_id}/undo", auth=None, headers={"Authorization": f"Bearer {key}"}
    )
    assert again.status_code == 409


def test_accounts_from_group_calls_and_company_email_domains(
    client: TestClient, workspace: Workspace
) -> None:
    client.post(
        "/v1/identify",
        json={"messageId": "1", "userId": "a", "traits": {"email": "a@initech.example"}},
    )
    client.post(
        "/v1/identify",
        json={"messageId": "2", "userId": "b", "traits": {"email": "b@initech.example"}},
    )
    client.post(
        "/v1/identify", json={"messageId": "3", "userId": "c", "traits": {"email": "c@gmail.com"}}
    )
    client.post(
        "/v1/group",
        json={
            "messageId": "4",
            "userId": "c",
            "groupId": "org-9",
            "traits": {
                "name": "Umbrella",
                "employees": 1200,
                "website": "https://www.umbrella.example",
            },
        },
    )
    with workspace.db.read() as conn:
        rows = {
            r.email: r.account_id for r in conn.execute(select(people.c.email, people.c.account_id))
        }
    assert rows["a@initech.example"] == rows["b@initech.example"] is not None
    assert rows["c@gmail.com"] is not None
    assert rows["c@gmail.com"] != rows["a@initech.example"]

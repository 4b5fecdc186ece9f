"""The official Segment and RudderStack Python clients, unchanged, against a live server:
every event they send is stored exactly once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from segment.analytics.client import Client as SegmentClient
from segment.analytics.request import APIError
from sqlalchemy import select

from smarketing.services.workspace import Workspace
from smarketing.store.tables import events, people, touchpoints
from tests.tracking.conftest import OFFICIAL_CLIENTS, LiveServer


def send_journey(client: Any, run: str) -> list[str]:
    """One person's journey through every call type; returns the message ids sent."""
    ids = [f"{run}-{i}" for i in range(7)]
    anon = f"anon-{run}"
    client.page(
        anonymous_id=anon,
        name="Lead scoring",
        message_id=ids[0],
        properties={
            "url": "https://acme.example/blog/lead-scoring?utm_source=linkedin&utm_medium=paid_social&utm_campaign=abm",
            "path": "/blog/lead-scoring",
        },
    )
    client.track(
        anonymous_id=anon,
        event="Whitepaper Downloaded",
        message_id=ids[1],
        properties={"content_id": "/whitepapers/alignment"},
    )
    client.identify(
        user_id=f"user-{run}",
        anonymous_id=anon,
        message_id=ids[2],
        traits={"email": f"{run}@buyer-corp.example", "firstName": "Ada"},
    )
    client.group(
        user_id=f"user-{run}",
        group_id=f"org-{run}",
        message_id=ids[3],
        traits={"name": "Buyer Corp", "industry": "Software", "employees": 450},
    )
    client.screen(user_id=f"user-{run}", name="Dashboard", message_id=ids[4])
    client.track(
        user_id=f"user-{run}", event="Meeting Held", message_id=ids[5], properties={"team": "sales"}
    )
    client.alias(previous_id=anon, user_id=f"user-{run}", message_id=ids[6])
    return ids


@pytest.mark.parametrize("make_client", OFFICIAL_CLIENTS)
def test_official_client_events_are_stored_exactly_once(
    live_server: LiveServer, workspace: Workspace, make_client: Any
) -> None:
    errors: list[Any] = []
    client = make_client(
        live_server, on_error=lambda e, batch: errors.append(e), max_retries=2, upload_size=5
    )
    sent: list[str] = []
    for n in range(6):
        sent += send_journey(client, f"{uuid.uuid4().hex[:8]}-{n}")
    client.flush()
    client.join()
    assert errors == []
    live_server.settle()
    with workspace.db.read() as conn:
        stored = [r.message_id for r in conn.execute(select(events.c.message_id))]
        touches = conn.execute(select(touchpoints.c.channel, touchpoints.c.person_id)).all()
        known = conn.execute(select(people.c.email, people.c.stage, people.c.account_id)).all()
    assert sorted(stored) == sorted(sent)
    assert len(touches) == 6 * 4
    assert all(person is not None for _, person in touches)
    assert {c for c, _ in touches} == {"Paid Social", "Direct", "Sales"}
    assert len(known) == 6
    assert all(stage == "lead" and account is not None for _, stage, account in known)


def test_sync_mode_client_and_gzip(live_server: LiveServer, workspace: Workspace) -> None:
    client = SegmentClient(
        write_key=live_server.write_key, host=live_server.url, sync_mode=True, gzip=True
    )
    client.track(user_id="u-1", event="Demo Requested", message_id="gz-1")
    with workspace.db.read() as conn:
        assert [r.message_id for r in conn.execute(select(events.c.message_id))] == ["gz-1"]


def test_a_wrong_write_key_is_rejected(live_server: LiveServer, workspace: Workspace) -> None:
    client = SegmentClient(
        write_key="swk_wrong", host=live_server.url, sync_mode=True, max_retries=0
    )
    with pytest.raises(APIError) as caught:
        client.track(user_id="u-1", event="Signed Up", message_id="x-1")
    assert caught.value.status == 401
    assert caught.value.message == "unknown write key"
    with workspace.db.read() as conn:
        assert conn.execute(select(events.c.id)).first() is None

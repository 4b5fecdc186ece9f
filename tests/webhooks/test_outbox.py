"""The transactional outbox: written with the change or not at all; fan-out by event type."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from smarketing.errors import ValidationFailed
from smarketing.services import webhooks
from smarketing.services.webhooks import EventType, emit
from smarketing.services.workspace import Workspace
from smarketing.store import audit
from smarketing.store import webhooks as store
from smarketing.store.tables import audit_log, outbox, webhook_deliveries


def count(ws: Workspace, table: object) -> int:
    with ws.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def subscribe(ws: Workspace, *events: str) -> int:
    return webhooks.subscribe(ws, "https://hooks.example.com/in", events).subscription.id


def test_the_event_commits_with_the_change(workspace: Workspace) -> None:
    subscribe(workspace, "*")
    now = workspace.clock.now()
    with workspace.db.begin() as conn:
        audit.record(conn, at=now, actor="test", action="deal.won", target="deal 7")
        outbox_id = emit(
            conn, EventType.DEAL_WON, {"deal_id": 7, "amount": Decimal("1200.50")}, now
        )
    assert outbox_id is not None
    with workspace.db.read() as conn:
        row = conn.execute(select(outbox)).one()
    assert row.event_type == "deal.won"
    assert row.dispatched_at is None
    assert row.payload == {
        "type": "deal.won",
        "timestamp": "2026-01-05T09:00:00.000Z",
        "data": {"deal_id": 7, "amount": "1200.50"},
    }


def change_that_fails_after_emitting(ws: Workspace) -> None:
    now = ws.clock.now()
    with ws.db.begin() as conn:
        audit.record(conn, at=now, actor="test", action="mql.created", target="person 1")
        emit(conn, EventType.MQL_CREATED, {"person_id": 1}, now)
        raise RuntimeError("the change failed after emitting")


def test_a_rolled_back_change_leaves_no_event(workspace: Workspace) -> None:
    subscribe(workspace, "*")
    audits_before = count(workspace, audit_log)
    with pytest.raises(RuntimeError, match="failed after emitting"):
        change_that_fails_after_emitting(workspace)
    assert count(workspace, outbox) == 0
    assert count(workspace, audit_log) == audits_before


def test_nothing_is_queued_when_nobody_listens(workspace: Workspace) -> None:
    subscribe(workspace, "deal.won")
    now = workspace.clock.now()
    with workspace.db.begin() as conn:
        assert emit(conn, EventType.MQL_CREATED, {"person_id": 1}, now) is None
    assert count(workspace, outbox) == 0


def test_listeners_are_read_once_a_transaction_and_new_ones_count_at_once(
    workspace: Workspace,
) -> None:
    """The active subscriptions are cached for the transaction: a subscription made in the
    same transaction, or committed before the next one starts, is heard."""
    now = workspace.clock.now()
    with workspace.db.begin() as conn:
        assert emit(conn, EventType.MQL_CREATED, {"person_id": 1}, now) is None
        store.add_subscription(
            conn,
            url="https://a.example/in",
            secret="s",
            event_types=["mql.created"],
            description=None,
            now=now,
        )
        assert emit(conn, EventType.MQL_CREATED, {"person_id": 2}, now) is not None
        assert emit(conn, EventType.DEAL_WON, {"deal_id": 1}, now) is None
    subscribe(workspace, "deal.won")  # another transaction
    with workspace.db.begin() as conn:
        assert emit(conn, EventType.DEAL_WON, {"deal_id": 2}, now) is not None
    assert count(workspace, outbox) == 2


def test_emit_many_queues_a_batch_with_one_listener_check(workspace: Workspace) -> None:
    subscribe(workspace, "person.stage_changed")
    now = workspace.clock.now()
    with workspace.db.begin() as conn:
        people = [{"person_id": i, "to": "lead"} for i in range(3)]
        assert webhooks.emit_many(conn, EventType.PERSON_STAGE_CHANGED, people, now) == 3
        assert webhooks.emit_many(conn, EventType.DEAL_WON, [{"deal_id": 1}], now) == 0
    with workspace.db.read() as conn:
        rows = conn.execute(select(outbox.c.payload).order_by(outbox.c.id)).scalars().all()
    assert [r["data"]["person_id"] for r in rows] == [0, 1, 2]


def test_payload_values_become_json(workspace: Workspace) -> None:
    subscribe(workspace, "*")
    at = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
    with workspace.db.begin() as conn:
        emit(
            conn,
            EventType.PERSON_STAGE_CHANGED,
            {"at": at, "on": at.date(), "to_stage": EventType.MQL_CREATED},
            workspace.clock.now(),
        )
        with pytest.raises(TypeError, match="not JSON-able"):
            emit(conn, EventType.DEAL_LOST, {"x": object()}, workspace.clock.now())
    with workspace.db.read() as conn:
        data = conn.execute(select(outbox.c.payload)).scalar_one()["data"]
    assert data == {"at": "2026-01-05T10:30:00.000Z", "on": "2026-01-05", "to_stage": "mql.created"}


def test_fan_out_follows_event_types_and_star_once(workspace: Workspace) -> None:
    mql_only = subscribe(workspace, "mql.created")
    deals = subscribe(workspace, "deal.won", "deal.lost")
    everything = subscribe(workspace, "*")
    now = workspace.clock.now()
    with workspace.db.begin() as conn:
        for kind in (EventType.MQL_CREATED, EventType.DEAL_WON, EventType.PERSON_MERGED):
            emit(conn, kind, {"id": 1}, now)
    with workspace.db.begin() as conn:
        fanned = store.fan_out(conn, now)
    assert (fanned.events, fanned.deliveries) == (3, 5)
    with workspace.db.begin() as conn:
        assert store.fan_out(conn, now) == store.FanOut(0, 0)
    got = {(d.subscription_id, d.event_type) for d in webhooks.deliveries(workspace)}
    assert got == {
        (mql_only, "mql.created"),
        (deals, "deal.won"),
        (everything, "mql.created"),
        (everything, "deal.won"),
        (everything, "person.merged"),
    }
    assert {d.status for d in webhooks.deliveries(workspace)} == {store.DeliveryStatus.PENDING}
    assert len({d.message_id for d in webhooks.deliveries(workspace)}) == 5


def test_unknown_event_types_and_urls_are_refused(workspace: Workspace) -> None:
    with pytest.raises(ValidationFailed, match="unknown event type"):
        subscribe(workspace, "mql.created", "mql.craeted")
    with pytest.raises(ValidationFailed, match="not an http"):
        webhooks.subscribe(workspace, "ftp://example.com", ["*"])


def test_two_workers_claim_disjoint_deliveries(workspace: Workspace, backend: str) -> None:
    subscribe(workspace, "*")
    now = workspace.clock.now()
    lease = now.replace(hour=10)
    with workspace.db.begin() as conn:
        for i in range(4):
            emit(conn, EventType.DEAL_CREATED, {"deal_id": i}, now)
        store.fan_out(conn, now)
    if backend == "postgres":  # two transactions open at once: SKIP LOCKED keeps them apart
        with workspace.db.engine.begin() as first, workspace.db.engine.begin() as second:
            a = store.claim_due(first, now, lease_until=lease, limit=2)
            b = store.claim_due(second, now, lease_until=lease, limit=10)
    else:  # SQLite: one writer at a time; a lease keeps the next one off the same rows
        with workspace.db.begin() as conn:
            a = store.claim_due(conn, now, lease_until=lease, limit=2)
        with workspace.db.begin() as conn:
            b = store.claim_due(conn, now, lease_until=lease, limit=10)
    assert len(a) == 2
    assert len(b) == 2
    assert not {d.id for d in a} & {d.id for d in b}
    with workspace.db.begin() as conn:
        assert store.claim_due(conn, now, lease_until=lease, limit=10) == []
        assert len(store.claim_due(conn, lease, lease_until=lease, limit=10)) == 4  # lease over
    assert count(workspace, webhook_deliveries) == 4


def test_every_event_type_is_documented() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    for kind in EventType:
        assert f"| `{kind.value}` |" in page, f"docs/webhooks.md does not describe {kind.value}"


def test_an_unknown_event_type_is_a_bug_named_as_such(workspace: Workspace) -> None:
    with pytest.raises(ValueError, match="add it to EventType"), workspace.db.begin() as conn:
        emit(conn, "mql.craeted", {}, workspace.clock.now())

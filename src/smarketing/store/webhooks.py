"""Webhook subscriptions, the transactional outbox and the delivery log.

Flow: a service writes an outbox row in the transaction of its change (`add_outbox_event`);
`fan_out` turns each undispatched row into one delivery per matching active subscription
(idempotent: UNIQUE (outbox_id, subscription_id)); `claim_due` leases due deliveries to one
worker (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer lock on SQLite) so the HTTP
calls happen outside any transaction; `record_attempt` stores each attempt's outcome.

Every attempt is a row of `webhook_attempts` (its outcome, HTTP status, error, duration):
the per-attempt history of a delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, and_, select, update

from smarketing.domain.webhook_signing import new_message_id
from smarketing.errors import NotFoundError
from smarketing.store.sql import insert_ignore
from smarketing.store.tables import (
    outbox,
    webhook_attempts,
    webhook_deliveries,
    webhook_subscriptions,
)

ALL_EVENTS = "*"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first attempt
    SENDING = "sending"  # leased to a worker until `next_attempt_at`
    RETRYING = "retrying"  # failed; next attempt at `next_attempt_at`
    DELIVERED = "delivered"
    DEAD = "dead"  # gave up after the last attempt


DUE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING, DeliveryStatus.SENDING)


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    id: int
    url: str
    event_types: tuple[str, ...]
    description: str | None
    active: bool
    created_at: datetime

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.event_types or event_type in self.event_types


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A delivery leased to this worker, with what it takes to send it."""

    id: int
    message_id: str
    attempts: int
    url: str
    secret: str
    envelope: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    id: int
    message_id: str
    event_type: str
    subscription_id: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    at: datetime
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int


# -- subscriptions -------------------------------------------------------------------------


def _subscription(row: Row[Any]) -> WebhookSubscription:
    return WebhookSubscription(
        id=row.id,
        url=row.url,
        event_types=tuple(row.event_types),
        description=row.description,
        active=row.active,
        created_at=row.created_at,
    )


def add_subscription(
    conn: Connection,
    *,
    url: str,
    secret: str,
    event_types: Sequence[str],
    description: str | None,
    now: datetime,
) -> WebhookSubscription:
    conn.info.pop(_ACTIVE, None)  # a subscription added here counts in this transaction too
    new_id = conn.execute(
        webhook_subscriptions.insert().values(
            url=url,
            secret=secret,
            event_types=list(event_types),
            description=description,
            active=True,
            created_at=now,
        )
    ).inserted_primary_key
    assert new_id is not None
    return WebhookSubscription(
        id=new_id[0],
        url=url,
        event_types=tuple(event_types),
        description=description,
        active=True,
        created_at=now,
    )


def list_subscriptions(conn: Connection, *, active_only: bool = False) -> list[WebhookSubscription]:
    query = select(webhook_subscriptions).order_by(webhook_subscriptions.c.id)
    if active_only:
        query = query.where(webhook_subscriptions.c.active.is_(True))
    return [_subscription(r) for r in conn.execute(query)]


def require_subscription(conn: Connection, subscription_id: int) -> WebhookSubscription:
    row = conn.execute(
        select(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
    ).first()
    if row is None:
        raise NotFoundError(
            f"no webhook subscription {subscription_id}",
            hint="list them with `smarketing webhooks list`",
        )
    return _subscription(row)


def has_listeners(conn: Connection, event_type: str) -> bool:
    """Whether any active subscription wants `event_type`.

    The subscriptions are read once per transaction: the tracking processor emits a few events
    for each MQL it makes, and one query per event was about 9 % of its time under load."""
    transaction = conn.get_transaction()
    cached = conn.info.get(_ACTIVE)
    if cached is not None and transaction is not None and cached[0] is transaction:
        active = cached[1]
    else:
        active = list_subscriptions(conn, active_only=True)
        if transaction is not None:
            conn.info[_ACTIVE] = (transaction, active)
    return any(s.wants(event_type) for s in active)


_ACTIVE = "smarketing.active_webhook_subscriptions"
"""`conn.info` key: (transaction, its active subscriptions), for `has_listeners`."""


# -- outbox and fan-out --------------------------------------------------------------------


def add_outbox_event(
    conn: Connection,
    event_type: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    dispatched: bool = False,
) -> int:
    """Write one event to the outbox, in the caller's transaction; returns its id."""
    new_id = conn.execute(
        outbox.insert().values(
            event_type=event_type,
            payload=payload,
            created_at=now,
            dispatched_at=now if dispatched else None,
        )
    ).inserted_primary_key
    assert new_id is not None
    return int(new_id[0])


def add_outbox_events(
    conn: Connection, event_type: str, payloads: Sequence[dict[str, Any]], now: datetime
) -> None:
    """Write a batch of events of one type to the outbox (one statement)."""
    if payloads:
        conn.execute(
            outbox.insert(),
            [{"event_type": event_type, "payload": p, "created_at": now} for p in payloads],
        )


def add_delivery(conn: Connection, *, outbox_id: int, subscription_id: int, now: datetime) -> int:
    """One delivery of an outbox event to one subscription, due now; returns its id."""
    new_id = conn.execute(
        webhook_deliveries.insert().values(_new_delivery(outbox_id, subscription_id, now))
    ).inserted_primary_key
    assert new_id is not None
    return int(new_id[0])


def _new_delivery(outbox_id: int, subscription_id: int, now: datetime) -> dict[str, Any]:
    return {
        "outbox_id": outbox_id,
        "subscription_id": subscription_id,
        "message_id": new_message_id(),
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


@dataclass(frozen=True, slots=True)
class FanOut:
    events: int
    deliveries: int


def fan_out(conn: Connection, now: datetime, *, limit: int = 500) -> FanOut:
    """Turn undispatched outbox events into deliveries, one per matching active subscription.

    Two workers never take the same rows (SKIP LOCKED); a repeat inserts nothing (UNIQUE).
    """
    rows = conn.execute(
        select(outbox.c.id, outbox.c.event_type)
        .where(outbox.c.dispatched_at.is_(None))
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return FanOut(0, 0)
    subscriptions = list_subscriptions(conn, active_only=True)
    values = [
        _new_delivery(row.id, sub.id, now)
        for row in rows
        for sub in subscriptions
        if sub.wants(row.event_type)
    ]
    if values:
        conn.execute(insert_ignore(conn, webhook_deliveries), values)
    conn.execute(
        update(outbox).where(outbox.c.id.in_([r.id for r in rows])).values(dispatched_at=now)
    )
    return FanOut(events=len(rows), deliveries=len(values))


# -- claiming and recording ----------------------------------------------------------------


def claim_due(
    conn: Connection,
    now: datetime,
    *,
    lease_until: datetime,
    limit: int,
    delivery_id: int | None = None,
) -> list[DueDelivery]:
    """Lease up to `limit` due deliveries of active subscriptions to the caller.

    A leased delivery is `sending` until `lease_until`; if the worker dies, it is due again
    then. On PostgreSQL the rows are locked with SKIP LOCKED, so concurrent workers take
    disjoint sets; on SQLite the write transaction itself is exclusive.
    """
    d, s = webhook_deliveries, webhook_subscriptions
    query = (
        select(d.c.id, d.c.message_id, d.c.attempts, s.c.url, s.c.secret, outbox.c.payload)
        .join(s, s.c.id == d.c.subscription_id)
        .join(outbox, outbox.c.id == d.c.outbox_id)
        .where(
            d.c.status.in_([st.value for st in DUE_STATUSES]),
            d.c.next_attempt_at <= now,
            s.c.active.is_(True),
        )
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=d)
    )
    if delivery_id is not None:
        query = query.where(d.c.id == delivery_id)
    rows = conn.execute(query).all()
    if rows:
        conn.execute(
            update(d)
            .where(d.c.id.in_([r.id for r in rows]))
            .values(status=DeliveryStatus.SENDING.value, next_attempt_at=lease_until)
        )
    return [
        DueDelivery(
            id=r.id,
            message_id=r.message_id,
            attempts=r.attempts,
            url=r.url,
            secret=r.secret,
            envelope=r.payload,
        )
        for r in rows
    ]


def record_attempt(
    conn: Connection,
    delivery: DueDelivery,
    *,
    at: datetime,
    status: DeliveryStatus,
    next_attempt_at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    """Store the outcome of one attempt on the delivery and in the attempt log."""
    attempt = delivery.attempts + 1
    conn.execute(
        update(webhook_deliveries)
        .where(
            and_(
                webhook_deliveries.c.id == delivery.id,
                webhook_deliveries.c.status == DeliveryStatus.SENDING.value,
            )
        )
        .values(
            status=status.value,
            attempts=attempt,
            next_attempt_at=next_attempt_at,
            last_status_code=status_code,
            last_error=error,
            delivered_at=at if status is DeliveryStatus.DELIVERED else None,
        )
    )
    conn.execute(
        webhook_attempts.insert().values(
            delivery_id=delivery.id,
            attempt=attempt,
            at=at,
            outcome=status.value,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
    )


# -- the delivery log ----------------------------------------------------------------------


def _delivery(row: Row[Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        message_id=row.message_id,
        event_type=row.event_type,
        subscription_id=row.subscription_id,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
    )


def list_deliveries(
    conn: Connection,
    *,
    status: DeliveryStatus | None = None,
    subscription_id: int | None = None,
    limit: int = 50,
) -> list[WebhookDelivery]:
    """Newest deliveries first, optionally of one status or one subscription."""
    d = webhook_deliveries
    query = (
        select(d, outbox.c.event_type)
        .join(outbox, outbox.c.id == d.c.outbox_id)
        .order_by(d.c.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(d.c.status == status.value)
    if subscription_id is not None:
        query = query.where(d.c.subscription_id == subscription_id)
    return [_delivery(r) for r in conn.execute(query)]


def require_delivery(conn: Connection, delivery_id: int) -> WebhookDelivery:
    d = webhook_deliveries
    row = conn.execute(
        select(d, outbox.c.event_type)
        .join(outbox, outbox.c.id == d.c.outbox_id)
        .where(d.c.id == delivery_id)
    ).first()
    if row is None:
        raise NotFoundError(
            f"no webhook delivery {delivery_id}",
            hint="list them with `smarketing webhooks deliveries`",
        )
    return _delivery(row)


def list_attempts(conn: Connection, message_id: str) -> list[DeliveryAttempt]:
    """Every attempt of one delivery, oldest first."""
    a, d = webhook_attempts, webhook_deliveries
    rows = conn.execute(
        select(a.c.at, a.c.attempt, a.c.status_code, a.c.error, a.c.duration_ms)
        .join(d, d.c.id == a.c.delivery_id)
        .where(d.c.message_id == message_id)
        .order_by(a.c.attempt)
    )
    return [
        DeliveryAttempt(
            at=r.at,
            attempt=r.attempt,
            status_code=r.status_code,
            error=r.error,
            duration_ms=r.duration_ms,
        )
        for r in rows
    ]

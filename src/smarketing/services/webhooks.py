"""Outgoing webhooks: emit into the outbox, subscribe, and deliver with retries.

Services call `emit(conn, ...)` inside the transaction of their own change, so an event exists
exactly when the change does. `dispatch_and_deliver` (run by `smarketing worker` and by the
background loop of `serve`) fans the outbox out to subscriptions and POSTs due deliveries,
signed the Standard Webhooks way, outside any database transaction and with a short timeout:
a receiver that is down or slow never blocks ingestion or the API.

Retries: after failed attempt n (1-based) the next one is due `RETRY_BASE * 2**(n-1)` later,
±20 % jitter; attempt `MAX_ATTEMPTS` failing makes the delivery `dead` (about 21 hours after
the first attempt with the defaults). Only a 2xx answer counts as delivered.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
from sqlalchemy import Connection

from smarketing.domain.webhook_signing import new_secret, signature_headers
from smarketing.errors import ValidationFailed
from smarketing.services.workspace import Workspace
from smarketing.store import audit
from smarketing.store import webhooks as store
from smarketing.store.webhooks import (
    ALL_EVENTS,
    DeliveryStatus,
    DueDelivery,
    WebhookSubscription,
)

DELIVERY_TIMEOUT_S = 5.0
MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=10)
RETRY_JITTER = 0.2
CLAIM_BATCH = 20
PARALLEL_SENDS = 8
USER_AGENT = "smarketing-webhooks/1"
_ERROR_SNIPPET = 300


class EventType(StrEnum):
    """What a subscription can ask for (plus `*` for everything)."""

    MQL_CREATED = "mql.created"
    HANDOFF_WAITING = "handoff.waiting"
    HANDOFF_ASSIGNED = "handoff.assigned"
    HANDOFF_ACCEPTED = "handoff.accepted"
    HANDOFF_REJECTED = "handoff.rejected"
    HANDOFF_QUALIFIED = "handoff.qualified"
    SLA_BREACHED = "sla.breached"
    PERSON_STAGE_CHANGED = "person.stage_changed"
    PERSON_MERGED = "person.merged"
    DEAL_CREATED = "deal.created"
    DEAL_WON = "deal.won"
    DEAL_LOST = "deal.lost"
    CUSTOMER_CHURNED = "customer.churned"
    PERSON_REFERRED = "person.referred"
    WEBHOOK_TEST = "webhook.test"


# -- emitting ------------------------------------------------------------------------------


def emit(
    conn: Connection, event_type: EventType | str, payload: Mapping[str, Any], now: datetime
) -> int | None:
    """Queue a webhook event in the caller's transaction (rolled back with it).

    `payload` becomes the envelope's `data`; datetimes, dates, Decimals, enums and UUIDs are
    turned into JSON strings. Returns the outbox id, or None when no active subscription
    wants this event type (nothing is written then). An unknown type raises ValueError.
    """
    kind = event_type_of(event_type)
    data = _json_data(payload)
    if not store.has_listeners(conn, kind.value):
        return None
    return store.add_outbox_event(conn, kind.value, envelope(kind, data, now), now)


def emit_many(
    conn: Connection,
    event_type: EventType | str,
    payloads: Iterable[Mapping[str, Any]],
    now: datetime,
) -> int:
    """`emit` for a batch of events of one type (one listener check); returns how many.
    Unlike `emit`, the payloads are only converted when someone listens: tracking emits a
    stage change for every new lead, most stores have no subscription for it."""
    kind = event_type_of(event_type)
    payloads = list(payloads)
    if not payloads or not store.has_listeners(conn, kind.value):
        return 0
    datas = [_json_data(p) for p in payloads]
    store.add_outbox_events(conn, kind.value, [envelope(kind, d, now) for d in datas], now)
    return len(datas)


def event_type_of(value: EventType | str) -> EventType:
    try:
        return EventType(value)
    except ValueError:
        raise ValueError(
            f"unknown webhook event type {value!r}: add it to EventType in "
            "smarketing/services/webhooks.py and to docs/webhooks.md"
        ) from None


def _json_data(payload: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(dict(payload), default=_json_default))
    return data


def envelope(event_type: EventType, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The body every receiver gets: `{"type", "timestamp", "data"}`."""
    return {"type": event_type.value, "timestamp": _iso(now), "data": data}


def envelope_body(envelope: Mapping[str, Any]) -> bytes:
    """The exact bytes POSTed (and signed): compact UTF-8 JSON."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise TypeError(f"naive datetime {moment!r} in a webhook payload: pass an aware one")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON-able in a webhook payload")


# -- subscriptions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """A subscription just created: `secret` is shown once (it stays stored, for signing)."""

    secret: str
    subscription: WebhookSubscription


def subscribe(
    ws: Workspace,
    url: str,
    event_types: Iterable[str],
    description: str | None = None,
    *,
    actor: str = "cli",
) -> NewSubscription:
    """Subscribe `url` to some event types (`*` for all); returns the new signing secret."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationFailed(
            f"{url!r} is not an http(s) URL", hint="e.g. https://hooks.example.com/smarketing"
        )
    kinds = _event_types(event_types)
    secret = new_secret()
    now = ws.clock.now()
    with ws.db.begin() as conn:
        sub = store.add_subscription(
            conn, url=url, secret=secret, event_types=kinds, description=description, now=now
        )
        audit.record(
            conn,
            at=now,
            actor=actor,
            action="webhook.subscribed",
            target=str(sub.id),
            detail={"url": url, "event_types": list(kinds)},
        )
    return NewSubscription(secret=secret, subscription=sub)


def _event_types(requested: Iterable[str]) -> list[str]:
    known = {e.value for e in EventType} | {ALL_EVENTS}
    kinds = list(dict.fromkeys(t.strip() for t in requested))
    unknown = [t for t in kinds if t not in known]
    if not kinds or unknown:
        raise ValidationFailed(
            f"unknown event type(s): {', '.join(unknown)}" if unknown else "no event type given",
            hint="use `*` or some of: " + ", ".join(e.value for e in EventType),
        )
    return kinds


def subscriptions(ws: Workspace) -> list[WebhookSubscription]:
    with ws.db.read() as conn:
        return store.list_subscriptions(conn)


def deliveries(
    ws: Workspace,
    *,
    status: DeliveryStatus | None = None,
    subscription_id: int | None = None,
    limit: int = 50,
) -> list[store.WebhookDelivery]:
    with ws.db.read() as conn:
        return store.list_deliveries(
            conn, status=status, subscription_id=subscription_id, limit=limit
        )


def attempts(ws: Workspace, delivery_id: int) -> list[store.DeliveryAttempt]:
    with ws.db.read() as conn:
        return store.list_attempts(conn, store.require_delivery(conn, delivery_id).message_id)


# -- delivering ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    delivery_id: int
    message_id: str
    url: str
    status_code: int | None
    error: str | None
    duration_ms: int
    status: DeliveryStatus
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    events_dispatched: int
    deliveries_created: int
    outcomes: tuple[AttemptOutcome, ...]

    def count(self, status: DeliveryStatus) -> int:
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def is_idle(self) -> bool:
        return not (self.events_dispatched or self.outcomes)

    def describe(self) -> str:
        return (
            f"webhooks: {self.events_dispatched} event(s) -> {self.deliveries_created} "
            f"delivery(ies); {len(self.outcomes)} attempted: "
            f"{self.count(DeliveryStatus.DELIVERED)} delivered, "
            f"{self.count(DeliveryStatus.RETRYING)} retrying, "
            f"{self.count(DeliveryStatus.DEAD)} dead"
        )


def retry_delay(failed_attempts: int, rng: random.Random) -> timedelta:
    """Wait after the n-th failed attempt: `RETRY_BASE * 2**(n-1)`, ±20 % jitter."""
    factor = 1 + rng.uniform(-RETRY_JITTER, RETRY_JITTER)
    return RETRY_BASE * float(2 ** (failed_attempts - 1) * factor)


def dispatch_and_deliver(
    ws: Workspace,
    *,
    http: httpx.Client | None = None,
    rng: random.Random | None = None,
    timeout_s: float = DELIVERY_TIMEOUT_S,
    max_deliveries: int = 200,
) -> DeliveryReport:
    """Fan the outbox out to subscriptions, then attempt up to `max_deliveries` due ones.

    Safe to run in several workers at once. Never raises for a receiver's failure: each one
    is recorded and rescheduled. `http` (a client with its own timeout) is for tests.
    """
    events = created = 0
    while True:
        with ws.db.begin() as conn:
            fanned = store.fan_out(conn, ws.clock.now())
        events, created = events + fanned.events, created + fanned.deliveries
        if fanned.events == 0:
            break
    rng = rng or random.Random()
    outcomes: list[AttemptOutcome] = []
    with closing(_Sender(http, timeout_s)) as sender:
        while len(outcomes) < max_deliveries:
            batch = min(CLAIM_BATCH, max_deliveries - len(outcomes))
            done = _deliver_due(ws, sender, rng, limit=batch)
            outcomes += done
            if len(done) < batch:
                break
    return DeliveryReport(events, created, tuple(outcomes))


def send_test(
    ws: Workspace,
    subscription_id: int,
    *,
    http: httpx.Client | None = None,
    timeout_s: float = DELIVERY_TIMEOUT_S,
) -> AttemptOutcome:
    """Send a `webhook.test` event to one subscription now, through the normal delivery path
    (logged; retried on the usual schedule if it fails)."""
    now = ws.clock.now()
    with ws.db.begin() as conn:
        sub = store.require_subscription(conn, subscription_id)
        if not sub.active:
            raise ValidationFailed(f"webhook subscription {sub.id} is inactive")
        data = {"subscription_id": sub.id, "message": "A test event from smarketing."}
        outbox_id = store.add_outbox_event(
            conn,
            EventType.WEBHOOK_TEST.value,
            envelope(EventType.WEBHOOK_TEST, data, now),
            now,
            dispatched=True,
        )
        delivery_id = store.add_delivery(conn, outbox_id=outbox_id, subscription_id=sub.id, now=now)
    with closing(_Sender(http, timeout_s)) as sender:
        (outcome,) = _deliver_due(ws, sender, random.Random(), limit=1, delivery_id=delivery_id)
    return outcome


class _Sender:
    """The HTTP client of one run: the caller's, or our own opened only once there is
    something to send (idle worker rounds cost no client) and closed at the end."""

    def __init__(self, http: httpx.Client | None, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._given = http
        self._own: httpx.Client | None = None

    def client(self) -> httpx.Client:
        if self._given is not None:
            return self._given
        if self._own is None:
            self._own = httpx.Client(timeout=httpx.Timeout(self.timeout_s), follow_redirects=False)
        return self._own

    def close(self) -> None:
        if self._own is not None:
            self._own.close()


def _deliver_due(
    ws: Workspace,
    sender: _Sender,
    rng: random.Random,
    *,
    limit: int,
    delivery_id: int | None = None,
) -> list[AttemptOutcome]:
    now = ws.clock.now()
    lease_until = now + timedelta(seconds=120 + 4 * sender.timeout_s)
    with ws.db.begin() as conn:
        due = store.claim_due(
            conn, now, lease_until=lease_until, limit=limit, delivery_id=delivery_id
        )
    if not due:
        return []
    client = sender.client()
    if len(due) == 1:
        sent = [_post(client, due[0], now)]
    else:
        with ThreadPoolExecutor(max_workers=min(PARALLEL_SENDS, len(due))) as pool:
            sent = list(pool.map(lambda d: _post(client, d, now), due))
    return _record(ws, due, sent, rng)


@dataclass(frozen=True, slots=True)
class _Sent:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _post(client: httpx.Client, due: DueDelivery, now: datetime) -> _Sent:
    """One signed POST; any failure (refused, timeout, non-2xx, bad URL) becomes `_Sent`."""
    body = envelope_body(due.envelope)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **signature_headers(due.secret, due.message_id, int(now.timestamp()), body),
    }
    started = time.monotonic()
    code: int | None = None
    error: str | None = None
    try:
        with client.stream("POST", due.url, content=body, headers=headers) as response:
            code = response.status_code
            if not 200 <= code < 300:
                snippet = next(response.iter_bytes(), b"")[:_ERROR_SNIPPET]
                error = f"HTTP {code}: {snippet.decode('utf-8', 'replace')}".strip()
    except httpx.TimeoutException as exc:
        error = f"timeout ({type(exc).__name__}) after {client.timeout.read or 0:g} s"
    except Exception as exc:  # any receiver problem is an attempt's outcome, never a crash
        error = f"{type(exc).__name__}: {exc}"[:_ERROR_SNIPPET]
    return _Sent(code, error, int((time.monotonic() - started) * 1000))


def _record(
    ws: Workspace, due: Sequence[DueDelivery], sent: Sequence[_Sent], rng: random.Random
) -> list[AttemptOutcome]:
    now = ws.clock.now()
    outcomes: list[AttemptOutcome] = []
    with ws.db.begin() as conn:
        for delivery, result in zip(due, sent, strict=True):
            attempt = delivery.attempts + 1
            if result.ok:
                status, next_at = DeliveryStatus.DELIVERED, now
            elif attempt >= MAX_ATTEMPTS:
                status, next_at = DeliveryStatus.DEAD, now
            else:
                status, next_at = DeliveryStatus.RETRYING, now + retry_delay(attempt, rng)
            store.record_attempt(
                conn,
                delivery,
                at=now,
                status=status,
                next_attempt_at=next_at,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
            )
            outcomes.append(
                AttemptOutcome(
                    delivery_id=delivery.id,
                    message_id=delivery.message_id,
                    url=delivery.url,
                    status_code=result.status_code,
                    error=result.error,
                    duration_ms=result.duration_ms,
                    status=status,
                    next_attempt_at=next_at,
                )
            )
    return outcomes

"""Delivery to a real receiver on loopback: signatures, retries on a frozen clock, slow and
dead receivers, and a worker loop that outlives every failure."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from datetime import timedelta
from functools import partial

import httpx
import pytest

from smarketing.domain.clock import FrozenClock
from smarketing.services import webhooks
from smarketing.services.webhooks import (
    MAX_ATTEMPTS,
    RETRY_BASE,
    DeliveryReport,
    EventType,
    dispatch_and_deliver,
    emit,
)
from smarketing.services.worker import Worker, start_background_worker
from smarketing.services.workspace import Workspace
from smarketing.store.webhooks import DeliveryStatus

from .conftest import StartReceiver, free_port


def subscribe(ws: Workspace, url: str, *events: str) -> str:
    """Subscribe and return the secret."""
    return webhooks.subscribe(ws, url, events or ("*",)).secret


def emit_one(ws: Workspace, kind: EventType = EventType.MQL_CREATED, **data: object) -> None:
    with ws.db.begin() as conn:
        emit(conn, kind, data or {"person_id": 42}, ws.clock.now())


def deliver(ws: Workspace, http: httpx.Client) -> DeliveryReport:
    return dispatch_and_deliver(ws, http=http, rng=random.Random(7))


def only_delivery(ws: Workspace) -> webhooks.store.WebhookDelivery:
    (delivery,) = webhooks.deliveries(ws)
    return delivery


def test_a_delivery_is_signed_and_verifiable(
    workspace: Workspace,
    clock: FrozenClock,
    start_receiver: StartReceiver,
    http: httpx.Client,
) -> None:
    receiver = start_receiver(now=clock.now)
    receiver.secret = subscribe(workspace, receiver.url, "mql.created")
    emit_one(workspace, person_id=42, email="ana@acme.test")

    report = deliver(workspace, http)

    assert (report.events_dispatched, report.deliveries_created) == (1, 1)
    assert report.count(DeliveryStatus.DELIVERED) == 1
    (got,) = receiver.received
    assert got.verdict == "valid"
    delivery = only_delivery(workspace)
    assert got.headers["webhook-id"] == delivery.message_id
    assert got.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    assert got.headers["content-type"] == "application/json"
    assert json.loads(got.body) == {
        "type": "mql.created",
        "timestamp": "2026-01-05T09:00:00.000Z",
        "data": {"person_id": 42, "email": "ana@acme.test"},
    }
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
    )
    assert deliver(workspace, http).is_idle


def test_a_receiver_that_is_down_gets_it_exactly_once_when_back(
    workspace: Workspace,
    clock: FrozenClock,
    start_receiver: StartReceiver,
    http: httpx.Client,
) -> None:
    port = free_port()
    secret = subscribe(workspace, f"http://127.0.0.1:{port}/hooks")
    emit_one(workspace)

    first = deliver(workspace, http)
    assert first.count(DeliveryStatus.RETRYING) == 1
    assert "ConnectError" in (first.outcomes[0].error or "")
    wait = first.outcomes[0].next_attempt_at - clock.now()
    assert RETRY_BASE * 0.8 <= wait <= RETRY_BASE * 1.2
    assert deliver(workspace, http).outcomes == ()  # not due yet: nothing is attempted

    clock.advance(seconds=wait.total_seconds())
    second = deliver(workspace, http)
    assert second.count(DeliveryStatus.RETRYING) == 1
    wait = second.outcomes[0].next_attempt_at - clock.now()
    assert RETRY_BASE * 2 * 0.8 <= wait <= RETRY_BASE * 2 * 1.2

    receiver = start_receiver(port=port, now=clock.now, secret=secret)
    clock.advance(seconds=wait.total_seconds())
    assert deliver(workspace, http).count(DeliveryStatus.DELIVERED) == 1
    clock.advance(days=3)
    assert deliver(workspace, http).is_idle

    assert [r.verdict for r in receiver.received] == ["valid"]
    delivery = only_delivery(workspace)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    log = webhooks.attempts(workspace, delivery.id)
    assert [(a.attempt, a.status_code) for a in log] == [(1, None), (2, None), (3, 200)]
    assert "ConnectError" in (log[0].error or "")
    assert log[2].error is None


def test_failing_receiver_backs_off_exponentially_then_dead(
    workspace: Workspace,
    clock: FrozenClock,
    start_receiver: StartReceiver,
    http: httpx.Client,
) -> None:
    receiver = start_receiver(now=clock.now, status=500)
    receiver.secret = subscribe(workspace, receiver.url)
    emit_one(workspace)
    started = clock.now()
    waits = []
    for _ in range(MAX_ATTEMPTS):
        (outcome,) = deliver(workspace, http).outcomes
        assert outcome.status_code == 500
        assert (outcome.error or "").startswith("HTTP 500")
        waits.append(outcome.next_attempt_at - clock.now())
        clock.set(outcome.next_attempt_at)

    assert outcome.status is DeliveryStatus.DEAD
    for n, wait in enumerate(waits[:-1]):
        assert RETRY_BASE * 2**n * 0.8 <= wait <= RETRY_BASE * 2**n * 1.2
    assert timedelta(hours=16) < clock.now() - started < timedelta(hours=26)
    clock.advance(days=7)
    assert deliver(workspace, http).is_idle
    assert len(receiver.received) == MAX_ATTEMPTS
    assert {r.verdict for r in receiver.received} == {"valid"}
    assert only_delivery(workspace).status is DeliveryStatus.DEAD
    assert [d.id for d in webhooks.deliveries(workspace, status=DeliveryStatus.DEAD)] == [
        only_delivery(workspace).id
    ]


def test_a_slow_receiver_times_out_and_the_others_still_get_theirs(
    workspace: Workspace, clock: FrozenClock, start_receiver: StartReceiver
) -> None:
    slow = start_receiver(now=clock.now, delay_s=5.0)
    fast = start_receiver(now=clock.now)
    slow.secret = subscribe(workspace, slow.url, "deal.won")
    fast.secret = subscribe(workspace, fast.url, "deal.won")
    emit_one(workspace, EventType.DEAL_WON, deal_id=9)
    worker = Worker(workspace, [partial(dispatch_and_deliver, timeout_s=0.2)])

    began = time.monotonic()
    (round_,) = worker.run_once()
    elapsed = time.monotonic() - began

    assert round_.error is None
    assert isinstance(round_.result, DeliveryReport)
    by_url = {o.url: o for o in round_.result.outcomes}
    assert by_url[fast.url].status is DeliveryStatus.DELIVERED
    assert by_url[slow.url].status is DeliveryStatus.RETRYING
    assert (by_url[slow.url].error or "").startswith("timeout")
    assert elapsed < 2.0
    assert len(fast.received) == 1


def test_the_worker_loop_survives_failing_jobs(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    stop = threading.Event()
    rounds: list[int] = []

    def broken(_ws: Workspace) -> None:
        raise RuntimeError("receiver exploded")

    def counting(_ws: Workspace) -> int:
        rounds.append(1)
        if len(rounds) == 3:
            stop.set()
        return len(rounds)

    with caplog.at_level(logging.ERROR, logger="smarketing.worker"):
        Worker(workspace, [broken, counting]).run_forever(stop, interval_s=0)
    assert len(rounds) == 3
    assert sum("receiver exploded" in (r.exc_text or "") for r in caplog.records) == 3


def test_the_background_worker_delivers_and_stops(
    workspace: Workspace, clock: FrozenClock, start_receiver: StartReceiver
) -> None:
    receiver = start_receiver(now=clock.now)
    receiver.secret = subscribe(workspace, receiver.url)
    emit_one(workspace)
    delivered = threading.Event()

    def job(ws: Workspace) -> DeliveryReport:
        report = dispatch_and_deliver(ws)
        if report.count(DeliveryStatus.DELIVERED):
            delivered.set()
        return report

    thread, stop = start_background_worker(workspace, jobs=[job], interval_s=0.05)
    try:
        assert delivered.wait(timeout=5)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(receiver.received) == 1


def test_send_test_goes_through_the_delivery_log(
    workspace: Workspace,
    clock: FrozenClock,
    start_receiver: StartReceiver,
    http: httpx.Client,
) -> None:
    receiver = start_receiver(now=clock.now)
    new = webhooks.subscribe(workspace, receiver.url, ["deal.won"])
    receiver.secret = new.secret

    outcome = webhooks.send_test(workspace, new.subscription.id)

    assert outcome.status is DeliveryStatus.DELIVERED
    (got,) = receiver.received
    assert json.loads(got.body)["type"] == "webhook.test"
    assert only_delivery(workspace).event_type == "webhook.test"
    assert deliver(workspace, http).is_idle  # the test event is not fanned out again

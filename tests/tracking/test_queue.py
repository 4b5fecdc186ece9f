"""Accept, then process: events a server accepted are resolved by the processor later, exactly
as if the request had processed them, and a stop between the two stages loses nothing."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from smarketing.domain.clock import FrozenClock
from smarketing.domain.stages import Stage
from smarketing.services import admin
from smarketing.services.lifecycle import change_in, move
from smarketing.services.tracking import Tracker
from smarketing.services.worker import Worker, drain_forever, process_tracking_backlog
from smarketing.services.workspace import Workspace, init_workspace, open_workspace
from smarketing.settings import load_settings
from smarketing.store import tracking
from smarketing.store.tables import (
    accounts,
    content_items,
    events,
    people,
    scores,
    touchpoints,
    transitions,
)
from tests.postgres_locks import start_until_it_waits


def journey(n: int) -> list[dict[str, Any]]:
    """A visitor from a LinkedIn ad reads, downloads, identifies, joins their company."""
    anon, user = f"anon-{n}", f"user-{n}"
    return [
        {
            "type": "page",
            "messageId": f"{n}-page",
            "anonymousId": anon,
            "originalTimestamp": "2026-03-02T09:00:00Z",
            "properties": {"url": "https://acme.example/blog/lead-scoring", "path": "/blog"},
        },
        {
            "type": "track",
            "messageId": f"{n}-download",
            "anonymousId": anon,
            "event": "Whitepaper Downloaded",
            "originalTimestamp": "2026-03-02T09:05:00Z",
            "properties": {"content_id": "/whitepapers/alignment"},
        },
        {
            "type": "identify",
            "messageId": f"{n}-identify",
            "anonymousId": anon,
            "userId": user,
            "originalTimestamp": "2026-03-02T09:06:00Z",
            "traits": {"email": f"p{n}@buyer{n % 3}.example", "title": "VP Sales"},
        },
        {
            "type": "track",
            "messageId": f"{n}-meeting",
            "userId": user,
            "event": "Meeting Held",
            "originalTimestamp": "2026-03-03T15:00:00Z",
            "properties": {"team": "sales"},
        },
    ]


BATCH_CONTEXT = {"campaign": {"source": "linkedin", "medium": "paid_social", "name": "abm"}}
SENT_AT = datetime.fromisoformat("2026-03-03T15:00:10+00:00")


def send_items(tracker: Tracker, key: str, items: list[dict[str, Any]]) -> None:
    source = tracker.source_for(key)
    result = tracker.ingest(source, items, received_at=tracker.ws.clock.now())
    assert result.count("stored") == len(items)


def send(tracker: Tracker, key: str, visitors: range) -> None:
    source = tracker.source_for(key)
    received = tracker.ws.clock.now()
    for n in visitors:
        result = tracker.ingest(
            source,
            journey(n),
            received_at=received,
            sent_at=SENT_AT,
            batch_context=BATCH_CONTEXT,
        )
        assert result.count("stored") == 4


def state(ws: Workspace) -> dict[str, Any]:
    """What the processing made, in terms that do not depend on ids."""
    with ws.db.read() as conn:
        email = dict(conn.execute(select(people.c.id, people.c.email)).all())
        domain = dict(conn.execute(select(accounts.c.id, accounts.c.domain)).all())
        content = dict(conn.execute(select(content_items.c.id, content_items.c.key)).all())
        touches = sorted(
            (
                email.get(t.person_id),
                domain.get(t.account_id),
                t.channel,
                t.kind,
                t.team,
                content.get(t.content_id),
                t.occurred_at,
            )
            for t in conn.execute(select(touchpoints))
        )
        persons = sorted(
            (p.email, p.stage, domain.get(p.account_id), p.title)
            for p in conn.execute(select(people))
        )
        points = sorted(
            (email[s.person_id], s.fit, s.engagement) for s in conn.execute(select(scores))
        )
    return {"touches": touches, "people": persons, "scores": points}


def inline_workspace(tmp_path: Path, clock: FrozenClock) -> tuple[Workspace, str]:
    settings = load_settings(workspace=tmp_path / "inline")
    init_workspace(settings, today=clock.now().date())
    ws = open_workspace(settings, clock=clock)
    return ws, admin.add_source(ws, name="website").secret


def pending(ws: Workspace) -> int:
    with ws.db.read() as conn:
        return tracking.count_pending(conn)


def test_queued_events_wait_for_the_processor_and_end_as_inline_ones(
    workspace: Workspace, clock: FrozenClock, tmp_path: Path
) -> None:
    key = admin.add_source(workspace, name="website").secret
    send(Tracker(workspace, inline=False), key, range(12))
    assert pending(workspace) == 48
    assert state(workspace) == {"touches": [], "people": [], "scores": []}

    # The server stopped before processing; the next worker round (or restart) picks them up.
    assert process_tracking_backlog(workspace).processed == 48
    assert pending(workspace) == 0
    assert process_tracking_backlog(workspace).is_idle

    reference, ref_key = inline_workspace(tmp_path, clock)
    send(Tracker(reference), ref_key, range(12))
    expected = state(reference)
    reference.close()
    queued = state(workspace)
    assert queued == expected
    assert len(queued["touches"]) == 36  # identify calls are not touches
    # The batch's context (UTMs) and sentAt went through the queue with the events.
    assert {t[2] for t in queued["touches"]} == {"Paid Social", "Sales"}
    # Clock correction: the meeting happened (sentAt - originalTimestamp) = 10 s before receipt.
    assert max(t[6] for t in queued["touches"]) == clock.now() - timedelta(seconds=10)
    assert {p[1] for p in queued["people"]} >= {"lead"}
    assert all(domain is not None for _, _, domain, _ in queued["people"])


def test_processors_running_at_once_take_each_event_once(workspace: Workspace) -> None:
    key = admin.add_source(workspace, name="website").secret
    tracker = Tracker(workspace, inline=False)
    send(tracker, key, range(50))
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            Tracker(workspace, inline=False).process_backlog(chunk=30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with workspace.db.read() as conn:
        stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
        queued = tracking.count_pending(conn)
        per_event = conn.execute(
            select(touchpoints.c.event_id, func.count())
            .group_by(touchpoints.c.event_id)
            .having(func.count() > 1)
        ).all()
        touch_count = conn.execute(select(func.count()).select_from(touchpoints)).scalar_one()
        # Concurrent takers can interleave ids (SKIP LOCKED), splitting a visitor's events
        # between two processors: each creates the person, the second claim merges them.
        people_count = conn.execute(
            select(func.count()).select_from(people).where(people.c.merged_into_id.is_(None))
        ).scalar_one()
    assert (stored, queued) == (200, 0)
    assert per_event == []
    assert touch_count == 150
    assert people_count == 50


def test_a_chunk_another_processor_took_meanwhile_is_not_processed_again(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a processor reads its chunk before it takes the write lock; a second
    processor may take the same events in between. The first then processes only what is
    still queued when its transaction starts (on PostgreSQL the chunk is read in the
    transaction, its rows locked, and the second processor skips them)."""
    key = admin.add_source(workspace, name="website").secret
    send(Tracker(workspace, inline=False), key, range(5))
    first, second = Tracker(workspace, inline=False), Tracker(workspace, inline=False)
    read_chunk = Tracker._read_chunk
    took: list[int] = []

    def read_then_let_the_other_run(self: Tracker, conn: Any, *args: Any) -> Any:
        chunk = read_chunk(self, conn, *args)
        if self is first and not took:
            took.append(second.process_backlog())
        return chunk

    monkeypatch.setattr(Tracker, "_read_chunk", read_then_let_the_other_run)
    taken_by_first = first.process_pending()
    assert took[0] + taken_by_first == 20
    assert (took[0], taken_by_first) == ((20, 0) if workspace.db.single_writer else (0, 20))
    assert pending(workspace) == 0
    with workspace.db.read() as conn:
        touch_count = conn.execute(select(func.count()).select_from(touchpoints)).scalar_one()
    assert touch_count == 15  # once each: identify calls are not touches


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_processor_decides_on_a_persons_stage_after_another_writer_commits(
    workspace: Workspace,
) -> None:
    """Someone (a second processor, a rep through the API) makes a person an MQL while a
    processor works on that person's events: the processor waits for it, then sees the MQL,
    instead of deciding on the stage it read before and failing its chunk ("already mql")."""
    key = admin.add_source(workspace, name="website").secret
    identify = {"type": "identify", "messageId": "i", "userId": "u", "traits": {"email": "b@x.io"}}
    demo = {"type": "track", "messageId": "d", "userId": "u", "event": "Demo Requested"}
    send_items(Tracker(workspace), key, [identify])  # a lead, processed
    processor = Tracker(workspace, inline=False)
    send_items(processor, key, [demo])  # a fast-track event, queued
    with workspace.db.read() as conn:
        (person,) = conn.execute(select(people.c.id)).scalars()
    errors: list[BaseException] = []

    def process() -> None:
        try:
            processor.process_pending()
        except BaseException as exc:  # reported below
            errors.append(exc)

    with workspace.db.begin() as conn:
        move(change_in(workspace, conn, "test"), person, Stage.MQL, reason="by hand")
        thread = start_until_it_waits(workspace, process)
    thread.join(timeout=60)

    assert errors == []
    assert pending(workspace) == 0
    with workspace.db.read() as conn:
        moves = conn.execute(
            select(transitions.c.to_stage, transitions.c.reason).order_by(transitions.c.id)
        ).all()
    assert [tuple(m) for m in moves] == [("lead", "first known identity (identify)"),
                                         ("mql", "by hand")]  # fmt: skip


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_the_processor_keeps_postgres_statistics_fresh(workspace: Workspace) -> None:
    """Tables that grow from empty get planned as empty ones until analysed (autovacuum may
    lag or be off): the processor analyses them as they grow."""
    key = admin.add_source(workspace, name="website").secret
    tracker = Tracker(workspace, inline=False)
    send(tracker, key, range(260))  # 1,040 events
    assert tracker.process_backlog() == 1_040
    with workspace.db.read() as conn:
        analysed = conn.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL "
                "AND relname IN ('events', 'touchpoints', 'identities', 'people')"
            )
        ).all()
    assert sorted(r.relname for r in analysed) == ["events", "identities", "people", "touchpoints"]


def test_a_worker_round_gives_the_other_jobs_their_turn_under_a_backlog(
    workspace: Workspace,
) -> None:
    key = admin.add_source(workspace, name="website").secret
    send(Tracker(workspace, inline=False), key, range(600))  # 2,400 events: three chunks
    first = process_tracking_backlog(workspace, budget_s=0)  # time is up after one chunk
    assert (first.processed, first.more) == (1_000, True)
    assert "more are waiting" in first.describe()
    assert pending(workspace) == 1_400

    rounds: list[str] = []

    class Pauses(threading.Event):  # records the pauses between rounds instead of taking them
        taken: list[float | None] = []

        def wait(self, timeout: float | None = None) -> bool:
            self.taken.append(timeout)
            return self.is_set()

    stop = Pauses()

    def other_job(ws: Workspace) -> None:  # SLA checks, webhooks: they run every round
        rounds.append("other")
        if pending(ws) == 0:
            stop.set()

    def tracking_job(ws: Workspace) -> object:
        rounds.append("tracking")
        return process_tracking_backlog(ws, budget_s=0)

    Worker(workspace, [tracking_job, other_job]).run_forever(stop, interval_s=3600)
    assert rounds == ["tracking", "other"] * 2
    assert stop.taken == [0, 0]  # rounds that left events behind do not pause
    assert pending(workspace) == 0


def test_the_processor_pauses_only_when_a_chunk_comes_back_nearly_empty() -> None:
    """Under a steady stream the chunks are partly full: the processor takes the next at once
    instead of pausing and letting the queue grow; it pauses when less than a tenth came."""
    taken = [100, 40, 10, 9, 0, 100, 0]
    calls: list[tuple[str, int]] = []

    class Queue:
        def process_pending(self, limit: int) -> int:
            calls.append(("chunk", taken[0]))
            return taken.pop(0)

    class Stop:
        def is_set(self) -> bool:
            return not taken

        def set(self) -> None:
            raise AssertionError("not stopped here")

        def wait(self, timeout: float | None = None) -> bool:
            calls.append(("pause", int(timeout or 0)))
            return False

    drain_forever(Queue(), Stop(), chunk=100, poll_s=7)  # type: ignore[arg-type]
    assert calls == [
        ("chunk", 100), ("chunk", 40), ("chunk", 10), ("chunk", 9), ("pause", 7),
        ("chunk", 0), ("pause", 7), ("chunk", 100), ("chunk", 0), ("pause", 7),
    ]  # fmt: skip

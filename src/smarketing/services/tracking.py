"""Tracking: take Segment-spec calls in, store each once, resolve who they are, make touchpoints.

Two stages. **Accept**: a batch is validated and its events (deduplicated by the UNIQUE
(source, messageId) constraint) and failed events (with their reasons) commit in one
transaction with their entries in the processor's durable queue (`event_queue`); only then
does the API answer 200. **Process**: the queued events are resolved in chunks (people and
identities, account links, touchpoints, scores, MQLs: `tracking_effects`), each chunk one
transaction that also takes its events off the queue, so a crash at any point loses nothing
and processes nothing twice.

With `inline=True` (a process without a background processor: tests, `serve --no-worker`,
replays) both stages run in the request's one transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from smarketing.domain import credentials
from smarketing.domain.identity import normalize_email
from smarketing.domain.model import Source
from smarketing.errors import AuthenticationError, SmarketingError
from smarketing.ingest.segment import CallType, parse_event
from smarketing.playbook.schema import Playbook
from smarketing.services.tracking_commit import GroupCommit
from smarketing.services.tracking_effects import (
    ContentCache,
    Effects,
    PreparedEvents,
    prepare_events,
)
from smarketing.services.tracking_gate import QueueGate
from smarketing.services.tracking_rows import Parsed, event_row, str_or_none
from smarketing.services.workspace import Workspace
from smarketing.store import tracking, users
from smarketing.store.database import retryable

logger = logging.getLogger("smarketing.tracking")

Status = Literal["stored", "duplicate", "failed"]
RETRIES = 3
DEFAULT_CHUNK_EVENTS = 1_000
HANDOFF_LIMIT = 20_000


@dataclass(frozen=True, slots=True)
class EventResult:
    index: int
    message_id: str | None
    status: Status
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    results: list[EventResult]

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)


class Tracker:
    """The tracking use case for one workspace, with its small caches (sources, playbook,
    content ids)."""

    def __init__(self, ws: Workspace, *, inline: bool = True, hand_off: bool = False) -> None:
        """`inline`: each `ingest` also processes its events. `hand_off`: events accepted
        here are kept parsed in memory for `process_pending` of this same tracker (a
        processor thread), which then need not parse their payload again."""
        self.ws = ws
        self.inline = inline
        self.hand_off = hand_off and not inline
        self._sources: dict[str, Source] = {}
        self._playbook_hash: str | None = None
        self._playbook_version_id: int | None = None
        self._content = ContentCache()
        self._group = GroupCommit(ws.db)
        limit = ws.settings.max_queued_events
        self.gate = QueueGate(ws.db, limit) if limit and not inline else None
        """Backpressure on the queue (none when requests process their own events)."""
        # Events accepted here and not processed yet, parsed: the processor takes them from
        # memory instead of parsing their payload again (bounded; the store is the truth).
        self._handoff: dict[int, Parsed] = {}
        self._processed = 0
        self._analyze_at = 1_000
        self._backlog = False  # the last chunk was full: more are likely queued
        self._outcomes: Counter[Status] = Counter()
        self._outcomes_lock = threading.Lock()

    def source_for(self, write_key: str | None) -> Source:
        if not write_key:
            raise AuthenticationError(
                "missing write key",
                hint="send it as the HTTP Basic user name (empty password) or as `writeKey`",
            )
        digest = credentials.key_hash(write_key)
        source = self._sources.get(digest)
        if source is None:
            with self.ws.db.read() as conn:
                source = users.source_by_key_hash(conn, digest)
            if source is None:
                raise AuthenticationError(
                    "unknown write key", hint="create one with `smarketing sources add NAME`"
                )
            self._sources[digest] = source
        return source

    def _playbook(self) -> tuple[Playbook, int]:
        loaded = self.ws.playbook
        if loaded.content_hash != self._playbook_hash:
            from smarketing.services.playbooks import register

            self._playbook_version_id = register(self.ws, loaded, actor="tracking").id
            self._playbook_hash = loaded.content_hash
        assert self._playbook_version_id is not None
        return loaded.playbook, self._playbook_version_id

    def ingest(
        self,
        source: Source,
        items: Sequence[Any],
        *,
        received_at: datetime,
        call: CallType | None = None,
        sent_at: datetime | None = None,
        batch_context: Mapping[str, Any] | None = None,
        keep_failed: bool = True,
    ) -> BatchResult:
        """Store a batch; invalid items go to failed events (unless `keep_failed` is off, as
        when replaying them), valid ones are kept, and processed now when `inline`."""
        results: dict[int, EventResult] = {}
        parsed: list[Parsed] = []
        failed: list[dict[str, Any]] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            outcome = self._validate(source, item, received_at, call, sent_at, batch_context)
            if isinstance(outcome, EventResult):
                results[index] = outcome
                failed.append(
                    {
                        "source_id": source.id,
                        "received_at": received_at,
                        "reason": outcome.error,
                        "payload": outcome_payload(item),
                    }
                )
            elif outcome.event.message_id in seen:
                results[index] = EventResult(index, outcome.event.message_id, "duplicate")
            else:
                seen.add(outcome.event.message_id)
                outcome.index = index
                parsed.append(outcome)
        rows = [event_row(source.id, p) for p in parsed]
        failed = failed if keep_failed else []
        if self.inline:
            new_ids = self._store_and_apply(rows, failed, parsed, received_at)
        else:
            new_ids = self._group.store(rows, failed)
        for p in parsed:
            event_id = new_ids.get((source.id, p.event.message_id))
            results[p.index] = EventResult(
                p.index, p.event.message_id, "duplicate" if event_id is None else "stored"
            )
            if event_id is not None and self.hand_off and len(self._handoff) < HANDOFF_LIMIT:
                p.event_id = event_id
                self._handoff[event_id] = p
        batch = BatchResult([results[i] for i in sorted(results)])
        with self._outcomes_lock:
            self._outcomes.update(r.status for r in batch.results)
        return batch

    def outcome_counts(self) -> dict[Status, int]:
        """Events this tracker answered, by status, since it started (for `/metrics`)."""
        with self._outcomes_lock:
            return {status: self._outcomes[status] for status in ("stored", "duplicate", "failed")}

    def _validate(
        self,
        source: Source,
        item: Any,
        received_at: datetime,
        call: CallType | None,
        sent_at: datetime | None,
        batch_context: Mapping[str, Any] | None,
    ) -> Parsed | EventResult:
        max_bytes = self.ws.settings.max_event_bytes
        try:
            size = len(orjson.dumps(item, default=str))
            if size > max_bytes:
                raise SmarketingError(f"event is {size:,} bytes; the limit is {max_bytes:,}")
            event = parse_event(
                item,
                received_at=received_at,
                call=call,
                batch_context=batch_context,
                sent_at=sent_at,
            )
            email = normalize_email(event.email) if event.email else None
        except SmarketingError as exc:
            message_id = item.get("messageId") if isinstance(item, Mapping) else None
            return EventResult(0, str_or_none(message_id), "failed", str(exc))
        return Parsed(0, event, item, email)

    def _store_and_apply(
        self,
        rows: list[tuple[Any, ...]],
        failed: list[dict[str, Any]],
        parsed: list[Parsed],
        received_at: datetime,
    ) -> dict[tuple[int, str], int]:
        """Inline: events and what they change in one transaction."""
        playbook, version_id = self._playbook()
        for attempt in range(1, RETRIES + 1):
            effects: Effects | None = None
            try:
                with self.ws.db.begin() as conn:
                    tracking.insert_failed(conn, failed)
                    new_ids = tracking.insert_new_events(conn, rows, queue=False)
                    fresh = []
                    for p, row in zip(parsed, rows, strict=True):
                        event_id = new_ids.get((row[0], row[1]))
                        if event_id is not None:
                            p.event_id = event_id
                            fresh.append(p)
                    if fresh:
                        effects = Effects(conn, playbook, version_id, received_at, self._content)
                        effects.apply(prepare_events(fresh, playbook, version_id))
                break
            except DBAPIError as exc:  # a deadlock between two batches: run this one again
                if attempt == RETRIES or not retryable(exc):
                    raise
        if effects is not None:
            self._content.commit(effects.new_content)  # committed: safe for other threads
        return new_ids

    def process_pending(self, limit: int = DEFAULT_CHUNK_EVENTS) -> int:
        """Process up to `limit` queued events (oldest first) in one transaction; returns how
        many were taken. Events accepted by this process come parsed from memory; others are
        parsed again from their stored payload. One that no longer parses (it passed when
        accepted, so only after a code change) moves to failed events with its reason.

        On SQLite the chunk is read and parsed before the write transaction: the store has one
        writer at a time and the request path waits for it, so what needs no lock is done
        outside it; the transaction then takes off the queue those still on it (another
        processor may have taken some) and processes only them. On PostgreSQL the chunk is
        taken in the transaction (`FOR UPDATE SKIP LOCKED`: processors take disjoint chunks)."""
        if not self._backlog:  # a read first, so an idle processor takes no write lock
            with self.ws.db.read() as conn:
                if not tracking.has_pending(conn):
                    return 0
        playbook, version_id = self._playbook()
        now = self.ws.clock.now()
        early: _Chunk | None = None
        if self.ws.db.single_writer:
            with self.ws.db.read() as conn:
                early = self._read_chunk(conn, limit, playbook, version_id)
            if not early.ids:  # drained meanwhile: no write lock for nothing
                self._backlog = False
                return 0
        for attempt in range(1, RETRIES + 1):
            try:
                with self.ws.db.begin() as conn:
                    if early is None:
                        chunk = self._read_chunk(conn, limit, playbook, version_id)
                        tracking.dequeue(conn, chunk.ids)
                    else:
                        chunk = early.only(tracking.dequeue(conn, early.ids))
                    effects = Effects(conn, playbook, version_id, now, self._content)
                    if chunk.fresh.events:
                        effects.apply(chunk.fresh)
                    tracking.insert_failed(conn, list(chunk.failed.values()))
                break
            except DBAPIError as exc:
                if attempt == RETRIES or not retryable(exc):
                    raise
        for event_id in (early or chunk).ids:
            self._handoff.pop(event_id, None)
        self._content.commit(effects.new_content)
        taken = len(chunk.ids)
        self._processed += taken
        self._backlog = taken == limit
        if self._processed >= self._analyze_at:  # after 1k, 2k, 4k ... events, then every 1M
            self._analyze_at = min(2 * self._analyze_at, self._analyze_at + 1_000_000)
            with self.ws.db.begin() as conn:
                tracking.refresh_statistics(conn)
        return taken

    def _read_chunk(
        self, conn: Connection, limit: int, playbook: Playbook, version_id: int
    ) -> _Chunk:
        """Up to `limit` queued events, parsed (from memory when this process accepted them;
        nothing handed over, as in a processor process: payloads come with the rows) and
        prepared under the playbook in force (`prepare_events`)."""
        rows = tracking.pending_events(conn, limit, payloads=not self._handoff)
        known = {r.id: p for r in rows if (p := self._handoff.get(r.id)) is not None}
        stored = {r.id: r.payload for r in rows if r.payload is not None}
        stored.update(
            tracking.event_payloads(
                conn, [r.id for r in rows if r.id not in known and r.id not in stored]
            )
        )
        fresh, failed = _reparse([r for r in rows if r.id in stored], stored)
        fresh.extend(known.values())
        return _Chunk([r.id for r in rows], prepare_events(fresh, playbook, version_id), failed)

    def process_backlog(
        self, chunk: int = DEFAULT_CHUNK_EVENTS, *, deadline: float | None = None
    ) -> int:
        """Process queued events until none are left, or until the `time.monotonic()`
        `deadline` has passed after a chunk; returns how many."""
        done = 0
        while taken := self.process_pending(chunk):
            done += taken
            if deadline is not None and time.monotonic() >= deadline:
                break
        return done


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Queued events read for processing: their ids, those that parse (prepared), those that
    no longer do (as failed-event rows)."""

    ids: list[int]
    fresh: PreparedEvents
    failed: dict[int, dict[str, Any]]
    """Failed-event rows by event id."""

    def only(self, taken: set[int]) -> _Chunk:
        """The part still on the queue when the transaction took it."""
        if len(taken) == len(self.ids):
            return self
        return _Chunk(
            [i for i in self.ids if i in taken],
            self.fresh.only(taken),
            {i: f for i, f in self.failed.items() if i in taken},
        )


def outcome_payload(item: Any) -> str:
    """A failed item as stored for replay: its JSON text."""
    return orjson.dumps(item, default=str).decode()


def _reparse(
    rows: Sequence[Any], payloads: Mapping[int, Any]
) -> tuple[list[Parsed], dict[int, dict[str, Any]]]:
    """Stored payloads back to parsed events (the payload holds the batch context merged in);
    those that no longer parse as failed-event rows, by event id."""
    fresh: list[Parsed] = []
    failed: dict[int, dict[str, Any]] = {}
    for index, row in enumerate(rows):
        payload = payloads[row.id]
        try:
            event = parse_event(payload, received_at=row.received_at)
            email = normalize_email(event.email) if event.email else None
        except SmarketingError as exc:
            logger.warning("queued event %s no longer parses: %s", row.id, exc)
            failed[row.id] = {
                "source_id": row.source_id,
                "received_at": row.received_at,
                "reason": f"stored event {row.id} no longer parses: {exc}",
                "payload": outcome_payload(payload),
            }
            continue
        fresh.append(Parsed(index, event, payload, email, row.id))
    return fresh, failed

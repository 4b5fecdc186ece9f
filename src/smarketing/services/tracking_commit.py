"""Group commit for accepted tracking events: concurrent requests share one transaction.

Each request thread queues its rows and then takes the commit lock. The thread that gets it
(the leader) writes everything queued so far, its own rows and those of the threads that
arrived while the previous transaction was committing, in one transaction; the others find
their rows written when they get the lock and return. Nobody answers before the commit that
holds their rows. The cost of a commit (and of BEGIN, and of one statement) is then shared by
every request that waited for it, which is what lets a busy server take many small batches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError

from smarketing.store import tracking
from smarketing.store.database import Database, retryable

RETRIES = 3


@dataclass
class _Request:
    rows: Sequence[tuple[Any, ...]]
    failed: Sequence[dict[str, Any]]
    new_ids: dict[tuple[int, str], int] = field(default_factory=dict)
    error: BaseException | None = None
    done: bool = False


class GroupCommit:
    """`store(rows, failed)`: the events this request stored, by (source id, message id)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: list[_Request] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def store(
        self, rows: Sequence[tuple[Any, ...]], failed: Sequence[dict[str, Any]]
    ) -> dict[tuple[int, str], int]:
        request = _Request(rows, failed)
        with self._queue_lock:
            self._queue.append(request)
        with self._commit_lock:
            if not request.done:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._write(group)
        if request.error is not None:
            raise request.error
        return request.new_ids

    def _write(self, group: list[_Request]) -> None:
        try:
            for attempt in range(1, RETRIES + 1):
                try:
                    with self.db.begin() as conn:
                        tracking.insert_failed(conn, [f for r in group for f in r.failed])
                        new = tracking.insert_new_events(
                            conn, [row for r in group for row in r.rows], queue=True
                        )
                    break
                except DBAPIError as exc:
                    if attempt == RETRIES or not retryable(exc):
                        raise
            for request in group:  # the first request holding a new message id stored it
                for row in request.rows:
                    key = (row[0], row[1])
                    event_id = new.pop(key, None)
                    if event_id is not None:
                        request.new_ids[key] = event_id
        except BaseException as exc:
            for request in group:
                request.error = exc
        finally:
            for request in group:
                request.done = True

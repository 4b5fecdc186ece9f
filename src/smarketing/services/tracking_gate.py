"""Backpressure for the tracking API: a full processor queue answers 429, not a longer queue.

Accepting is cheaper than processing, so under a sustained overload the queue of accepted
events would grow without bound (and the processor would share the cores with an acceptor
that keeps taking more). Past `max_queued_events` waiting events, requests are refused with
429 and `Retry-After` before their body is read: nothing is stored, and the Segment and
RudderStack clients send the same batch again later (their message ids make a resend safe).
The queue is looked at no more than every `CHECK_INTERVAL_S` per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from smarketing.errors import TooManyRequestsError
from smarketing.store import tracking
from smarketing.store.database import Database

CHECK_INTERVAL_S = 0.25
RETRY_AFTER_S = 1


class QueueGate:
    """Whether the processor's queue is over `limit`, as of the last look at it."""

    def __init__(
        self, db: Database, limit: int, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.limit = limit
        self._now = now
        self._full = False
        self._checked_at = -float("inf")
        self._lock = threading.Lock()
        self.refused = 0
        """Requests this process refused (`admit` runs on the event loop's one thread)."""

    @property
    def stale(self) -> bool:
        """The last look is old: `refresh` (a database read) before `admit`."""
        return self._now() - self._checked_at >= CHECK_INTERVAL_S

    def refresh(self) -> None:
        if not self._lock.acquire(blocking=False):  # another request is looking already
            return
        try:
            if self.stale:
                with self.db.read() as conn:
                    self._full = tracking.queued_more_than(conn, self.limit)
                self._checked_at = self._now()
        finally:
            self._lock.release()

    def admit(self) -> None:
        """Raise `TooManyRequestsError` while the queue is over its limit."""
        if self._full:
            self.refused += 1
            raise TooManyRequestsError(
                f"more than {self.limit:,} tracking events are waiting to be processed; "
                f"nothing was stored",
                retry_after_s=RETRY_AFTER_S,
                hint=f"send the same request again after {RETRY_AFTER_S} s (Segment and "
                "RudderStack clients do); if it lasts, run another processor "
                "(`smarketing worker`) or raise SMARKETING_MAX_QUEUED_EVENTS",
            )

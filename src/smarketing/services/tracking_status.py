"""Is tracking keeping up? The processor's queue, how long its oldest event has waited, the
queue's limit (past it the API answers 429) and the failed events waiting for a replay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from smarketing.services.workspace import Workspace
from smarketing.store import tracking


@dataclass(frozen=True, slots=True)
class TrackingStatus:
    waiting: int
    """Accepted events the processor has not resolved yet."""
    oldest_waiting_received_at: datetime | None
    lag_s: float
    """How long the oldest waiting event has waited (0 with an empty queue)."""
    queue_limit: int
    """`max_queued_events`: past it the tracking API answers 429 (0: no limit)."""
    failed_to_replay: int

    @property
    def refusing(self) -> bool:
        return bool(self.queue_limit) and self.waiting > self.queue_limit

    def describe(self) -> str:
        limit = f"{self.queue_limit:,}" if self.queue_limit else "no limit"
        lines = [
            f"waiting for the processor: {self.waiting:,} events (limit {limit}); "
            f"oldest received {self.lag_s:,.1f} s ago",
            f"failed events to replay: {self.failed_to_replay:,}",
        ]
        if self.refusing:
            lines.append(
                "the tracking API is answering 429: run another processor "
                "(`smarketing worker`) or raise SMARKETING_MAX_QUEUED_EVENTS"
            )
        if self.failed_to_replay:
            lines.append(
                "see them with GET /api/failed-events; after a fix: "
                "`smarketing events replay-failed`"
            )
        return "\n".join(lines)


def tracking_status(ws: Workspace) -> TrackingStatus:
    with ws.db.read() as conn:
        waiting = tracking.count_pending(conn)
        oldest = tracking.oldest_pending_received_at(conn)
        failed = tracking.count_failed_to_replay(conn)
    lag = max(0.0, (ws.clock.now() - oldest).total_seconds()) if oldest is not None else 0.0
    return TrackingStatus(
        waiting=waiting,
        oldest_waiting_received_at=oldest,
        lag_s=lag,
        queue_limit=ws.settings.max_queued_events,
        failed_to_replay=failed,
    )

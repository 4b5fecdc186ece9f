"""Replaying failed tracking events after a fix: the ones that pass are stored once."""

from __future__ import annotations

import json
from dataclasses import dataclass

from smarketing.domain.model import Source
from smarketing.services.tracking import Tracker
from smarketing.services.workspace import Workspace
from smarketing.store import tracking


@dataclass(frozen=True, slots=True)
class ReplayResult:
    replayed: int
    still_failing: int
    reasons: list[str]


def replay_failed(ws: Workspace, *, limit: int = 10_000) -> ReplayResult:
    """Retry failed events (after a fix); those that pass are stored and marked replayed,
    the others stay with their (possibly new) reason."""
    tracker = Tracker(ws)
    with ws.db.read() as conn:
        rows = tracking.failed_to_replay(conn, limit)
    replayed, failing, reasons = 0, 0, []
    for row in rows:
        try:
            payload = json.loads(row.payload)
        except json.JSONDecodeError:
            payload = row.payload
        source = Source(id=row.source_id, name="", created_at=row.received_at)
        result = tracker.ingest(source, [payload], received_at=row.received_at, keep_failed=False)
        (only,) = result.results
        with ws.db.begin() as conn:
            if only.status == "failed":
                failing += 1
                reasons.append(f"failed event {row.id}: {only.error}")
                tracking.update_failed_reason(conn, row.id, only.error or "invalid event")
            else:
                replayed += 1
                tracking.mark_replayed(conn, [row.id], ws.clock.now())
    return ReplayResult(replayed, failing, reasons)

"""The audit log: who did what, when. Written in the transaction of the change itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from smarketing.store.tables import audit_log


def record(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        audit_log.insert().values(at=at, actor=actor, action=action, target=target, detail=detail)
    )

"""Stage moves as the playbook allows them, each recorded and announced (webhooks).

Everything here runs inside the caller's transaction (`conn`), so a move, its transition row
and its outbox events commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from smarketing.domain.lifecycle import check_transition
from smarketing.domain.stages import Stage
from smarketing.playbook.schema import Playbook
from smarketing.services import webhooks
from smarketing.services.workspace import Workspace
from smarketing.store import identity, playbooks


@dataclass(frozen=True, slots=True)
class Change:
    """The context every lifecycle change is made in."""

    conn: Connection
    playbook: Playbook
    version_id: int | None
    now: datetime
    actor: str


def change_in(ws: Workspace, conn: Connection, actor: str) -> Change:
    """A `Change` on an open transaction, under the workspace's current playbook version
    (registered on the same connection: never a second transaction)."""
    loaded = ws.playbook
    now = ws.clock.now()
    version = playbooks.register_version(
        conn, content_hash=loaded.content_hash, text=loaded.text, now=now, actor=actor
    )
    return Change(conn=conn, playbook=loaded.playbook, version_id=version.id, now=now, actor=actor)


def move(
    c: Change, person_id: int, new: Stage, *, reason: str, at: datetime | None = None
) -> Stage | None:
    """Move a person to `new` if the playbook allows it (else `ValidationFailed` naming the
    rule); returns the stage they had."""
    old = identity.stage_of(c.conn, person_id)
    check_transition(
        old,
        new,
        enabled=c.playbook.enabled_stages,
        allow_backward=frozenset(c.playbook.lifecycle.allow_backward),
    )
    when = at or c.now
    identity.record_transition(
        c.conn,
        person_id=person_id,
        old=old,
        new=new,
        at=when,
        actor=c.actor,
        reason=reason,
        playbook_version_id=c.version_id,
        now=c.now,
    )
    payload: dict[str, Any] = {
        "person_id": person_id,
        "from": old.value if old else None,
        "to": new.value,
        "at": when.isoformat(),
        "actor": c.actor,
        "reason": reason,
    }
    webhooks.emit(c.conn, "person.stage_changed", payload, c.now)
    if new is Stage.MQL:
        webhooks.emit(c.conn, "mql.created", payload, c.now)
    return old


def move_if_allowed(c: Change, person_id: int, new: Stage, *, reason: str) -> bool:
    """Like `move`, but a move the playbook forbids (or a no-op) is skipped, not an error:
    for automatic moves such as 'customer when a deal is won' on someone already further."""
    from smarketing.domain.lifecycle import transition_problem

    old = identity.stage_of(c.conn, person_id)
    if transition_problem(
        old,
        new,
        enabled=c.playbook.enabled_stages,
        allow_backward=frozenset(c.playbook.lifecycle.allow_backward),
    ):
        return False
    move(c, person_id, new, reason=reason)
    return True

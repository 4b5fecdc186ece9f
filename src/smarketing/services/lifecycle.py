"""Stage moves as the playbook allows them, each recorded and announced (webhooks).

Everything here runs inside the caller's transaction (`conn`), so a move, its transition row
and its outbox events commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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
    return move_many(c, [(person_id, new, reason, at)])[0]


def move_many(
    c: Change, moves: Sequence[tuple[int, Stage, str, datetime | None]]
) -> list[Stage | None]:
    """`move` for distinct people, each (person id, new stage, reason, at), in a few
    statements: all or none (the first move the playbook forbids raises `ValidationFailed`
    before anything is written). Returns the stages they had, in order."""
    states = identity.people_state(c.conn, [person_id for person_id, *_ in moves])
    allow_backward = frozenset(c.playbook.lifecycle.allow_backward)
    changes = []
    for person_id, new, reason, at in moves:
        state = states.get(person_id)
        old = Stage(state.stage) if state is not None and state.stage else None
        check_transition(old, new, enabled=c.playbook.enabled_stages, allow_backward=allow_backward)
        changes.append(identity.StageChange(person_id, old, new, at or c.now, reason))
    identity.record_transitions(
        c.conn, changes, actor=c.actor, playbook_version_id=c.version_id, now=c.now
    )
    payloads = [
        {
            "person_id": ch.person_id,
            "from": ch.old.value if ch.old else None,
            "to": ch.new.value,
            "at": ch.at.isoformat(),
            "actor": c.actor,
            "reason": ch.reason,
        }
        for ch in changes
    ]
    webhooks.emit_many(c.conn, "person.stage_changed", payloads, c.now)
    mqls = [p for p, ch in zip(payloads, changes, strict=True) if ch.new is Stage.MQL]
    webhooks.emit_many(c.conn, "mql.created", mqls, c.now)
    return [ch.old for ch in changes]


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

"""Hand-offs: an MQL is routed to a rep with SLA clocks; sales accepts, rejects (with a reason
from the playbook) or qualifies it; rejected leads recycle back to nurture; breaches escalate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection

from smarketing.domain.lifecycle import OPEN_STATUSES, HandoffStatus, missing_qualification
from smarketing.domain.model import Handoff
from smarketing.domain.routing import any_eligible
from smarketing.domain.stages import Stage
from smarketing.domain.touches import SALES_CHANNEL, TouchKind
from smarketing.errors import NotFoundError, ValidationFailed
from smarketing.services import webhooks
from smarketing.services.access import Actor, require_seller, team_of
from smarketing.services.assignment import Assigner, rep_loads
from smarketing.services.lifecycle import Change, change_in, move, move_if_allowed, move_many
from smarketing.services.workspace import Workspace
from smarketing.store import handoffs as store
from smarketing.store import identity, tracking, users
from smarketing.store import people as people_store
from smarketing.store.pagination import Page


class NewMql(NamedTuple):
    person_id: int
    reason: str
    fast_track: bool
    at: datetime


def make_mqls(c: Change, mqls: Sequence[NewMql]) -> list[str | None]:
    """Make each person (distinct) an MQL and hand them to a rep by the routing rules. When no
    rep can take a lead, its hand-off waits (`route_waiting` gives it a rep later),
    `handoff.waiting` says why, and so does the answer (None for a lead routed): routing
    trouble never loses an MQL. The moves and hand-offs are written a batch at a time; the
    routing goes lead by lead, in order (`assignment`)."""
    if not mqls:
        return []
    move_many(c, [(m.person_id, Stage.MQL, m.reason, m.at) for m in mqls])
    ids = store.create_waiting(c.conn, [(m.person_id, m.fast_track, m.at) for m in mqls])
    records = people_store.person_records(c.conn, [m.person_id for m in mqls])
    assigner = Assigner(c)
    answers: list[str | None] = []
    waiting: list[dict[str, Any]] = []
    for m, handoff_id in zip(mqls, ids, strict=True):
        try:
            decision = assigner.choose(records[m.person_id])
        except ValidationFailed as exc:
            waiting.append(
                {
                    "handoff_id": handoff_id,
                    "person_id": m.person_id,
                    "fast_track": m.fast_track,
                    "routing_reason": exc.message,
                }
            )
            answers.append(exc.message)
            continue
        assigner.assign(handoff_id, m.person_id, decision, fast_track=m.fast_track, at=m.at)
        answers.append(None)
    webhooks.emit_many(c.conn, "handoff.waiting", waiting, c.now)
    return answers


def route_waiting(ws: Workspace, *, limit: int = 100) -> int:
    """Give waiting hand-offs to reps now that one can take them (a rep came back, a cap
    freed up, the rules changed), oldest first, up to `limit` a round; their SLA clocks start
    now. A worker job: returns how many it routed. Nothing waiting costs one read, not a write
    transaction (the worker runs this every few seconds beside tracking); nor does a queue
    that no rep can take from (measured: 100 failed routings held the SQLite writer for
    ~140 ms a round)."""
    max_open = ws.playbook.playbook.routing.max_open_per_rep
    with ws.db.read() as conn:
        if not store.waiting(conn, 1) or not any_eligible(rep_loads(conn), max_open):
            return 0
    routed = 0
    with ws.db.begin() as conn:
        c = change_in(ws, conn, "routing")
        assigner = Assigner(c)
        queue = store.waiting(conn, limit)
        # Their people first, then the routing lock (at the first choice), the order the
        # tracking processor takes them in: a processor rescoring one of them waits or is
        # waited for, never both.
        identity.lock_people(conn, [h.person_id for h in queue])
        records = people_store.person_records(conn, [h.person_id for h in queue])
        for handoff in queue:
            try:
                decision = assigner.choose(records[handoff.person_id])
            except ValidationFailed:
                continue
            assigner.assign(
                handoff.id, handoff.person_id, decision, fast_track=handoff.fast_track, at=c.now
            )
            routed += 1
    return routed


def _visible(conn: Connection, actor: Actor, handoff_id: int, *, act: bool) -> Handoff:
    handoff = store.get(conn, handoff_id)
    team = team_of(conn, actor)
    if handoff is None or (team is not None and handoff.owner_id not in team):
        raise NotFoundError(f"no hand-off {handoff_id}", hint="list yours with GET /api/handoffs")
    if act:
        require_seller(actor, "hand-offs")
    return handoff


def list_handoffs(
    ws: Workspace, actor: Actor, f: store.HandoffFilter, *, cursor: str | None, limit: int
) -> Page[Handoff]:
    with ws.db.read() as conn:
        team = team_of(conn, actor)
        if team is not None:
            allowed = team if f.owner_ids is None else f.owner_ids & team
            f = store.HandoffFilter(status=f.status, owner_ids=allowed, breached=f.breached)
        return store.list_page(conn, f, cursor=cursor, limit=limit)


def get_handoff(ws: Workspace, actor: Actor, handoff_id: int) -> Handoff:
    with ws.db.read() as conn:
        return _visible(conn, actor, handoff_id, act=False)


def _require_status(handoff: Handoff, allowed: set[HandoffStatus], action: str) -> None:
    if HandoffStatus(handoff.status) not in allowed:
        raise ValidationFailed(
            f"hand-off {handoff.id} is {handoff.status}; only "
            f"{' or '.join(sorted(s.value for s in allowed))} hand-offs can be {action}"
        )


def _first_touch(c: Change, handoff: Handoff) -> None:
    if handoff.first_touched_at is None:
        store.update_handoff(c.conn, handoff.id, {"first_touched_at": c.now}, c.now)
        store.stop_clock(c.conn, handoff.id, "first_touch", c.now)


def accept(ws: Workspace, actor: Actor, handoff_id: int) -> Handoff:
    with ws.db.begin() as conn:
        handoff = _visible(conn, actor, handoff_id, act=True)
        _require_status(handoff, {HandoffStatus.ASSIGNED}, "accepted")
        c = change_in(ws, conn, actor.name)
        _first_touch(c, handoff)
        store.update_handoff(conn, handoff.id, {"status": "accepted", "accepted_at": c.now}, c.now)
        store.stop_clock(conn, handoff.id, "accept", c.now)
        move_if_allowed(c, handoff.person_id, Stage.SAL, reason="accepted by sales")
        webhooks.emit(
            conn,
            "handoff.accepted",
            {"handoff_id": handoff.id, "person_id": handoff.person_id},
            c.now,
        )
        result = store.get(conn, handoff.id)
    assert result is not None
    return result


def reject(
    ws: Workspace, actor: Actor, handoff_id: int, *, reason: str | None, note: str | None = None
) -> Handoff:
    pb = ws.playbook.playbook
    known = [r.id for r in pb.reject_reasons]
    if not reason:
        raise ValidationFailed("a reject needs a reason", hint=f"use one of: {', '.join(known)}")
    chosen = pb.reject_reason(reason)
    if chosen is None:
        raise ValidationFailed(
            f"unknown reject reason {reason!r}",
            hint=f"the playbook's reasons are: {', '.join(known)}",
        )
    with ws.db.begin() as conn:
        handoff = _visible(conn, actor, handoff_id, act=True)
        _require_status(handoff, {HandoffStatus.ASSIGNED, HandoffStatus.ACCEPTED}, "rejected")
        c = change_in(ws, conn, actor.name)
        _first_touch(c, handoff)
        status = HandoffStatus.RECYCLED if chosen.recycle else HandoffStatus.REJECTED
        store.update_handoff(
            conn,
            handoff.id,
            {
                "status": status.value,
                "rejected_at": c.now,
                "reject_reason": chosen.id,
                "note": note,
            },
            c.now,
        )
        store.stop_clock(conn, handoff.id, "accept", c.now)
        target = Stage.RECYCLED if chosen.recycle else Stage.DISQUALIFIED
        move(c, handoff.person_id, target, reason=f"rejected: {chosen.id}")
        webhooks.emit(
            conn,
            "handoff.rejected",
            {
                "handoff_id": handoff.id,
                "person_id": handoff.person_id,
                "reason": chosen.id,
                "reason_label": chosen.label,
                "note": note,
                "recycled": chosen.recycle,
            },
            c.now,
        )
        result = store.get(conn, handoff.id)
    assert result is not None
    return result


def qualify(ws: Workspace, actor: Actor, handoff_id: int, fields: dict[str, Any]) -> Handoff:
    required = ws.playbook.playbook.sql.required_fields
    missing = missing_qualification(fields, required)
    if missing:
        raise ValidationFailed(
            f"qualification is missing {', '.join(missing)}",
            hint=f"the playbook's SQL definition needs: {', '.join(required)}",
        )
    with ws.db.begin() as conn:
        handoff = _visible(conn, actor, handoff_id, act=True)
        _require_status(handoff, {HandoffStatus.ACCEPTED}, "qualified")
        c = change_in(ws, conn, actor.name)
        store.update_handoff(
            conn,
            handoff.id,
            {"status": "qualified", "qualification": {k: str(fields[k]) for k in fields}},
            c.now,
        )
        move(c, handoff.person_id, Stage.SQL, reason="qualified: " + ", ".join(required))
        webhooks.emit(
            conn,
            "handoff.qualified",
            {"handoff_id": handoff.id, "person_id": handoff.person_id},
            c.now,
        )
        result = store.get(conn, handoff.id)
    assert result is not None
    return result


def log_activity(
    ws: Workspace, actor: Actor, handoff_id: int, *, kind: TouchKind, name: str | None = None
) -> Handoff:
    """A sales activity (call, meeting, email) on a hand-off: a sales touchpoint, and the
    first one stops the first-touch clock."""
    if kind not in (TouchKind.CALL, TouchKind.MEETING, TouchKind.SALES_EMAIL):
        raise ValidationFailed(
            f"{kind.value} is not a sales activity", hint="use call, meeting or sales_email"
        )
    with ws.db.begin() as conn:
        handoff = _visible(conn, actor, handoff_id, act=True)
        c = change_in(ws, conn, actor.name)
        _first_touch(c, handoff)
        record = people_store.person_record(conn, handoff.person_id)
        tracking.insert_touchpoints(
            conn,
            [
                {
                    "person_id": handoff.person_id,
                    "anonymous_id": None,
                    "account_id": record["person"].get("account_id"),
                    "event_id": None,
                    "occurred_at": c.now,
                    "kind": kind.value,
                    "name": name or kind.value.replace("_", " "),
                    "channel": SALES_CHANNEL,
                    "ruleset_version": "sales",
                    "source": None,
                    "medium": None,
                    "campaign": None,
                    "campaign_id": None,
                    "content_id": None,
                    "team": "sales",
                    "url": None,
                    "referrer": None,
                    "properties": {"handoff_id": handoff.id},
                }
            ],
        )
        result = store.get(conn, handoff.id)
    assert result is not None
    return result


def check_sla(ws: Workspace) -> int:
    """Mark clocks past due as breached, escalate to the rep's manager, announce it.
    A worker job: returns how many breaches it recorded."""
    pb = ws.playbook.playbook
    now = ws.clock.now()
    count = 0
    with ws.db.begin() as conn:
        managers = {u.id: u.manager_id for u in users.list_users(conn)}
        for row in store.due_unbreached(conn, now):
            escalate = managers.get(row.owner_id) if pb.sla.escalate_to_manager else None
            if store.mark_breached(conn, row.id, now, escalate):
                count += 1
                webhooks.emit(
                    conn,
                    "sla.breached",
                    {
                        "handoff_id": row.handoff_id,
                        "person_id": row.person_id,
                        "clock": row.kind,
                        "due_at": row.due_at.isoformat(),
                        "owner_id": row.owner_id,
                        "escalated_to": escalate,
                    },
                    now,
                )
    return count


def recycle_due(ws: Workspace) -> int:
    """Recycled people whose wait (`recycle.after_days`) is over go back to nurture."""
    pb = ws.playbook.playbook
    now = ws.clock.now()
    moved = 0
    with ws.db.begin() as conn:
        c = change_in(ws, conn, "recycle")
        for row in store.recycled_before(conn, now - timedelta(days=pb.recycle.after_days)):
            from smarketing.store import identity

            if identity.stage_of(conn, row.person_id) is Stage.RECYCLED and move_if_allowed(
                c,
                row.person_id,
                pb.recycle.to_stage,
                reason=f"recycled {pb.recycle.after_days} days ago: back to nurture",
            ):
                moved += 1
    return moved


__all__ = ["OPEN_STATUSES", "Actor", "make_mqls", "team_of"]

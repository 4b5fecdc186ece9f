"""Giving hand-offs to reps: the playbook's routing rules applied to the store, in one transaction.

An `Assigner` reads the sales reps, the hand-offs each holds open and the round-robin cursor
once, and keeps them current in memory as it assigns. A batch of MQLs (the tracking processor
makes hundreds per chunk under load) then costs no routing queries per lead (the callers read
the leads' records together: `people.person_records`). Read per lead (with a savepoint around
each routing) they were about a sixth of the processor's time late in
`bench/ingest.py --seconds 60` on PostgreSQL, and counting the open hand-offs grew with the
table. Before its first read it takes the routing lock (`store.handoffs.lock_routing`): on
PostgreSQL two transactions assigning at once take turns, so the second reads the hand-offs
the first gave and a rep's cap (`routing.max_open_per_rep`) holds. Within the transaction the
numbers kept are then those a query would give.

`choose` only reads and decides (`ValidationFailed` naming each rule's reason when no rep can
take the lead); `assign` writes. A lead no rep can take has written nothing to undo, so no
savepoint is needed around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from smarketing.domain.business_hours import BusinessCalendar, first_touch_due, sla_due
from smarketing.domain.routing import RepLoad, RoutingDecision, route
from smarketing.domain.stages import Role
from smarketing.playbook.conditions import evaluate
from smarketing.services import webhooks
from smarketing.services.lifecycle import Change
from smarketing.store import handoffs as store
from smarketing.store import identity, users


def rep_loads(conn: Connection) -> list[RepLoad]:
    """The sales reps and the hand-offs each holds open."""
    open_counts = store.open_counts(conn)
    return [
        RepLoad.of(u, open_counts.get(u.id, 0))
        for u in users.list_users(conn)
        if u.role is Role.SALES
    ]


class Assigner:
    """Routes and assigns hand-offs within the transaction of `c`, one after the other."""

    def __init__(self, c: Change) -> None:
        self.c = c
        self._reps: list[RepLoad] | None = None
        self._cursor: int | None = None

    def choose(self, record: Mapping[str, Mapping[str, Any]]) -> RoutingDecision:
        """The rep the routing rules give a lead now (reads only); `record` is the lead's
        `people.person_record` (read for a batch at once: `people.person_records`)."""
        c = self.c
        rules = c.playbook.routing.rules
        if self._reps is None:
            store.lock_routing(c.conn)  # concurrent assigners take turns (PostgreSQL)
            self._reps = rep_loads(c.conn)
        if self._cursor is None:
            rotation = [r.id for r in rules if r.kind != "account_owner"]
            self._cursor = store.last_owner_by_rules(c.conn, rotation)
        return route(
            record,
            record["account"].get("owner_id"),
            rules,
            self._reps,
            c.playbook.routing.max_open_per_rep,
            self._cursor,
            matches=evaluate,
        )

    def assign(
        self,
        handoff_id: int,
        person_id: int,
        decision: RoutingDecision,
        *,
        fast_track: bool,
        at: datetime,
    ) -> None:
        """Give the hand-off to the chosen rep from `at`, start its SLA clocks, make the rep
        the person's owner and say so (`handoff.assigned`)."""
        c = self.c
        pb = c.playbook
        calendar = BusinessCalendar.from_playbook(pb)
        clocks = [
            ("first_touch", first_touch_due(calendar, at, pb.sla, fast_track=fast_track)),
            ("accept", sla_due(calendar, at, hours=pb.sla.accept_within_hours)),
        ]
        store.assign(
            c.conn,
            handoff_id,
            owner_id=decision.rep_id,
            rule_id=decision.rule_id,
            at=at,
            clocks=clocks,
        )
        identity.update_person(c.conn, person_id, {"owner_id": decision.rep_id}, c.now)
        webhooks.emit(
            c.conn,
            "handoff.assigned",
            {
                "handoff_id": handoff_id,
                "person_id": person_id,
                "owner_id": decision.rep_id,
                "rule_id": decision.rule_id,
                "routing_reason": decision.reason,
                "fast_track": fast_track,
                "due": {k: d.isoformat() for k, d in clocks},
            },
            c.now,
        )
        if self._reps is not None:
            self._reps = [
                replace(r, open_handoffs=r.open_handoffs + 1) if r.id == decision.rep_id else r
                for r in self._reps
            ]
        self._cursor = decision.next_rr_cursor

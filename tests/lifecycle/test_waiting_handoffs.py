"""An MQL that no rep can take waits in the queue, and reaches a rep as soon as one can."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from smarketing.domain.clock import FrozenClock
from smarketing.services import admin, handoffs
from smarketing.services.lifecycle import change_in
from smarketing.services.worker import default_jobs
from smarketing.services.workspace import Workspace
from smarketing.store import identity
from smarketing.store.tables import handoffs as handoffs_table
from tests.lifecycle.conftest import Receiver, Team, bearer
from tests.lifecycle.test_journeys import deliver, demo_request
from tests.postgres_locks import start_until_it_waits


def test_waiting_mql_is_routed_when_a_rep_is_back(
    api: TestClient, workspace: Workspace, team: Team, receiver: Receiver, clock: FrozenClock
) -> None:
    admin.set_active(workspace, "rep@acme.example", active=False)  # nobody can take a lead
    person = demo_request(api, team)

    (waiting,) = api.get(
        "/api/handoffs", params={"status": "waiting"}, headers=bearer(team.admin_key)
    ).json()["data"]
    assert waiting["person_id"] == person
    assert waiting["owner_id"] is None
    assert waiting["fast_track"] is True
    assert waiting["clocks"] == []  # no rep, no clock: the SLA binds a rep
    person_row = api.get(f"/api/people/{person}", headers=bearer(team.admin_key)).json()
    assert person_row["stage"] == "mql"

    assert handoffs.route_waiting(workspace) == 0  # still nobody
    clock.advance(hours=3)
    admin.set_active(workspace, "rep@acme.example", active=True)
    assert handoffs.route_waiting in default_jobs()
    assert handoffs.route_waiting(workspace) == 1
    assert handoffs.route_waiting(workspace) == 0

    (handoff,) = api.get("/api/handoffs", headers=bearer(team.rep_key)).json()["data"]
    assert handoff["id"] == waiting["id"]
    assert (handoff["status"], handoff["owner_id"]) == ("assigned", team.rep_id)
    assert handoff["fast_track"] is True
    assert handoff["rule_id"] == "round-robin"
    assert handoff["assigned_at"] == "2026-01-05T12:00:00Z"  # when a rep got it
    clocks = {c["kind"]: c["started_at"] for c in handoff["clocks"]}
    assert clocks == {"first_touch": "2026-01-05T12:00:00Z", "accept": "2026-01-05T12:00:00Z"}
    owner = api.get(f"/api/people/{person}", headers=bearer(team.admin_key)).json()["owner_id"]
    assert owner == team.rep_id

    deliver(workspace)
    assert receiver.rejected == []
    (assigned,) = [r for r in receiver.received if r["type"] == "handoff.assigned"]
    assert assigned["data"]["owner_id"] == team.rep_id
    (queued,) = [r for r in receiver.received if r["type"] == "handoff.waiting"]
    assert "no rep can take this lead" in queued["data"]["routing_reason"]
    # deliveries go out in parallel, so compare when each happened, not when it arrived
    assert queued["timestamp"] < assigned["timestamp"]


def test_accepting_a_waiting_handoff_is_refused(
    api: TestClient, workspace: Workspace, team: Team
) -> None:
    admin.set_active(workspace, "rep@acme.example", active=False)
    demo_request(api, team)
    (waiting,) = api.get(
        "/api/handoffs", params={"status": "waiting"}, headers=bearer(team.admin_key)
    ).json()["data"]
    answer = api.post(f"/api/handoffs/{waiting['id']}/accept", headers=bearer(team.rep_key))
    assert answer.status_code in (404, 422), answer.text  # not the rep's, and not assigned


def test_rotation_continues_after_the_latest_assignment_not_the_latest_handoff(
    api: TestClient, workspace: Workspace, team: Team, clock: FrozenClock
) -> None:
    """A waiting hand-off routed late takes its turn in the rotation like any other: the
    next lead goes to the rep after the one who got it, not after the owner of the newest
    hand-off."""
    admin.set_active(workspace, "rep@acme.example", active=False)
    first = demo_request(api, team, 1)  # waits: nobody can take it
    clock.advance(hours=1)
    admin.set_active(workspace, "rep@acme.example", active=True)
    second = demo_request(api, team, 2)  # the only rep takes it at once
    clock.advance(hours=1)
    admin.set_active(workspace, "other@acme.example", active=True)
    assert handoffs.route_waiting(workspace) == 1  # `first`, to the rep after `rep`
    clock.advance(hours=1)
    third = demo_request(api, team, 3)

    owners = {
        h["person_id"]: h["owner_id"]
        for h in api.get("/api/handoffs", headers=bearer(team.admin_key)).json()["data"]
    }
    assert owners[second] == team.rep_id
    assert owners[first] == team.other_rep_id
    assert owners[third] == team.rep_id  # the turn after `other`, who was assigned last


def test_mqls_made_together_take_turns(api: TestClient, workspace: Workspace, team: Team) -> None:
    """One batch, one processing transaction, four MQLs: the rotation moves on with each one
    (the routing state is read once per batch and kept current in memory)."""
    admin.set_active(workspace, "other@acme.example", active=True)
    batch = []
    for n in range(1, 5):
        batch += [
            {"type": "identify", "messageId": f"i{n}", "userId": f"u{n}",
             "traits": {"email": f"buyer{n}@firm{n}.example"}},
            {"type": "track", "messageId": f"t{n}", "userId": f"u{n}", "event": "Demo Requested"},
        ]  # fmt: skip
    answer = api.post("/v1/batch", json={"batch": batch}, auth=(team.write_key, ""))
    assert answer.json()["stored"] == 8

    handoffs_made = api.get("/api/handoffs", headers=bearer(team.admin_key)).json()["data"]
    owners = [h["owner_id"] for h in sorted(handoffs_made, key=lambda h: h["id"])]
    assert len(owners) == 4
    assert owners[0::2] == [owners[0]] * 2
    assert owners[1::2] == [owners[1]] * 2
    assert {owners[0], owners[1]} == {team.rep_id, team.other_rep_id}


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_transactions_routing_at_once_keep_a_reps_cap(workspace: Workspace, team: Team) -> None:
    """Two PostgreSQL processors make MQLs at the same time: the second routes only after
    the first commits, so it sees the hand-off the first gave and the rep's cap holds."""
    now = workspace.clock.now()
    with workspace.db.begin() as conn:
        first, second = identity.create_people(conn, [now, now], now)
        change_in(workspace, conn, "test")  # the playbook version both will use, registered

    def one_mql(conn: Connection, person: int) -> str | None:
        c = change_in(workspace, conn, "test")
        routing = c.playbook.routing.model_copy(update={"max_open_per_rep": 1})
        c = replace(c, playbook=c.playbook.model_copy(update={"routing": routing}))
        (answer,) = handoffs.make_mqls(c, [handoffs.NewMql(person, "score", False, now)])
        return answer

    answers: list[str | None] = []

    def concurrently() -> None:
        with workspace.db.begin() as conn:
            answers.append(one_mql(conn, second))

    with workspace.db.begin() as conn:
        assert one_mql(conn, first) is None  # given to the rep, not committed yet
        other = start_until_it_waits(workspace, concurrently, wait_event="advisory")
    other.join(timeout=60)

    (answer,) = answers
    assert answer is not None
    assert "no rep can take this lead" in answer
    with workspace.db.read() as conn:
        rows = conn.execute(select(handoffs_table.c.person_id, handoffs_table.c.owner_id))
        owners = dict(rows.all())
    assert owners == {first: team.rep_id, second: None}

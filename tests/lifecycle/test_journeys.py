"""The agreement at work, end to end: events -> MQL -> hand-off -> SLA -> feedback -> deal."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from smarketing.domain.clock import FrozenClock
from smarketing.services import handoffs, webhooks
from smarketing.services.workspace import Workspace
from smarketing.store.tables import people, transitions
from tests.lifecycle.conftest import Receiver, Team, bearer


def demo_request(api: TestClient, team: Team, n: int = 1) -> int:
    """A visitor reads a post, identifies, then requests a demo (fast track to MQL)."""
    batch = [
        {
            "type": "page",
            "messageId": f"p{n}",
            "anonymousId": f"a{n}",
            "properties": {"url": "https://acme.example/blog/lead-scoring"},
        },
        {
            "type": "identify",
            "messageId": f"i{n}",
            "anonymousId": f"a{n}",
            "userId": f"u{n}",
            "traits": {"email": f"buyer{n}@globex.example", "title": "VP Marketing"},
        },
        {"type": "track", "messageId": f"t{n}", "userId": f"u{n}", "event": "Demo Requested"},
    ]
    answer = api.post("/v1/batch", json={"batch": batch}, auth=(team.write_key, ""))
    assert answer.json()["stored"] == 3
    people_page = api.get(
        "/api/people", params={"email": f"buyer{n}@globex.example"}, headers=bearer(team.admin_key)
    ).json()
    return int(people_page["data"][0]["id"])


def history(ws: Workspace, person_id: int) -> list[tuple[str | None, str]]:
    with ws.db.read() as conn:
        rows = conn.execute(
            select(transitions.c.from_stage, transitions.c.to_stage)
            .where(transitions.c.person_id == person_id)
            .order_by(transitions.c.id)
        )
        return [(r[0], r[1]) for r in rows]


def deliver(ws: Workspace) -> None:
    for _ in range(3):
        webhooks.dispatch_and_deliver(ws)


def test_mql_breach_reject_recycle(
    api: TestClient, workspace: Workspace, team: Team, receiver: Receiver, clock: FrozenClock
) -> None:
    person = demo_request(api, team)
    (handoff,) = api.get("/api/handoffs", headers=bearer(team.rep_key)).json()["data"]
    assert handoff["owner_id"] == team.rep_id
    assert handoff["fast_track"] is True
    assert handoff["rule_id"] == "round-robin"
    clocks = {c["kind"]: c for c in handoff["clocks"]}
    assert clocks["first_touch"]["due_at"] == "2026-01-05T09:15:00Z"

    clock.advance(hours=1)
    assert handoffs.check_sla(workspace) == 1
    assert handoffs.check_sla(workspace) == 0
    breached = api.get("/api/handoffs", params={"breached": True}, headers=bearer(team.rep_key))
    assert [h["id"] for h in breached.json()["data"]] == [handoff["id"]]
    (late,) = [c for c in breached.json()["data"][0]["clocks"] if c["breached_at"]]
    assert late["escalated_to_id"] == team.manager_id

    deliver(workspace)
    assert receiver.rejected == []
    assert sorted(receiver.types()) == sorted(
        [
            "person.stage_changed",
            "person.stage_changed",
            "mql.created",
            "handoff.assigned",
            "sla.breached",
        ]
    )

    url = f"/api/handoffs/{handoff['id']}/reject"
    missing = api.post(url, json={}, headers=bearer(team.rep_key))
    assert missing.status_code == 422
    assert "a reject needs a reason" in missing.json()["detail"]
    unknown = api.post(url, json={"reason": "too-expensive"}, headers=bearer(team.rep_key))
    assert unknown.status_code == 422
    assert "no-budget" in unknown.json()["hint"]
    stranger = api.post(url, json={"reason": "no-budget"}, headers=bearer(team.other_key))
    assert stranger.status_code == 404
    done = api.post(
        url, json={"reason": "no-budget", "note": "next year"}, headers=bearer(team.rep_key)
    )
    assert done.status_code == 200
    assert done.json()["status"] == "recycled"
    assert history(workspace, person) == [(None, "lead"), ("lead", "mql"), ("mql", "recycled")]

    deliver(workspace)
    assert sorted(receiver.types()[-2:]) == ["handoff.rejected", "person.stage_changed"]
    assert len({r["id"] for r in receiver.received}) == len(receiver.received)

    clock.advance(days=91)
    assert handoffs.recycle_due(workspace) == 1
    assert history(workspace, person)[-1] == ("recycled", "lead")


def test_accept_qualify_deal_won_customer(
    api: TestClient, workspace: Workspace, team: Team, receiver: Receiver, clock: FrozenClock
) -> None:
    person = demo_request(api, team, n=2)
    (handoff,) = api.get("/api/handoffs", headers=bearer(team.rep_key)).json()["data"]
    base = f"/api/handoffs/{handoff['id']}"
    early = api.post(f"{base}/qualify", json={"budget": "yes"}, headers=bearer(team.rep_key))
    assert early.status_code == 422
    clock.advance(minutes=5)
    call = api.post(f"{base}/activities", json={"kind": "call"}, headers=bearer(team.rep_key))
    assert call.json()["first_touched_at"] == "2026-01-05T09:05:00Z"
    accepted = api.post(f"{base}/accept", headers=bearer(team.rep_key)).json()
    assert accepted["status"] == "accepted"
    again = api.post(f"{base}/accept", headers=bearer(team.rep_key))
    assert again.status_code == 422
    partial = api.post(
        f"{base}/qualify", json={"budget": "50k", "authority": "CMO"}, headers=bearer(team.rep_key)
    )
    assert partial.status_code == 422
    assert partial.json()["detail"] == "qualification is missing need, timeline"
    bant = {"budget": "50k", "authority": "CMO", "need": "one funnel", "timeline": "Q1"}
    qualified = api.post(f"{base}/qualify", json=bant, headers=bearer(team.rep_key)).json()
    assert qualified["status"] == "qualified"

    no_person = api.post(
        "/api/deals", json={"person_id": 99999, "name": "x"}, headers=bearer(team.rep_key)
    )
    assert no_person.status_code == 404
    deal = api.post(
        "/api/deals",
        json={
            "person_id": person,
            "name": "Globex platform",
            "amount": "48000.00",
            "currency": "EUR",
        },
        headers=bearer(team.rep_key),
    )
    assert deal.status_code == 201
    deal_id = deal.json()["id"]
    lost = api.patch(f"/api/deals/{deal_id}", json={"status": "lost"}, headers=bearer(team.rep_key))
    assert lost.status_code == 422
    won = api.patch(
        f"/api/deals/{deal_id}",
        json={"status": "won", "amount": "52000"},
        headers=bearer(team.rep_key),
    ).json()
    assert (won["status"], won["stage"], won["amount"]) == ("won", "closedwon", "52000.00")

    assert history(workspace, person) == [
        (None, "lead"),
        ("lead", "mql"),
        ("mql", "sal"),
        ("sal", "sql"),
        ("sql", "opportunity"),
        ("opportunity", "customer"),
    ]
    deliver(workspace)
    deliver(workspace)
    kinds = receiver.types()
    for expected in (
        "mql.created",
        "handoff.assigned",
        "handoff.accepted",
        "handoff.qualified",
        "deal.created",
        "deal.won",
    ):
        assert kinds.count(expected) == 1, expected
    assert kinds.count("person.stage_changed") == 6
    assert receiver.rejected == []

    referral = api.post(
        f"/api/people/{person}/referrals",
        json={"email": "peer@initech.example"},
        headers=bearer(team.rep_key),
    )
    assert referral.status_code == 201
    touches = api.get(
        "/api/touchpoints",
        params={"person_id": referral.json()["person_id"]},
        headers=bearer(team.admin_key),
    ).json()["data"]
    assert [(t["kind"], t["channel"]) for t in touches] == [("referral", "Peer Referral")]
    assert history(workspace, person)[-1] == ("customer", "evangelist")
    churned = api.post(
        f"/api/people/{person}/churn", json={"reason": "budget cut"}, headers=bearer(team.rep_key)
    )
    assert churned.status_code == 204
    with workspace.db.read() as conn:
        reason = conn.execute(select(people.c.churn_reason).where(people.c.id == person)).scalar()
    assert reason == "budget cut"


def test_inactive_reps_never_get_leads(api: TestClient, workspace: Workspace, team: Team) -> None:
    for n in range(3, 7):
        demo_request(api, team, n=n)
    owners: set[Any] = {
        h["owner_id"]
        for h in api.get("/api/handoffs", headers=bearer(team.admin_key)).json()["data"]
    }
    assert owners == {team.rep_id}


def test_engagement_crossing_the_threshold_makes_an_mql(
    api: TestClient, workspace: Workspace, team: Team
) -> None:
    def send(batch: list[dict[str, Any]]) -> None:
        assert api.post("/v1/batch", json={"batch": batch}, auth=(team.write_key, "")).json()[
            "failed"
        ] == 0

    send([
        {"type": "identify", "messageId": "s1", "userId": "s", "traits": {
            "email": "vp@bigco.example", "title": "VP Marketing"}},
        {"type": "group", "messageId": "s2", "userId": "s", "groupId": "bigco",
         "traits": {"name": "BigCo", "employees": 900, "industry": "Retail"}},
        {"type": "track", "messageId": "s3", "userId": "s", "event": "Whitepaper Downloaded"},
    ])
    person = api.get("/api/people", params={"email": "vp@bigco.example"},
                     headers=bearer(team.admin_key)).json()["data"][0]
    assert person["stage"] == "lead"
    score = api.get(f"/api/people/{person['id']}/score", headers=bearer(team.admin_key)).json()
    assert score["total"] < 60
    send([{"type": "track", "messageId": "s4", "userId": "s", "event": "Webinar Attended"},
          {"type": "page", "messageId": "s5", "userId": "s",
           "properties": {"url": "https://acme.example/pricing"}}])
    assert history(workspace, person["id"])[-1] == ("lead", "mql")
    (handoff,) = api.get("/api/handoffs", headers=bearer(team.rep_key)).json()["data"]
    assert handoff["fast_track"] is False

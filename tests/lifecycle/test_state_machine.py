"""No sequence of API calls reaches a stage the playbook forbids, and every transition is
recorded: a Hypothesis state machine drives the sales API and the tracking API."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from smarketing.api.app import create_app
from smarketing.domain.clock import FrozenClock
from smarketing.domain.lifecycle import transition_problem
from smarketing.domain.stages import Role, Stage
from smarketing.services import admin, handoffs
from smarketing.services.workspace import init_workspace, open_workspace
from smarketing.settings import load_settings
from smarketing.store.tables import people, transitions

# The teams use no SAL and no evangelist stage, and allow one move back.
PLAYBOOK = """
version: 1
lifecycle:
  stages: [{id: lead}, {id: mql}, {id: sql}, {id: opportunity}, {id: customer},
           {id: recycled}, {id: disqualified}]
  allow_backward: [[customer, opportunity]]
mql:
  fast_track: [{id: demo, event: Demo Requested}]
recycle: {after_days: 30, to_stage: lead}
"""


class SalesApi(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        folder = Path(tempfile.mkdtemp(prefix="smk-sm-"))
        self.settings = load_settings(workspace=folder)
        self.clock = FrozenClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
        init_workspace(self.settings, today=self.clock.now().date())
        self.settings.playbook_path.write_text(PLAYBOOK)
        ws = open_workspace(self.settings, clock=self.clock)
        admin.add_user(ws, email="rep@acme.example", role=Role.SALES, password="pass")
        key = admin.create_api_key(ws, name="rep", role=Role.SALES, user_email="rep@acme.example")
        self.write_key = admin.add_source(ws, name="web").secret
        ws.close()
        self.headers = {"Authorization": f"Bearer {key.secret}"}
        self.client = TestClient(create_app(self.settings, clock=self.clock))
        self.client.__enter__()
        self.ws = self.client.app.state.workspace  # type: ignore[attr-defined]
        self.people: list[int] = []
        self.handoff_ids: list[int] = []
        self.deal_ids: list[int] = []
        self.n = 0

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)

    def _post(self, url: str, body: Any = None) -> int:
        return self.client.post(url, json=body, headers=self.headers).status_code

    @rule(demo=st.booleans())
    def visitor(self, demo: bool) -> None:
        self.n += 1
        n = self.n
        batch: list[dict[str, Any]] = [
            {
                "type": "identify",
                "messageId": f"i{n}",
                "userId": f"u{n}",
                "traits": {"email": f"p{n}@buyer.example"},
            }
        ]
        if demo:
            batch.append(
                {
                    "type": "track",
                    "messageId": f"t{n}",
                    "userId": f"u{n}",
                    "event": "Demo Requested",
                }
            )
        answer = self.client.post("/v1/batch", json={"batch": batch}, auth=(self.write_key, ""))
        assert answer.status_code == 200
        found = self.client.get(
            "/api/people", params={"email": f"p{n}@buyer.example"}, headers=self.headers
        ).json()["data"]
        self.people.append(found[0]["id"])
        self.handoff_ids = [
            h["id"]
            for h in self.client.get(
                "/api/handoffs", params={"limit": 500}, headers=self.headers
            ).json()["data"]
        ]

    @precondition(lambda self: self.handoff_ids)
    @rule(i=st.integers(0, 1000))
    def accept(self, i: int) -> None:
        assert self._post(
            f"/api/handoffs/{self.handoff_ids[i % len(self.handoff_ids)]}/accept"
        ) in (200, 422)

    @precondition(lambda self: self.handoff_ids)
    @rule(i=st.integers(0, 1000), reason=st.sampled_from([None, "no-budget", "bad-fit", "nope"]))
    def reject(self, i: int, reason: str | None) -> None:
        status = self._post(
            f"/api/handoffs/{self.handoff_ids[i % len(self.handoff_ids)]}/reject",
            {"reason": reason},
        )
        assert status in (200, 422)
        if reason in (None, "nope"):
            assert status == 422

    @precondition(lambda self: self.handoff_ids)
    @rule(i=st.integers(0, 1000), complete=st.booleans())
    def qualify(self, i: int, complete: bool) -> None:
        fields = {"budget": "b", "authority": "a", "need": "n", "timeline": "t"}
        if not complete:
            fields.pop("need")
        status = self._post(
            f"/api/handoffs/{self.handoff_ids[i % len(self.handoff_ids)]}/qualify", fields
        )
        assert status in (200, 422)

    @precondition(lambda self: self.people)
    @rule(i=st.integers(0, 1000))
    def open_deal(self, i: int) -> None:
        answer = self.client.post(
            "/api/deals",
            headers=self.headers,
            json={"person_id": self.people[i % len(self.people)], "name": "d", "amount": "1000"},
        )
        assert answer.status_code == 201
        self.deal_ids.append(answer.json()["id"])

    @precondition(lambda self: self.deal_ids)
    @rule(i=st.integers(0, 1000), outcome=st.sampled_from(["won", "lost"]), reason=st.booleans())
    def close_deal(self, i: int, outcome: str, reason: bool) -> None:
        body: dict[str, Any] = {"status": outcome}
        if reason:
            body["lost_reason"] = "price"
        status = self.client.patch(
            f"/api/deals/{self.deal_ids[i % len(self.deal_ids)]}", json=body, headers=self.headers
        ).status_code
        assert status in (200, 422)

    @precondition(lambda self: self.people)
    @rule(i=st.integers(0, 1000))
    def refer(self, i: int) -> None:
        self.n += 1
        status = self._post(
            f"/api/people/{self.people[i % len(self.people)]}/referrals",
            {"email": f"peer{self.n}@other.example"},
        )
        assert status in (201, 422)

    @rule(days=st.integers(0, 40))
    def time_passes(self, days: int) -> None:
        self.clock.advance(days=days)
        handoffs.check_sla(self.ws)
        handoffs.recycle_due(self.ws)

    @invariant()
    def only_allowed_moves_and_all_recorded(self) -> None:
        pb = self.ws.playbook.playbook
        allowed_back = frozenset(pb.lifecycle.allow_backward)
        with self.ws.db.read() as conn:
            stages = dict(conn.execute(select(people.c.id, people.c.stage)).all())
            rows = conn.execute(
                select(
                    transitions.c.person_id, transitions.c.from_stage, transitions.c.to_stage
                ).order_by(transitions.c.id)
            ).all()
        last: dict[int, str | None] = {}
        for person, old, new in rows:
            assert old == last.get(person), f"person {person}: history is not a chain"
            old_stage = Stage(old) if old else None
            assert (
                transition_problem(
                    old_stage, Stage(new), enabled=pb.enabled_stages, allow_backward=allowed_back
                )
                is None
            )
            last[person] = new
        for person, stage in stages.items():
            assert last.get(person) == stage, f"person {person}: stage without a transition"
            assert stage is None or Stage(stage) in pb.enabled_stages


SalesApi.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSalesApi = SalesApi.TestCase

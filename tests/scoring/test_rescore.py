"""Rescoring in the store (SQLite and PostgreSQL), `smarketing score`, the score API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, create_engine, insert, select, text, update

from smarketing.api.app import create_app
from smarketing.cli.main import run
from smarketing.domain.clock import FrozenClock
from smarketing.domain.stages import Role
from smarketing.services import admin, scoring
from smarketing.services.playbooks import register
from smarketing.services.workspace import Workspace, init_workspace, open_workspace
from smarketing.settings import load_settings
from smarketing.store.tables import accounts, people, scores, touchpoints
from tests.scoring.factories import NOW

VP, FREEMAIL, QUIET, MERGED = 1, 2, 3, 4


def _touch(person_id: int, at: datetime, kind: str, name: str | None, url: str) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "occurred_at": at,
        "kind": kind,
        "name": name,
        "url": url,
        "channel": "Direct",
        "ruleset_version": "test",
        "team": "marketing",
    }


def seed(ws: Workspace, now: datetime) -> None:
    """Four people: a VP at a 500-person software company who downloaded whitepapers, a
    free-mail reader of the blog, someone who did nothing, and one merged into the VP."""
    stamp = {"created_at": now, "updated_at": now, "change_seq": 0}
    with ws.db.begin() as conn:
        conn.execute(
            insert(accounts),
            [{"id": 1, "name": "Acme", "domain": "acme.com", "industry": "Software",
              "employees": 500, **stamp}],
        )  # fmt: skip
        conn.execute(
            insert(people),
            [
                {"id": VP, "email": "vp@acme.com", "title": "VP Marketing", "account_id": 1,
                 "merged_into_id": None, **stamp},
                {"id": FREEMAIL, "email": "jo@gmail.com", "title": "Student", "account_id": None,
                 "merged_into_id": None, **stamp},
                {"id": QUIET, "email": "quiet@acme.com", "title": "Engineer", "account_id": 1,
                 "merged_into_id": None, **stamp},
                {"id": MERGED, "email": None, "title": None, "account_id": None,
                 "merged_into_id": None, **stamp},
            ],
        )  # fmt: skip
        conn.execute(update(people).where(people.c.id == MERGED).values(merged_into_id=VP))
        conn.execute(
            insert(touchpoints),
            [
                _touch(VP, now - timedelta(days=30), "form_fill", "Whitepaper Downloaded", "/wp/a"),
                _touch(VP, now, "form_fill", "Whitepaper Downloaded", "/wp/b"),
                _touch(VP, now + timedelta(hours=1), "form_fill", "Whitepaper Downloaded", "/wp/c"),
                _touch(FREEMAIL, now - timedelta(days=60), "page_view", None,
                       "https://www.acme.example/blog/one?utm_source=x"),
                _touch(FREEMAIL, now, "page_view", None, "https://www.acme.example/pricing"),
                _touch(MERGED, now, "page_view", None, "https://www.acme.example/pricing"),
            ],
        )  # fmt: skip


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    """One seeded workspace per backend for this module (initialising one takes a second)."""
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_server")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    settings = load_settings(workspace=tmp_path_factory.mktemp("scoring") / "ws", database_url=url)
    clock = FrozenClock(NOW)
    init_workspace(settings, today=NOW.date())
    ws = open_workspace(settings, clock=clock)
    seed(ws, NOW)
    yield ws
    ws.close()


class _Rollback(Exception):
    """Raised to roll back a test's changes."""


@contextmanager
def rolled_back(ws: Workspace) -> Iterator[Connection]:
    """A write transaction that is rolled back at the end (the module shares one workspace)."""
    try:
        with ws.db.begin() as conn:
            yield conn
            raise _Rollback
    except _Rollback:
        pass


def stored(ws: Workspace) -> dict[int, Any]:
    with ws.db.read() as conn:
        return {r.person_id: r for r in conn.execute(select(scores))}


def test_rescore_upserts_the_scores_of_the_people_asked_for(seeded: Workspace) -> None:
    ws, now = seeded, seeded.clock.now()
    version = register(ws, ws.playbook).id
    with ws.db.begin() as conn:
        results = scoring.rescore(
            conn, [VP, FREEMAIL, QUIET, MERGED], ws.playbook.playbook, version, now
        )
    # VP: fit 20 + 15 + 10; whitepapers 15 now + 15 a half-life ago (the one in an hour: not yet)
    assert (results[VP].fit, results[VP].engagement) == (45, 22.5)
    # free mail: -10; pricing 10 today, blog 2 two half-lives ago
    assert (results[FREEMAIL].fit, results[FREEMAIL].engagement) == (-10, 10.5)
    assert (results[QUIET].fit, results[QUIET].engagement) == (25, 0)
    assert MERGED not in results
    with ws.db.begin() as conn:  # a score from before the merge goes
        conn.execute(
            insert(scores).values(person_id=MERGED, fit=1, engagement=1, total=2, computed_at=now)
        )
        scoring.rescore(conn, [MERGED], ws.playbook.playbook, version, now)
    rows = stored(ws)
    assert set(rows) == {VP, FREEMAIL, QUIET}
    assert rows[VP].total == 67.5
    assert rows[VP].playbook_version_id == version
    assert rows[VP].computed_at == now
    lines = {c["rule"]: c for c in rows[VP].contributions}
    assert lines["decision-maker"] == {
        "part": "fit",
        "rule": "decision-maker",
        "points": 20.0,
        "raw": 20.0,
    }
    wp = lines["whitepaper-download"]
    assert (wp["points"], wp["raw"], wp["touches"]) == (22.5, 30.0, 2)
    assert wp["last_at"] == now.isoformat()
    # the same numbers as the reference, rule by rule
    for person_id, result in results.items():
        live = scoring.explain(ws, person_id=person_id).result
        assert result.total == pytest.approx(live.total, abs=1e-9)
        assert [c.rule_id for c in result.contributions] == [c.rule_id for c in live.contributions]


def test_rescore_as_events_arrive_replaces_the_score(seeded: Workspace) -> None:
    ws, now = seeded, seeded.clock.now()
    with rolled_back(ws) as conn:
        first = scoring.rescore(conn, [FREEMAIL], ws.playbook.playbook, None, now)
        conn.execute(
            insert(touchpoints),
            [_touch(FREEMAIL, now, "webinar", "Webinar Attended", "/webinars/x")],
        )
        again = scoring.rescore(conn, [FREEMAIL], ws.playbook.playbook, None, now)
        row = conn.execute(select(scores).where(scores.c.person_id == FREEMAIL)).one()
    assert (first[FREEMAIL].engagement, again[FREEMAIL].engagement) == (10.5, 30.5)
    assert row.engagement == 30.5


def test_score_all_and_explain_on_the_command_line(
    seeded: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    if seeded.settings.database_url:
        monkeypatch.setenv("SMARKETING_DATABASE_URL", seeded.settings.database_url)
    folder = str(seeded.settings.workspace)
    result = run(["score", "--all", "--workspace", folder, "--chunk-size", "2"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("scored 3 people with playbook version 1 in ")
    assert set(stored(seeded)) == {VP, FREEMAIL, QUIET}
    explained = run(["score", "explain", "VP@acme.com", "--days", "--workspace", folder])
    assert explained.exit_code == 0, explained.stderr
    lines = explained.stdout.splitlines()
    assert lines[0].startswith("vp@acme.com (person 1): total ")
    assert "     +20.00  decision-maker" in lines
    assert any(line.split()[1:4] == ["whitepaper-download", "+45", "3"] for line in lines)
    assert any("counted +15.00" in line for line in lines)
    as_json = json.loads(run(["score", "explain", "1", "--json", "-w", folder]).stdout)
    assert as_json["fit"] == 45
    nobody = run(["score", "explain", "nobody@acme.com", "-w", folder])
    assert nobody.exit_code == 1
    assert "nobody has the email 'nobody@acme.com'" in nobody.stderr
    assert run(["score", "-w", folder]).exit_code == 2


def test_the_score_api_explains_a_person(seeded: Workspace) -> None:
    app = create_app(seeded.settings, clock=seeded.clock)
    key = admin.create_api_key(seeded, name="viewer", role=Role.VIEWER).secret
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        body = client.get(f"/api/people/{VP}/score", headers=auth).json()
        assert (body["fit"], body["engagement"], body["total"]) == (45, 22.5, 67.5)
        assert "stored" in body
        wp = next(c for c in body["contributions"] if c["rule_id"] == "whitepaper-download")
        assert [d["points"] for d in wp["days"]] == [7.5, 15]
        merged = client.get(f"/api/people/{MERGED}/score", headers=auth)
        assert merged.status_code == 404
        assert merged.headers["content-type"] == "application/problem+json"
        assert client.get("/api/people/999/score", headers=auth).status_code == 404
        assert client.get(f"/api/people/{VP}/score").status_code == 401

"""The demo company: deterministic, realistic, logins that work, an agreed playbook."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text

from smarketing.demo import DEMO_PASSWORD, DEMO_USERS, build_demo
from smarketing.services import admin, playbooks
from smarketing.services.workspace import open_workspace
from smarketing.settings import load_settings

DAY = date(2026, 11, 28)


def snapshot(workspace: Path) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(f"sqlite:///{workspace}/smarketing.db")
    queries = {
        "stages": "SELECT stage, COUNT(*) FROM people GROUP BY stage ORDER BY stage",
        "channels": "SELECT channel, COUNT(*) FROM touchpoints GROUP BY channel ORDER BY channel",
        "deals": "SELECT status, COUNT(*), SUM(amount) FROM deals GROUP BY status ORDER BY status",
        "reasons": "SELECT reject_reason, COUNT(*) FROM handoffs WHERE reject_reason IS NOT NULL "
        "GROUP BY 1 ORDER BY 1",
        "content": "SELECT kind, COUNT(*) FROM content_items GROUP BY kind ORDER BY kind",
        "campaigns": "SELECT COUNT(*), SUM(cost) FROM campaigns",
        "last_touch": "SELECT MAX(id), MAX(occurred_at) FROM touchpoints",
    }
    with engine.connect() as conn:
        out = {k: [tuple(r) for r in conn.execute(text(q))] for k, q in queries.items()}
    engine.dispose()
    return out


def test_same_seed_same_company_and_rerun_reuses_it(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    first = build_demo(load_settings(workspace=a), people=300, seed=3, progress=False, today=DAY)
    build_demo(load_settings(workspace=b), people=300, seed=3, progress=False, today=DAY)
    assert snapshot(a) == snapshot(b)
    again = build_demo(load_settings(workspace=a), people=300, seed=3, progress=False, today=DAY)
    assert again.reused
    assert (again.people, again.touchpoints, again.api_key) == (
        first.people,
        first.touchpoints,
        first.api_key,
    )
    other = build_demo(load_settings(workspace=b), people=300, seed=4, progress=False, today=DAY)
    assert not other.reused
    assert snapshot(a) != snapshot(b)


def test_the_demo_looks_like_a_b2b_company(tmp_path: Path) -> None:
    ws_path = tmp_path / "demo"
    summary = build_demo(
        load_settings(workspace=ws_path), people=600, seed=7, progress=False, today=DAY
    )
    assert summary.people == 600
    assert 100 < summary.accounts < 600
    shot = snapshot(ws_path)
    channels = dict(shot["channels"])  # type: ignore[arg-type]
    assert len(channels) >= 10
    assert {
        "Organic Search",
        "Paid Search",
        "Paid Social",
        "Email",
        "Direct",
        "Peer Referral",
        "Referral",
        "Sales",
    } <= set(channels)
    stages = {s for s, _ in shot["stages"]}
    assert {"lead", "sal", "opportunity", "customer", "recycled", "disqualified"} <= stages
    statuses = {s for s, _, _ in shot["deals"]}
    assert statuses == {"won", "lost", "open"}
    assert len(shot["reasons"]) >= 4
    kinds = dict(shot["content"])  # type: ignore[arg-type]
    assert sum(kinds.values()) >= 55
    assert {"blog_post", "whitepaper", "press_release", "webinar", "case_study"} <= set(kinds)
    assert shot["campaigns"][0][0] >= 6


def test_demo_logins_keys_and_agreed_playbook(tmp_path: Path) -> None:
    settings = load_settings(workspace=tmp_path / "demo")
    summary = build_demo(settings, people=50, seed=1, progress=False, today=DAY)
    assert settings.is_demo
    ws = open_workspace(settings)
    try:
        for user in DEMO_USERS:
            assert (
                admin.authenticate_user(ws, email=user.email, password=DEMO_PASSWORD).role
                is user.role
            )
        assert admin.api_key_for(ws, summary.api_key) is not None
        version = playbooks.current_version(ws)
        assert version.agreed
        goal = ws.playbook.playbook.goals[0]
        assert goal.period == "2026-Q4"
    finally:
        ws.close()

"""The DuckDB copy: first copy, incremental syncs that copy only what changed, and the cases
where rows change without their own timestamp (merges, anonymous history, open SLA clocks)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from smarketing.analytics.engines.duckdb_engine import DuckDBEngine
from smarketing.analytics.sync import SyncResult, sync_copy
from smarketing.analytics.tables import SPECS
from smarketing.services.workspace import Workspace
from tests.reports.conftest import Demo
from tests.reports.helpers import copy_contents, merge_people, track_page_views


def _sync(ws: Workspace, path: Path, **kwargs: object) -> SyncResult:
    engine = DuckDBEngine(path)
    try:
        return sync_copy(ws.db, engine.connection(), now=ws.clock.now(), **kwargs)  # type: ignore[arg-type]
    finally:
        engine.close()


def _store_count(ws: Workspace, table: str) -> int:
    with ws.db.read() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _assert_same_as_fresh_copy(ws: Workspace, path: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.duckdb"
    _sync(ws, fresh)
    assert copy_contents(str(path)) == copy_contents(str(fresh))


def test_first_sync_copies_every_row(fresh_ws: Workspace, tmp_path: Path) -> None:
    result = _sync(fresh_ws, tmp_path / "a.duckdb")
    assert result.full
    assert result.reason == "first copy"
    for spec in SPECS:
        assert result.rows(spec.name) == _store_count(fresh_ws, spec.name), spec.name


def test_sync_without_changes_copies_nothing(fresh_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    _sync(fresh_ws, path)
    again = _sync(fresh_ws, path)
    assert not again.full
    assert again.total_rows == again.rows("playbook_signoffs")  # a few rows, copied whole


def _page_views(ws: Workspace, demo: Demo, n: int) -> None:
    at = ws.clock.now()
    pricing = "https://www.smarketing-demo.example/pricing"
    views = [(at - timedelta(minutes=n - i), pricing) for i in range(n)]
    track_page_views(ws, demo.summary.write_key, views, prefix="reports-test")


def test_after_100_new_events_a_sync_copies_about_100_rows(
    fresh_ws: Workspace, demo: Demo, tmp_path: Path
) -> None:
    path = tmp_path / "a.duckdb"
    first = _sync(fresh_ws, path)
    fresh_ws.clock.advance(hours=1)  # type: ignore[attr-defined]
    _page_views(fresh_ws, demo, 100)
    fresh_ws.clock.advance(minutes=1)  # type: ignore[attr-defined]
    result = _sync(fresh_ws, path)
    assert not result.full
    assert result.rows("touchpoints") >= 100
    # 100 new touchpoints, plus the rows of the <= 20 people they may have moved (scoring can
    # promote someone to MQL): a few hundred rows, not the tens of thousands in the tables.
    assert result.total_rows < 1000 < first.total_rows / 20
    _assert_same_as_fresh_copy(fresh_ws, path, tmp_path)


def test_a_merge_moves_rows_in_the_copy(fresh_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    _sync(fresh_ws, path)
    fresh_ws.clock.advance(hours=1)  # type: ignore[attr-defined]
    merge_people(fresh_ws, survivor=3, merged=7)
    result = _sync(fresh_ws, path)
    assert not result.full
    assert result.rows("touchpoints") > 0
    _assert_same_as_fresh_copy(fresh_ws, path, tmp_path)


def test_running_sla_clocks_are_re_read(fresh_ws: Workspace, tmp_path: Path) -> None:
    with fresh_ws.db.begin() as conn:
        conn.execute(
            text("UPDATE sla_clocks SET stopped_at = NULL, breached_at = NULL WHERE id = 1")
        )
    path = tmp_path / "a.duckdb"
    _sync(fresh_ws, path)
    with fresh_ws.db.begin() as conn:  # SLA clocks have no updated_at: only "running" tells
        conn.execute(text("UPDATE sla_clocks SET stopped_at = due_at WHERE id = 1"))
    result = _sync(fresh_ws, path)
    assert result.rows("sla_clocks") >= 1
    _assert_same_as_fresh_copy(fresh_ws, path, tmp_path)


def test_erased_people_trigger_a_full_copy(fresh_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    _sync(fresh_ws, path)
    with fresh_ws.db.begin() as conn:
        person = conn.execute(
            text(
                "SELECT id FROM people WHERE id NOT IN (SELECT person_id FROM touchpoints "
                "WHERE person_id IS NOT NULL) AND id NOT IN (SELECT person_id FROM identities) "
                "ORDER BY id LIMIT 1"
            )
        ).scalar()
        if person is None:
            conn.execute(text("DELETE FROM identities WHERE person_id = 5"))
            for table in ("touchpoints", "transitions", "sla_clocks", "handoffs", "deals"):
                if table == "sla_clocks":
                    conn.execute(
                        text(
                            "DELETE FROM sla_clocks WHERE handoff_id IN "
                            "(SELECT id FROM handoffs WHERE person_id = 5)"
                        )
                    )
                else:
                    conn.execute(text(f"DELETE FROM {table} WHERE person_id = 5"))
            person = 5
        conn.execute(text("DELETE FROM people WHERE id = :id"), {"id": person})
    result = _sync(fresh_ws, path)
    assert result.full
    assert result.reason == "people were erased in the store"
    _assert_same_as_fresh_copy(fresh_ws, path, tmp_path)


def test_money_is_decimal_and_times_are_naive_utc(demo_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    _sync(demo_ws, path)
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'deals'"
        ).fetchall()
    )
    con.close()
    assert types["amount"] == "DECIMAL(18,2)"
    assert types["created_at"] == "TIMESTAMP"


def test_full_copies_through_the_adbc_child_match(
    demo_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    from smarketing.analytics import sync_sources

    monkeypatch.setattr(sync_sources, "CHILD_MIN_ROWS", 0)
    _sync(demo_ws, tmp_path / "child.duckdb")
    monkeypatch.setattr(sync_sources, "_adbc_available", lambda: False)
    _sync(demo_ws, tmp_path / "plain.duckdb")
    assert copy_contents(str(tmp_path / "child.duckdb")) == copy_contents(
        str(tmp_path / "plain.duckdb")
    )

"""Every report on the default engine, cross-checked against plain SQL over the store."""

from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path

import ibis
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from smarketing.analytics.engines.base import Limits, execute, to_sql
from smarketing.analytics.engines.duckdb_engine import DuckDBEngine
from smarketing.analytics.engines.errors import QueryTimeoutError, RowLimitError
from smarketing.analytics.export import CORE_TABLES, neutralise_arrow
from smarketing.analytics.reports.period import parse_period
from smarketing.analytics.reports.registry import ReportContext, get_report, report_names
from smarketing.analytics.tables import unbound
from smarketing.cli.main import run
from smarketing.errors import NotFoundError, UsageError
from smarketing.services import reports
from smarketing.services.workspace import Workspace

BUILTIN = {
    "funnel",
    "velocity",
    "sources",
    "rejections",
    "sla",
    "goals",
    "content",
    "retention",
    "impact",
}


@pytest.fixture(scope="module")
def q4(demo_ws: Workspace) -> dict[str, reports.ReportResult]:
    return {name: reports.run_report(demo_ws, name, period="2026-Q4") for name in sorted(BUILTIN)}


def test_registry_holds_every_report() -> None:
    assert set(report_names()) >= BUILTIN
    with pytest.raises(NotFoundError):
        get_report("nope")


def test_to_sql_is_pure_for_every_dialect(demo_ws: Workspace) -> None:
    ctx = ReportContext(
        parse_period("2026-Q4", today=date(2026, 11, 21)), demo_ws.playbook.playbook, unbound()
    )
    for name in BUILTIN:
        for expr in get_report(name).build(ctx).values():
            for dialect in ("duckdb", "postgres", "pyspark"):
                assert "SELECT" in to_sql(expr, dialect)


def test_funnel_leads_match_the_store(
    demo_ws: Workspace, q4: dict[str, reports.ReportResult]
) -> None:
    with demo_ws.db.read() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT person_id, min(at) AS first FROM transitions "
                "WHERE to_stage NOT IN ('subscriber', 'recycled', 'disqualified') "
                "GROUP BY person_id) WHERE first >= '2026-10-01' AND first < '2027-01-01'"
            )
        ).scalar_one()
    stages = {r["stage"]: r for r in q4["funnel"].sections["stages"].to_pylist()}
    assert stages["lead"]["entered"] == expected > 0
    entered = [stages[s]["entered"] for s in ("mql", "sal", "sql")]
    assert all(e > 0 for e in entered)
    channels = q4["sources"].sections["channels"].to_pylist()
    assert sum(r["leads"] for r in channels) == expected


def test_sources_cost_and_roi_only_where_campaigns_cost(
    q4: dict[str, reports.ReportResult],
) -> None:
    rows = q4["sources"].sections["campaigns"].to_pylist()
    with_cost = [r for r in rows if r["cost"] is not None]
    assert with_cost
    assert all(r["cost"] >= 0 for r in with_cost)
    none = next(r for r in rows if r["campaign"] == "(none)")
    assert none["cost"] is None
    assert none["roi"] is None


def test_goals_reverse_funnel_walks_back_from_customers(
    q4: dict[str, reports.ReportResult],
) -> None:
    rows = q4["goals"].sections["reverse_funnel"].to_pylist()
    summary = q4["goals"].sections["summary"].to_pylist()[0]
    assert rows[-1]["stage"] == "customer"
    assert rows[-1]["needed"] == pytest.approx(1_500_000 * 0.6 / 24_000)
    for earlier, later in itertools.pairwise(rows):
        assert earlier["needed"] == pytest.approx(later["needed"] / earlier["conversion_to_next"])
    assert summary["working_days"] == 66


def test_goals_without_a_goal_say_what_to_do(demo_ws: Workspace) -> None:
    with pytest.raises(UsageError, match="no revenue goal for 2025-Q1"):
        reports.run_report(demo_ws, "goals", period="2025-Q1")


def test_sla_reports_both_teams(demo_ws: Workspace, q4: dict[str, reports.ReportResult]) -> None:
    team = q4["sla"].sections["teams"].to_pylist()[0]
    per_month = demo_ws.playbook.playbook.sla.marketing.mqls_per_month
    assert team["mqls_target"] == per_month * 3
    assert 0 <= team["first_touch_sla_rate"] <= 1
    reps = q4["sla"].sections["reps"].to_pylist()
    assert sum(r["breaches"] for r in reps) == team["breaches"]


def test_impact_covers_the_agreed_version(q4: dict[str, reports.ReportResult]) -> None:
    rows = q4["impact"].sections["versions"].to_pylist()
    assert len(rows) == 1
    assert rows[0]["mqls"] > 0
    assert rows[0]["revenue"] > 0


def test_every_report_has_rows(q4: dict[str, reports.ReportResult]) -> None:
    for name, result in q4.items():
        for section, table in result.sections.items():
            if (name, section) != ("rejections", "by_source") or table.num_rows:
                assert table.num_rows > 0, f"{name}/{section}"


def test_periods_months_and_last_days(demo_ws: Workspace) -> None:
    month = reports.run_report(demo_ws, "funnel", period="2026-11")
    days = reports.run_report(demo_ws, "funnel", period="last-90-days")
    assert month.period is not None
    assert month.period.label == "2026-11"
    assert days.sections["stages"].num_rows == month.sections["stages"].num_rows
    with pytest.raises(UsageError, match="unknown period"):
        reports.run_report(demo_ws, "funnel", period="Q4")


def test_the_gate_caps_rows_and_time(demo_ws: Workspace) -> None:
    reports.sync_analytics(demo_ws)
    engine = DuckDBEngine(demo_ws.settings.analytics_path)
    try:
        tp = unbound().touchpoints
        with pytest.raises(RowLimitError):
            execute(engine, tp.select("id"), limits=Limits(max_rows=10))
        a, b, c = (tp.select(**{f"id{i}": tp.id}) for i in range(3))
        heavy = a.cross_join(b).cross_join(c).agg(n=ibis._.count())
        with pytest.raises(QueryTimeoutError):
            execute(engine, heavy, limits=Limits(timeout_seconds=0.2))
    finally:
        engine.close()


def test_export_writes_dbt_tables(demo_ws: Workspace, tmp_path: Path) -> None:
    _, files = reports.export(demo_ws, tmp_path / "pq", fmt="parquet")
    names = {f.table for f in files}
    assert set(CORE_TABLES) <= names
    people = pq.read_table(tmp_path / "pq" / "dim_people.parquet")
    assert {"email", "source_channel", "mql_at"} <= set(people.column_names)
    assert people.num_rows == next(f.rows for f in files if f.table == "dim_people")


def test_csv_export_neutralises_formulas(fresh_ws: Workspace, tmp_path: Path) -> None:
    with fresh_ws.db.begin() as conn:
        conn.execute(
            text("UPDATE people SET first_name = '=HYPERLINK(1)', title = '-2' WHERE id = 1")
        )
    reports.export(fresh_ws, tmp_path / "csv", fmt="csv")
    people = pacsv.read_csv(tmp_path / "csv" / "dim_people.csv").to_pylist()
    first = next(p for p in people if p["id"] == 1)
    assert first["first_name"] == "'=HYPERLINK(1)"
    assert first["title"] == "'-2"
    import pyarrow as pa

    t = neutralise_arrow(pa.table({"a": ["@x", "ok", None, "+1"], "n": [-1, 2, 3, 4]}))
    assert t.column("a").to_pylist() == ["'@x", "ok", None, "'+1"]
    assert t.column("n").to_pylist() == [-1, 2, 3, 4]


def test_cli_report_json_csv_and_sync(demo_ws: Workspace, tmp_path: Path) -> None:
    ws = str(demo_ws.settings.workspace)
    out = run(["report", "funnel", "-w", ws, "--period", "2026-Q4", "--format", "json"])
    assert out.exit_code == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["report"] == "funnel"
    assert "stages" in body["sections"]
    table = run(["report", "velocity", "-w", ws, "--period", "2026-Q4"])
    assert table.exit_code == 0
    assert "median_days" in table.stdout
    csv = run(["report", "sources", "-w", ws, "--format", "csv", "--section", "campaigns"])
    assert csv.exit_code == 0
    assert csv.stdout.startswith('"campaign_id"')
    target = tmp_path / "f.parquet"
    assert (
        run(["report", "funnel", "-w", ws, "--format", "parquet", "--out", str(target)]).exit_code
        == 0
    )
    assert pq.read_table(target).num_rows > 0
    bad = run(["report", "nope", "-w", ws])
    assert bad.exit_code == 1
    assert "no report named" in bad.stderr
    synced = run(["sync", "-w", ws])
    assert synced.exit_code == 0
    assert "incremental sync" in synced.stdout


def test_api_serves_report_rows(demo_ws: Workspace, demo: object) -> None:
    from fastapi.testclient import TestClient

    from smarketing.api.app import create_app

    app = create_app(demo_ws.settings, clock=demo_ws.clock)
    key = demo.summary.api_key  # type: ignore[attr-defined]
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {key}"}
        listed = client.get("/api/reports", headers=headers)
        assert listed.status_code == 200
        assert {r["name"] for r in listed.json()} >= BUILTIN
        got = client.get("/api/reports/sources?period=2026-Q4", headers=headers)
        assert got.status_code == 200, got.text
        rows = got.json()["sections"]["channels"]["rows"]
        assert rows
        assert isinstance(rows[0]["revenue"], float)
        assert client.get("/api/reports/nope", headers=headers).status_code == 404
        assert client.get("/api/reports/funnel").status_code == 401

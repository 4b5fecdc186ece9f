"""Attribution in the product, on the demo company: intervals in the report (the same on DuckDB
and Spark), one won deal's breakdown (CLI and API, with the deal routes' role rules), and
`fct_attribution_credits` in the export."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from smarketing.analytics.engines.base import Engine, execute
from smarketing.analytics.engines.duckdb_engine import DuckDBEngine
from smarketing.analytics.reports.attribution import MODELS
from smarketing.analytics.reports.period import parse_period
from smarketing.analytics.reports.registry import ReportContext, ReportOptions, get_report
from smarketing.analytics.tables import unbound
from smarketing.cli.main import run
from smarketing.domain.stages import Role
from smarketing.services import admin, reports
from smarketing.services.workspace import Workspace
from tests.reports.helpers import assert_tables_equal

INTERVALS = ("conversions_low", "conversions_high", "value_low", "value_high")
# A won deal whose buyer read a blog post (a marketing touch) and met the rep (a sales touch)
# in the 90 days before the close.
STORY_DEAL_SQL = """
SELECT d.id, d.amount
FROM deals d
WHERE d.status = 'won' AND EXISTS (
    SELECT 1 FROM touchpoints t JOIN content_items c ON c.id = t.content_id
    WHERE t.person_id = d.person_id AND c.kind = 'blog_post' AND t.team = 'marketing'
      AND t.occurred_at BETWEEN CAST(d.close_date AS TIMESTAMP) - INTERVAL 90 DAY
                            AND CAST(d.close_date AS TIMESTAMP)
) AND EXISTS (
    SELECT 1 FROM touchpoints t
    WHERE t.person_id = d.person_id AND t.kind = 'meeting'
      AND t.occurred_at BETWEEN CAST(d.close_date AS TIMESTAMP) - INTERVAL 90 DAY
                            AND CAST(d.close_date AS TIMESTAMP)
)
ORDER BY d.id LIMIT 1
"""


def _sql(ws: Workspace, sql: str) -> list[dict[str, Any]]:
    reports.sync_analytics(ws)
    engine = DuckDBEngine(ws.settings.analytics_path)
    try:
        return engine.run_sql(sql, limits=reports.DEFAULT_LIMITS).to_pylist()
    finally:
        engine.close()


@pytest.fixture(scope="module")
def story_deal(demo_ws: Workspace) -> tuple[int, float]:
    (row,) = _sql(demo_ws, STORY_DEAL_SQL)
    return int(row["id"]), float(row["amount"])


def test_story_the_blog_touch_and_the_reps_meeting_share_the_won_deal(
    demo_ws: Workspace, story_deal: tuple[int, float]
) -> None:
    deal_id, amount = story_deal
    ws = str(demo_ws.settings.workspace)
    out = run(["report", "attribution", "-w", ws, "--deal", str(deal_id), "--format", "json"])
    assert out.exit_code == 0, out.stderr
    sections = json.loads(out.stdout)["sections"]
    touches = sections["touches"]["rows"]
    blog = [t for t in touches if t["team"] == "marketing" and t["kind"] == "page_view"]
    meetings = [t for t in touches if t["kind"] == "meeting"]
    assert blog
    assert meetings
    revenue: dict[str, float] = defaultdict(float)
    for row in sections["credits"]["rows"]:
        revenue[row["model"]] += row["revenue"]
    for model in MODELS:
        assert sum(t[model] for t in touches) == pytest.approx(1.0), model
        assert revenue[model] == pytest.approx(amount), model
    for model in ("linear", "time_decay", "markov", "shapley"):  # every touch shares
        assert all(t[model] > 0 for t in blog + meetings), model
    teams = {(r["model"], r["team"]): r["share"] for r in sections["teams"]["rows"]}
    for model in MODELS:
        assert teams[(model, "marketing")] + teams[(model, "sales")] == pytest.approx(1.0)
    assert teams[("linear", "marketing")] > 0
    assert teams[("linear", "sales")] > 0
    table = run(["report", "attribution", "-w", ws, "--deal", str(deal_id)])
    assert "## teams" in table.stdout
    assert "first_touch" in table.stdout


def test_report_intervals_bracket_sums_and_repeat(demo_ws: Workspace) -> None:
    options = ReportOptions(ci=0.9)
    first = reports.run_report(demo_ws, "attribution", period="2026-Q4", report_options=options)
    again = reports.run_report(demo_ws, "attribution", period="2026-Q4", report_options=options)
    credits = first.sections["credits"]
    assert credits.equals(again.sections["credits"])  # seeded: the same intervals
    totals: dict[tuple[str, str, str], float] = defaultdict(float)
    for row in credits.to_pylist():
        assert row["conversions_low"] <= row["conversions_high"]
        assert row["value_low"] <= row["value_high"]
        assert row["conversions_low"] >= 0.0
        totals[(row["conversion"], row["dimension"], row["model"])] += row["conversions"]
    per_kind: dict[str, set[float]] = defaultdict(set)
    for (kind, _dimension, _model), total in totals.items():
        per_kind[kind].add(round(total, 6))
    assert all(len(values) == 1 for values in per_kind.values()), per_kind
    plain = reports.run_report(demo_ws, "attribution", period="2026-Q4")
    assert (
        plain.sections["credits"]["conversions_low"].null_count
        == plain.sections["credits"].num_rows
    )
    assert plain.sections["credits"].drop(list(INTERVALS)).equals(credits.drop(list(INTERVALS)))


def test_ci_is_refused_where_it_means_nothing(demo_ws: Workspace) -> None:
    ws = str(demo_ws.settings.workspace)
    funnel = run(["report", "funnel", "-w", ws, "--ci", "0.95"])
    assert funnel.exit_code == 2
    assert "takes no ci" in funnel.stderr
    bad = run(["report", "attribution", "-w", ws, "--ci", "1.5"])
    assert bad.exit_code == 2
    assert "between 0 and 1" in bad.stderr
    other = run(["report", "funnel", "-w", ws, "--deal", "1"])
    assert other.exit_code == 2
    assert "--deal is for the attribution report" in other.stderr
    missing = run(["report", "attribution", "-w", ws, "--deal", "999999"])
    assert missing.exit_code == 1
    assert "no deal 999999" in missing.stderr
    assert "fct_deals" in missing.stderr


def test_export_writes_credits_that_sum_per_conversion_and_model(
    demo_ws: Workspace, tmp_path: Path
) -> None:
    _, files = reports.export(demo_ws, tmp_path, fmt="parquet")
    written = {f.table: f for f in files}
    assert "fct_attribution_credits" in written
    credits = pq.read_table(tmp_path / "fct_attribution_credits.parquet")
    assert credits.num_rows == written["fct_attribution_credits"].rows > 0
    deals = {
        d["id"]: float(d["amount"])
        for d in pq.read_table(tmp_path / "fct_deals.parquet").to_pylist()
        if d["status"] == "won"
    }
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    kinds = set()
    for row in credits.select(
        ["conversion_id", "conversion_kind", "deal_id", "model", "credit", "revenue_credit"]
    ).to_pylist():
        kinds.add(row["conversion_kind"])
        assert (row["deal_id"] is not None) == (row["conversion_kind"] == "won")
        key = (row["conversion_id"], row["model"])
        sums[key][0] += row["credit"]
        sums[key][1] += row["revenue_credit"]
    assert kinds == {"mql", "sql", "opportunity", "won"}
    assert {model for _, model in sums} == set(MODELS)
    for (conversion, _model), (credit, revenue) in sums.items():
        assert credit == pytest.approx(1.0)
        if conversion.startswith("won:deal:"):
            assert revenue == pytest.approx(deals[int(conversion.rsplit(":", 1)[1])])
        else:
            assert revenue == 0.0
    _, csv_files = reports.export(
        demo_ws, tmp_path / "csv", fmt="csv", only=("fct_attribution_credits",)
    )
    assert [f.table for f in csv_files] == ["fct_attribution_credits"]
    assert pacsv.read_csv(tmp_path / "csv" / "fct_attribution_credits.csv").num_rows == (
        credits.num_rows
    )


def _key(ws: Workspace, role: Role, user: str | None = None) -> dict[str, str]:
    secret = admin.create_api_key(ws, name=f"{role.value}-{user}", role=role, user_email=user)
    return {"Authorization": f"Bearer {secret.secret}"}


def test_api_deal_attribution_follows_the_deal_routes_role_rules(fresh_ws: Workspace) -> None:
    from fastapi.testclient import TestClient

    from smarketing.api.app import create_app

    (own,) = _sql(fresh_ws, STORY_DEAL_SQL)
    owners = _sql(
        fresh_ws,
        f"SELECT u.email FROM deals d JOIN users u ON u.id = d.owner_id WHERE d.id = {own['id']}",
    )
    rep = owners[0]["email"]
    others = _sql(
        fresh_ws,
        "SELECT email FROM users WHERE role = 'sales' AND manager_id IS NOT "
        f"NULL AND email <> '{rep}' AND email <> 'sales@demo.test'",
    )
    app = create_app(fresh_ws.settings, clock=fresh_ws.clock)
    url = f"/api/deals/{own['id']}/attribution"
    with TestClient(app) as client:
        got = client.get(url, headers=_key(fresh_ws, Role.SALES, rep))
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["status"] == "won"
        assert body["notes"] == []
        for model in MODELS:
            assert sum(t["credits"][model]["share"] for t in body["touches"]) == pytest.approx(1)
            team_revenue = sum(t["revenue"] for t in body["teams"] if t["model"] == model)
            assert team_revenue == pytest.approx(float(own["amount"]))
        assert client.get(url, headers=_key(fresh_ws, Role.ADMIN)).status_code == 200
        # Closed-loop reporting is shared: marketing sees who earned the deal too.
        shared = client.get(url, headers=_key(fresh_ws, Role.MARKETING))
        assert shared.status_code == 200, shared.text
        assert shared.json()["teams"] == body["teams"]
        if others:
            other = client.get(url, headers=_key(fresh_ws, Role.SALES, others[0]["email"]))
            assert other.status_code == 404
        missing = client.get("/api/deals/999999/attribution", headers=_key(fresh_ws, Role.ADMIN))
        assert missing.status_code == 404
        report = client.get(
            "/api/reports/attribution?period=2026-Q4&ci=0.95", headers=_key(fresh_ws, Role.VIEWER)
        )
        assert report.status_code == 200, report.text
        assert set(INTERVALS) <= set(report.json()["sections"]["credits"]["columns"])
        row = report.json()["sections"]["credits"]["rows"][0]
        assert row["conversions_low"] is not None
        bad = client.get("/api/reports/attribution?ci=2", headers=_key(fresh_ws, Role.VIEWER))
        assert bad.status_code == 422


def _attribution(engine: Engine, ws: Workspace, *, touch_order: bool = False) -> pa.Table:
    ctx = ReportContext(
        parse_period("2026-Q4", today=ws.clock.now().date()),
        ws.playbook.playbook,
        unbound(),
        ReportOptions(ci=0.95),
        touch_order=touch_order,
    )
    report = get_report("attribution")
    assert report.finish is not None
    results = {key: execute(engine, expr) for key, expr in report.build(ctx).items()}
    return report.finish(ctx, results)["credits"]


@pytest.mark.spark
def test_spark_attribution_with_intervals_equals_duckdb(
    spark: Any, demo_ws: Workspace, tmp_path: Path
) -> None:
    from smarketing.analytics.engines.spark_engine import SparkEngine

    reports.export(demo_ws, tmp_path, fmt="parquet", only=reports.SPARK_TABLES)
    duck = DuckDBEngine(demo_ws.settings.analytics_path)
    try:
        expected = _attribution(duck, demo_ws, touch_order=True)  # the copy's sorted touches
    finally:
        duck.close()
    got = _attribution(SparkEngine(spark, tmp_path, cache=True), demo_ws)  # the engine's sort
    assert expected.num_rows > 0
    assert expected["conversions_low"].null_count == 0
    assert_tables_equal(expected, got, where="attribution with intervals")

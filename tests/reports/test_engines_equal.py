"""The same report expressions give the same answers on DuckDB, PySpark and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from smarketing.analytics.engines.base import Engine, execute
from smarketing.analytics.engines.duckdb_engine import DuckDBEngine
from smarketing.analytics.reports.period import parse_period
from smarketing.analytics.reports.registry import ReportContext, get_report
from smarketing.analytics.tables import unbound
from smarketing.services import reports
from smarketing.services.workspace import Workspace
from tests.reports.helpers import assert_tables_equal

REPORTS = (
    "funnel",
    "velocity",
    "sources",
    "rejections",
    "sla",
    "goals",
    "content",
    "retention",
    "impact",
)
PERIODS = ("2026-Q4", "last-90-days")


def _run_all(engine: Engine, ws: Workspace, period: str) -> dict[str, dict[str, pa.Table]]:
    ctx = ReportContext(
        parse_period(period, today=ws.clock.now().date()), ws.playbook.playbook, unbound()
    )
    out = {}
    for name in REPORTS:
        if name == "goals" and period != "2026-Q4":
            continue  # the playbook has a goal for the quarter only
        report = get_report(name)
        results = {k: execute(engine, e) for k, e in report.build(ctx).items()}
        out[name] = report.finish(ctx, results) if report.finish else results
    return out


def _assert_same(
    left: dict[str, dict[str, pa.Table]], right: dict[str, dict[str, pa.Table]]
) -> None:
    assert left.keys() == right.keys()
    for name, sections in left.items():
        assert sections.keys() == right[name].keys(), name
        for section, table in sections.items():
            assert_tables_equal(table, right[name][section], where=f"{name}/{section}")


@pytest.fixture(scope="module")
def duckdb_results(demo_ws: Workspace) -> dict[str, dict[str, dict[str, pa.Table]]]:
    reports.sync_analytics(demo_ws)
    engine = DuckDBEngine(demo_ws.settings.analytics_path)
    try:
        return {p: _run_all(engine, demo_ws, p) for p in PERIODS}
    finally:
        engine.close()


@pytest.fixture(scope="module")
def parquet_dir(demo_ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    reports.export(demo_ws, folder, fmt="parquet")
    return folder


@pytest.mark.spark
def test_spark_answers_like_duckdb(
    spark: Any,
    demo_ws: Workspace,
    parquet_dir: Path,
    duckdb_results: dict[str, dict[str, dict[str, pa.Table]]],
) -> None:
    """Every report, every section, on the quarter (Spark's time is its per-query overhead)."""
    from smarketing.analytics.engines.spark_engine import SparkEngine

    engine = SparkEngine(spark, parquet_dir, cache=True)
    _assert_same(duckdb_results["2026-Q4"], _run_all(engine, demo_ws, "2026-Q4"))


@pytest.mark.spark
def test_cli_runs_a_report_on_spark(spark: Any, demo_ws: Workspace, parquet_dir: Path) -> None:
    result = reports.run_report(
        demo_ws,
        "funnel",
        period="2026-Q4",
        engine="spark",
        options=reports.EngineOptions(parquet_dir=parquet_dir, spark_session=spark),
    )
    assert result.engine == "spark"
    assert result.sections["stages"].num_rows > 0


@pytest.fixture(scope="module")
def postgres_demo(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    from smarketing.demo import build_demo
    from smarketing.domain.clock import FrozenClock
    from smarketing.services.workspace import open_workspace
    from smarketing.settings import load_settings
    from tests.conftest import _fresh_postgres_schema
    from tests.reports.conftest import CLOCK_AT

    _fresh_postgres_schema(postgres_server)
    settings = load_settings(
        workspace=tmp_path_factory.mktemp("pg") / "ws", database_url=postgres_server
    )
    build_demo(settings, people=400, seed=5, progress=False, today=date(2026, 11, 20))
    ws = open_workspace(settings, clock=FrozenClock(CLOCK_AT))
    yield ws
    ws.close()


@pytest.mark.postgres
def test_postgres_answers_like_its_duckdb_copy(postgres_demo: Workspace) -> None:
    from smarketing.analytics.engines.postgres_engine import PostgresEngine

    synced = reports.sync_analytics(postgres_demo)  # the copy fed from PostgreSQL (COPY)
    assert synced.full
    assert synced.rows("touchpoints") > 0
    assert reports.sync_analytics(postgres_demo).total_rows == synced.rows("playbook_signoffs")
    duck = DuckDBEngine(postgres_demo.settings.analytics_path)
    try:
        expected = {p: _run_all(duck, postgres_demo, p) for p in PERIODS}
    finally:
        duck.close()
    pg = PostgresEngine(postgres_demo.db.engine)
    _assert_same(expected["2026-Q4"], _run_all(pg, postgres_demo, "2026-Q4"))
    _assert_same(expected["last-90-days"], _run_all(pg, postgres_demo, "last-90-days"))


@pytest.mark.postgres
def test_postgres_attribution_equals_its_duckdb_copy(postgres_demo: Workspace) -> None:
    """The attribution report's journey rows (joins, ranks and sorts) straight on the store."""
    from smarketing.analytics.engines.postgres_engine import PostgresEngine

    reports.sync_analytics(postgres_demo)
    ctx = ReportContext(
        parse_period("2026-Q4", today=postgres_demo.clock.now().date()),
        postgres_demo.playbook.playbook,
        unbound(),
    )
    duck = DuckDBEngine(postgres_demo.settings.analytics_path)
    try:  # DuckDB from the copy's sorted touches, PostgreSQL with the engine's sort
        expected = reports.report_on_engine(duck, "attribution", replace(ctx, touch_order=True))[
            "credits"
        ]
    finally:
        duck.close()
    got = reports.report_on_engine(PostgresEngine(postgres_demo.db.engine), "attribution", ctx)
    assert expected.num_rows > 0
    assert_tables_equal(expected, got["credits"], where="attribution on PostgreSQL")

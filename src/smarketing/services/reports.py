"""Use cases behind `smarketing report|export|sync` and `GET /api/reports/{name}`.

DuckDB (the default) syncs the workspace's copy first, then reads it; `postgres` runs on a
PostgreSQL store directly; `spark` reads Parquet files written by `export` (a fresh export
into the workspace unless a folder is given).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from smarketing.analytics.engines.base import (
    DEFAULT_LIMITS,
    Engine,
    EngineName,
    Limits,
    execute,
    to_sql,
)
from smarketing.analytics.engines.duckdb_engine import DuckDBEngine, keep_open
from smarketing.analytics.engines.spark_engine import EXPORT_NAMES
from smarketing.analytics.export import ExportedFile, ExportFormat, export_tables
from smarketing.analytics.reports.period import Period, parse_period
from smarketing.analytics.reports.registry import (
    ReportContext,
    ReportDef,
    ReportOptions,
    get_report,
)
from smarketing.analytics.sync import SyncResult, sync_copy
from smarketing.analytics.tables import unbound
from smarketing.errors import UsageError
from smarketing.services.workspace import Workspace

SPARK_EXPORT_DIRNAME = "analytics-parquet"
SPARK_TABLES = tuple(EXPORT_NAMES.values())


@dataclass(frozen=True, slots=True)
class ReportResult:
    name: str
    period: Period | None
    engine: EngineName
    sections: dict[str, pa.Table]
    seconds: float
    sync: SyncResult | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.name,
            "period": self.period.as_dict() if self.period else None,
            "engine": self.engine,
            "sections": {
                name: {"columns": table.column_names, "rows": table.to_pylist()}
                for name, table in self.sections.items()
            },
        }


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How to reach the engine: Spark's master and Parquet folder, the query limits."""

    spark_master: str = "local[2]"
    parquet_dir: Path | None = None
    spark_session: Any = None
    limits: Limits = field(default_factory=lambda: DEFAULT_LIMITS)


def _sync(ws: Workspace, engine: DuckDBEngine, *, full: bool = False) -> SyncResult:
    """Sync the copy, its touches kept sorted for the playbook's journeys."""
    return sync_copy(
        ws.db,
        engine.connection(),
        now=ws.clock.now(),
        full=full,
        touch_order_per=ws.playbook.playbook.attribution.per,
    )


def prepare_server(keep_open_seconds: float) -> None:
    """What a long-running process does for its reports: keep the copy open between them
    (`duckdb_engine.keep_open`; SMARKETING_ANALYTICS_KEEP_OPEN_SECONDS), and load now what
    its first report would (Ibis's SQL compilers, and pandas, which pyarrow loads to turn
    numpy arrays into Arrow: about 0.4 s)."""
    keep_open(keep_open_seconds)
    with contextlib.suppress(ImportError):  # ibis-framework[duckdb] installs it
        import pandas  # noqa: F401

    to_sql(unbound().people.limit(1), "duckdb")


def sync_analytics(ws: Workspace, *, full: bool = False) -> SyncResult:
    """Bring the DuckDB copy up to date (incrementally unless `full`)."""
    engine = DuckDBEngine(ws.settings.analytics_path)
    try:
        return _sync(ws, engine, full=full)
    finally:
        engine.close()


def export(
    ws: Workspace,
    out_dir: Path,
    *,
    fmt: ExportFormat = "parquet",
    limits: Limits = DEFAULT_LIMITS,
    only: tuple[str, ...] | None = None,
) -> tuple[SyncResult, list[ExportedFile]]:
    """Sync, then write the dbt-style tables (or `only` those) to `out_dir`."""
    engine = DuckDBEngine(ws.settings.analytics_path)
    try:
        synced = _sync(ws, engine)
        written = export_tables(
            engine,
            unbound(),
            out_dir,
            fmt,
            limits=limits,
            only=only,
            attribution=ws.playbook.playbook.attribution,
        )
        return synced, written
    finally:
        engine.close()


@contextmanager
def open_engine(
    ws: Workspace, name: EngineName, options: EngineOptions
) -> Iterator[tuple[Engine, SyncResult | None]]:
    """The engine `name`, ready to query (DuckDB synced first), closed afterwards."""
    if name == "duckdb":
        duck = DuckDBEngine(ws.settings.analytics_path)
        try:
            synced = _sync(ws, duck)
            yield duck, synced
        finally:
            duck.close()
    elif name == "postgres":
        from smarketing.analytics.engines.postgres_engine import PostgresEngine

        yield PostgresEngine(ws.db.engine), None
    elif name == "spark":
        from smarketing.analytics.engines.spark_engine import SparkEngine, spark_session

        synced = None
        folder = options.parquet_dir
        if folder is None:
            folder = ws.settings.workspace / SPARK_EXPORT_DIRNAME
            # the analytics tables only: Spark reads no derived table such as the credits
            synced, _ = export(ws, folder, fmt="parquet", limits=options.limits, only=SPARK_TABLES)
        session = options.spark_session or spark_session(options.spark_master)
        yield SparkEngine(session, folder), synced
    else:
        raise UsageError(f"unknown engine {name!r}", hint="use duckdb, postgres or spark")


def run_report(
    ws: Workspace,
    name: str,
    *,
    period: str | None = None,
    engine: EngineName = "duckdb",
    options: EngineOptions | None = None,
    report_options: ReportOptions | None = None,
) -> ReportResult:
    """Build report `name` for `period` and run it on `engine` (`report_options`: e.g. the
    attribution report's confidence level)."""
    report = get_report(name)
    report_options = report_options or ReportOptions()
    report.check(report_options)
    options = options or EngineOptions()
    today = ws.clock.now().date()
    parsed = parse_period(period, today=today)
    ctx = ReportContext(
        period=parsed,
        playbook=ws.playbook.playbook,
        tables=unbound(),
        options=report_options,
        touch_order=engine == "duckdb",
    )
    sections = report.build(ctx)  # before connecting: a bad request fails fast
    started = time.perf_counter()
    limits = report_limits(report, options.limits)
    with open_engine(ws, engine, options) as (eng, synced):
        results = {key: execute(eng, expr, limits=limits) for key, expr in sections.items()}
    if report.finish is not None:
        results = report.finish(ctx, results)
    return ReportResult(
        name=name,
        period=parsed if report.uses_period else None,
        engine=engine,
        sections=results,
        seconds=time.perf_counter() - started,
        sync=synced,
    )


def report_limits(report: ReportDef, limits: Limits) -> Limits:
    """The limits of a report's queries: the run's, with the report's own row cap for
    sections that are internal aggregates rather than rows shown to the user."""
    if report.max_rows is None:
        return limits
    return replace(limits, max_rows=max(limits.max_rows, report.max_rows))


def report_on_engine(
    eng: Engine, name: str, ctx: ReportContext, *, limits: Limits = DEFAULT_LIMITS
) -> dict[str, pa.Table]:
    """Report `name` for `ctx` on an engine already open and current (no sync): what
    `run_report` does once it has the engine (benchmarks on a prebuilt copy use it)."""
    report = get_report(name)
    report.check(ctx.options)
    sections = report.build(ctx)
    capped = report_limits(report, limits)
    results = {key: execute(eng, expr, limits=capped) for key, expr in sections.items()}
    return report.finish(ctx, results) if report.finish is not None else results

"""`smarketing report NAME`, `smarketing export DIR` and `smarketing sync`.

Ibis, DuckDB and Arrow are imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

import io
import json
import math
import sys
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from smarketing.cli.options import DEFAULT_WORKSPACE, WorkspaceOption, workspace_for
from smarketing.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from smarketing.analytics.engines.base import EngineName
    from smarketing.services.reports import EngineOptions, ReportResult
    from smarketing.services.workspace import Workspace

REPORTS_HELP = (
    "Report: funnel, velocity, sources, rejections, sla, goals, content, retention, impact, "
    "attribution (and any a plugin registers)."
)


class EngineChoice(StrEnum):
    DUCKDB = "duckdb"
    POSTGRES = "postgres"
    SPARK = "spark"


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


class ExportChoice(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"


_PERCENT_HINTS = ("rate", "_to_", "share", "roi", "retention", "conversion")


def report(
    name: Annotated[str, typer.Argument(help=REPORTS_HELP)],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    period: Annotated[
        str | None,
        typer.Option(help="2026-Q4, 2026-11, 2026 or last-90-days. Default: this quarter."),
    ] = None,
    engine: Annotated[EngineChoice, typer.Option(help="Where the query runs.")] = (
        EngineChoice.DUCKDB
    ),
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.TABLE
    ),
    out: Annotated[Path | None, typer.Option(help="Write to FILE instead of stdout.")] = None,
    section: Annotated[
        str | None, typer.Option(help="The section to write as csv/parquet (default: first).")
    ] = None,
    spark_master: Annotated[
        str, typer.Option(envvar="SMARKETING_SPARK_MASTER", help="Spark master URL.")
    ] = "local[2]",
    parquet_dir: Annotated[
        Path | None,
        typer.Option(help="Spark: read this export folder instead of exporting afresh."),
    ] = None,
    ci: Annotated[
        float | None,
        typer.Option(
            help="attribution: add bootstrap intervals at this confidence level (e.g. 0.95)."
        ),
    ] = None,
    deal: Annotated[
        int | None,
        typer.Option(
            help="attribution: who got what credit for this deal, touch by touch, every model "
            "(--period picks the population Markov and Shapley are fitted on; default: the "
            "quarter the deal closed in)."
        ),
    ] = None,
) -> None:
    """Run a closed-loop report (funnel, velocity, sources, sla, goals, attribution, ...)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from smarketing.analytics.export import neutralise_arrow
    from smarketing.analytics.reports.registry import ReportOptions
    from smarketing.services import reports

    options = reports.EngineOptions(spark_master=spark_master, parquet_dir=parquet_dir)
    with workspace_for(workspace) as ws:
        if deal is not None:
            result = _deal_report(ws, name, deal, period, engine.value, options, ci)
        else:
            result = reports.run_report(
                ws,
                name,
                period=period,
                engine=engine.value,
                options=options,
                report_options=ReportOptions(ci=ci),
            )
    if fmt is OutputFormat.PARQUET and out is None:
        raise UsageError("parquet needs a file", hint="add --out FILE.parquet")
    if fmt in (OutputFormat.CSV, OutputFormat.PARQUET):
        table = _section(result, section)
        if fmt is OutputFormat.PARQUET:
            assert out is not None
            pq.write_table(table, out)
            return
        buffer = io.BytesIO()
        pacsv.write_csv(neutralise_arrow(table), buffer)
        _emit(buffer.getvalue().decode(), out)
        return
    if fmt is OutputFormat.JSON:
        _emit(json.dumps(result.as_json(), indent=2, default=_json_default) + "\n", out)
        return
    _emit(render(result), out)


def _deal_report(
    ws: Workspace,
    name: str,
    deal_id: int,
    period: str | None,
    engine: EngineName,
    options: EngineOptions,
    ci: float | None,
) -> ReportResult:
    """`report attribution --deal ID`: the deal's breakdown as report sections."""
    import time

    from smarketing.services.attribution import deal_attribution
    from smarketing.services.reports import ReportResult

    if name != "attribution":
        raise UsageError(f"--deal is for the attribution report, not {name}")
    if ci is not None:
        raise UsageError(
            "--ci applies to the attribution report's totals, not to one deal's breakdown",
            hint="drop --ci, or drop --deal",
        )
    started = time.perf_counter()
    credit = deal_attribution(ws, deal_id, period=period, engine=engine, options=options)
    for note in credit.notes:
        typer.echo(f"note: {note}", err=True)
    return ReportResult(
        name=f"attribution of deal {deal_id}",
        period=credit.basis.period,
        engine=engine,
        sections=credit.sections(),
        seconds=time.perf_counter() - started,
    )


def _section(result: ReportResult, name: str | None) -> pa.Table:
    if name is None:
        return next(iter(result.sections.values()))
    if name not in result.sections:
        raise UsageError(
            f"report {result.name} has no section {name!r}",
            hint=f"sections: {', '.join(result.sections)}",
        )
    return result.sections[name]


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if any(hint in column for hint in _PERCENT_HINTS):
            return f"{value * 100:.1f}%"
        return f"{value:,.2f}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(result: ReportResult) -> str:
    """The sections as aligned text tables."""
    when = f" {result.period.label}" if result.period else ""
    lines = [f"{result.name}{when} ({result.engine}, {result.seconds:.2f} s)"]
    for name, table in result.sections.items():
        rows = [[_cell(c, row[c]) for c in table.column_names] for row in table.to_pylist()]
        widths = [
            max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(table.column_names)
        ]
        lines += ["", f"## {name}"]
        lines.append("  ".join(c.ljust(w) for c, w in zip(table.column_names, widths, strict=True)))
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        if not rows:
            lines.append("(no rows)")
    return "\n".join(lines) + "\n"


def export(
    directory: Annotated[Path, typer.Argument(help="Folder to write the tables into.")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    fmt: Annotated[ExportChoice, typer.Option("--format", help="File format.")] = (
        ExportChoice.PARQUET
    ),
) -> None:
    """Export dim_people, dim_accounts, fct_touchpoints, fct_transitions, fct_deals,
    fct_attribution_credits (and the tables reports need) as Parquet or CSV."""
    from smarketing.services import reports

    with workspace_for(workspace) as ws:
        synced, files = reports.export(ws, directory, fmt=fmt.value)
    typer.echo(synced.describe(), err=True)
    for f in files:
        typer.echo(f"{f.path}  {f.rows:,} rows")


def sync(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    full: Annotated[bool, typer.Option("--full", help="Rebuild the copy from scratch.")] = False,
) -> None:
    """Bring the analytics copy (analytics.duckdb) up to date with the store."""
    from smarketing.services import reports

    with workspace_for(workspace) as ws:
        result = reports.sync_analytics(ws, full=full)
    typer.echo(result.describe())
    for t in result.tables:
        if t.rows:
            typer.echo(f"  {t.table}: {t.rows:,} rows{' (full)' if t.full else ''}")

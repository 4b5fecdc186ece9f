"""`smarketing export`: the analytics tables as dbt-style Parquet or CSV files.

The core tables are `dim_people` (people plus their source and the time they reached each
stage), `dim_accounts`, `fct_touchpoints`, `fct_transitions` and `fct_deals`; the tables the
reports also need (`dim_users`, `dim_campaigns`, `dim_content_items`, `fct_handoffs`,
`fct_sla_clocks`, `dim_playbook_versions`, `fct_playbook_signoffs`) are written beside them,
so Spark (`--engine spark`) or any warehouse can run the same reports on the files.

Other modules add tables with `register_export(name, builder)`: the builder gets an
`ExportContext` and returns an Ibis expression over the analytics tables, an Arrow table, or an
`ExportStream` of record batches written one after the other (`fct_attribution_credits`,
computed in numpy one conversion kind at a time, see `analytics.credits_export`).

CSV cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab
or a carriage return) are prefixed with `'`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from smarketing.analytics.engines.base import Limits, execute, to_sql
from smarketing.analytics.engines.duckdb_engine import DuckDBEngine
from smarketing.analytics.engines.spark_engine import EXPORT_NAMES
from smarketing.analytics.reports.common import SIDE_COLUMNS, STAGE_COLUMNS, journeys
from smarketing.analytics.tables import SPECS, Tables
from smarketing.playbook.schema import Attribution

ExportFormat = Literal["parquet", "csv"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ExportContext:
    tables: Tables
    run: Callable[[ir.Table], pa.Table]
    """Run an expression through the engine gate (time limit and row cap)."""
    fetch: Callable[[ir.Table], pa.Table]
    """Run an expression with the time limit but no row cap (a builder reading in chunks)."""
    attribution: Attribution = field(default_factory=Attribution)
    """The playbook's attribution settings (lookback, per person or account, weights)."""


@dataclass(frozen=True, slots=True)
class ExportStream:
    """A table written batch by batch, so it never has to be whole in memory."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]


ExportBuilder = Callable[[ExportContext], "ir.Table | pa.Table | ExportStream"]
UNCAPPED_ROWS = 10**15


@dataclass(frozen=True, slots=True)
class ExportedFile:
    table: str
    path: Path
    rows: int


def dim_people(ctx: ExportContext) -> ir.Table:
    t = ctx.tables
    j = journeys(t)
    p = t.people
    joined = p.left_join(j, p.id == j.person_id)
    extra = (
        "first_touch_at",
        "source_channel",
        "source_campaign_id",
        "source_campaign",
        "source_content_id",
        *STAGE_COLUMNS.values(),
        *SIDE_COLUMNS.values(),
    )
    return joined.select(*[p[c] for c in p.columns], **{c: j[c] for c in extra}).order_by("id")


def _plain(name: str) -> ExportBuilder:
    def build(ctx: ExportContext) -> ir.Table:
        table: ir.Table = getattr(ctx.tables, name)
        return table.order_by("id")

    return build


EXPORTS: dict[str, ExportBuilder] = {
    EXPORT_NAMES[spec.name]: (dim_people if spec.name == "people" else _plain(spec.name))
    for spec in SPECS
}
CORE_TABLES = ("dim_people", "dim_accounts", "fct_touchpoints", "fct_transitions", "fct_deals")


def register_export(name: str, builder: ExportBuilder) -> None:
    """Add a table to every export (e.g. `fct_attribution_credits`)."""
    EXPORTS[name] = builder


def neutralise(expr: ir.Table) -> ir.Table:
    """String cells that start like a formula get a leading `'` (CSV injection)."""
    columns: dict[str, ir.Value] = {}
    for name, dtype in expr.schema().items():
        column = expr[name]
        if dtype.is_string():
            risky = column.substr(0, 1).isin(FORMULA_STARTS)
            columns[name] = ibis.ifelse(risky, "'" + column, column)
        else:
            columns[name] = column
    return expr.select(**columns)


def neutralise_arrow(table: pa.Table) -> pa.Table:
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            first = pc.utf8_slice_codeunits(column, 0, 1)
            risky = pc.fill_null(pc.is_in(first, pa.array(FORMULA_STARTS)), False)
            columns.append(pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column))
        else:
            columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _copy_sql(sql: str, path: Path, fmt: ExportFormat) -> str:
    target = str(path).replace("'", "''")
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    return f"COPY ({sql}) TO '{target}' ({options})"


def export_tables(
    engine: DuckDBEngine,
    tables: Tables,
    out_dir: Path,
    fmt: ExportFormat,
    *,
    limits: Limits,
    only: tuple[str, ...] | None = None,
    attribution: Attribution | None = None,
) -> list[ExportedFile]:
    """Write every registered export table (or `only` those) to `out_dir`."""
    _load_builtins()
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = ExportContext(
        tables=tables,
        run=lambda expr: execute(engine, expr, limits=Limits(limits.timeout_seconds)),
        fetch=lambda expr: execute(
            engine, expr, limits=Limits(limits.timeout_seconds, UNCAPPED_ROWS)
        ),
        attribution=attribution or Attribution(),
    )
    written: list[ExportedFile] = []
    for name, builder in EXPORTS.items():
        if only is not None and name not in only:
            continue
        path = out_dir / f"{name}.{fmt}"
        built = builder(ctx)
        if isinstance(built, pa.Table):
            built = ExportStream(schema=built.schema, batches=iter(built.to_batches()))
        if isinstance(built, ExportStream):
            written.append(ExportedFile(name, path, _write_stream(built, path, fmt)))
            continue
        expr = built if fmt == "parquet" else neutralise(built)
        rows = engine.run_statement(_copy_sql(to_sql(expr, "duckdb"), path, fmt), limits=limits)
        written.append(ExportedFile(name, path, rows))
    return written


def _write_stream(stream: ExportStream, path: Path, fmt: ExportFormat) -> int:
    rows = 0
    if fmt == "parquet":
        with pq.ParquetWriter(path, stream.schema, compression="zstd") as writer:
            for batch in stream.batches:
                writer.write_batch(batch)
                rows += batch.num_rows
        return rows
    with pacsv.CSVWriter(path, stream.schema) as csv_writer:
        for batch in stream.batches:
            safe = neutralise_arrow(pa.Table.from_batches([batch], schema=stream.schema))
            csv_writer.write_table(safe)
            rows += batch.num_rows
    return rows


def _load_builtins() -> None:
    # Importing a module that registers an export table adds it (once).
    from smarketing.analytics import credits_export  # noqa: F401

"""`smarketing attribute FILE --model MODEL ...`: credit per model and channel from a paths file."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from smarketing.analytics.attribution import (
    DEFAULT_REPLICATES,
    MODEL_NAMES,
    AttributionResult,
    AttributionSettings,
    JourneyColumns,
    parse_weights,
)
from smarketing.analytics.attribution import (
    attribute as run_attribution,
)
from smarketing.analytics.attribution.models import (
    DEFAULT_FULL_PATH_WEIGHTS,
    DEFAULT_POSITION_WEIGHTS,
    DEFAULT_W_SHAPED_WEIGHTS,
)


class OutputFormat(StrEnum):
    csv = "csv"
    json = "json"
    table = "table"


def _weights_text(weights: tuple[float, ...]) -> str:
    return ",".join(f"{w:g}" for w in weights)


def attribute(
    file: Annotated[
        Path,
        typer.Argument(help="CSV or Parquet file, one row per journey or per distinct path."),
    ],
    model: Annotated[
        list[str],
        typer.Option(
            "--model",
            "-m",
            help="Model to run; repeat for several, or 'all'. One of: "
            + ", ".join(MODEL_NAMES)
            + ".",
            show_default=False,
        ),
    ],
    path_column: Annotated[
        str, typer.Option(help="Column with the channels of each path, joined by --sep.")
    ] = "path",
    conversions_column: Annotated[
        str, typer.Option(help="Column with the number of conversions of the row.")
    ] = "total_conversions",
    value_column: Annotated[
        str | None,
        typer.Option(
            help="Column with the conversion value. Default: total_conversion_value if present.",
            show_default=False,
        ),
    ] = None,
    null_column: Annotated[
        str | None,
        typer.Option(
            help="Column with the journeys that did not convert. Default: total_null if "
            "present; without it a row with no conversion is one journey that did not convert.",
            show_default=False,
        ),
    ] = None,
    time_column: Annotated[
        str | None,
        typer.Option(
            help="time_decay: per-touch times joined by --sep, as day numbers or ISO 8601 "
            "timestamps. Without it touches are taken one day apart.",
            show_default=False,
        ),
    ] = None,
    lead_index_column: Annotated[
        str | None,
        typer.Option(help="w_shaped/full_path: 0-based index of the lead-creation touch."),
    ] = None,
    opportunity_index_column: Annotated[
        str | None,
        typer.Option(help="w_shaped/full_path: 0-based index of the opportunity-creation touch."),
    ] = None,
    won_index_column: Annotated[
        str | None,
        typer.Option(help="full_path: 0-based index of the closed-won touch."),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option(help="CSV field delimiter. Default: sniffed from the header line."),
    ] = None,
    sep: Annotated[str, typer.Option(help="Separator between channels in a path.")] = ">",
    output_format: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            help="Output format. Default: from the --out suffix, else table.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the result to this file instead of stdout.")
    ] = None,
    ci: Annotated[
        float | None,
        typer.Option(help="Add bootstrap intervals at this level, e.g. 0.95.", show_default=False),
    ] = None,
    replicates: Annotated[
        int, typer.Option(help="Bootstrap replicates for --ci.")
    ] = DEFAULT_REPLICATES,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    half_life_days: Annotated[float, typer.Option(help="time_decay half-life in days.")] = 7.0,
    position_weights: Annotated[
        str, typer.Option(help="position_based weights: first, middle, last.")
    ] = _weights_text(DEFAULT_POSITION_WEIGHTS),
    w_shaped_weights: Annotated[
        str,
        typer.Option(help="w_shaped weights: first, lead creation, opportunity creation, rest."),
    ] = _weights_text(DEFAULT_W_SHAPED_WEIGHTS),
    full_path_weights: Annotated[
        str,
        typer.Option(help="full_path weights: first, lead, opportunity, closed-won, rest."),
    ] = _weights_text(DEFAULT_FULL_PATH_WEIGHTS),
    weights: Annotated[
        str | None,
        typer.Option(
            help="custom: weights of equal position buckets, e.g. 0.3,0.3,0.4.",
            show_default=False,
        ),
    ] = None,
    order: Annotated[int, typer.Option(help="markov: order of the chain (1 to 3).")] = 1,
    collapse: Annotated[
        bool,
        typer.Option(
            "--collapse/--no-collapse",
            help="markov: merge consecutive repeats of a channel (A > A > B is A > B).",
        ),
    ] = True,
) -> None:
    """Credit conversions and value to channels with one or more attribution models."""
    settings = AttributionSettings(
        half_life_days=half_life_days,
        position_weights=parse_weights(position_weights, option="--position-weights"),
        w_shaped_weights=parse_weights(w_shaped_weights, option="--w-shaped-weights"),
        full_path_weights=parse_weights(full_path_weights, option="--full-path-weights"),
        custom_weights=None if weights is None else parse_weights(weights, option="--weights"),
        markov_order=order,
        collapse_repeats=collapse,
    )
    columns = JourneyColumns(
        path=path_column,
        conversions=conversions_column,
        value=value_column,
        nulls=null_column,
        touch_times=time_column,
        lead_index=lead_index_column,
        opportunity_index=opportunity_index_column,
        won_index=won_index_column,
    )
    result = run_attribution(
        file,
        models=model,
        columns=columns,
        settings=settings,
        sep=sep,
        delimiter=delimiter,
        ci=ci,
        replicates=replicates,
        seed=seed,
    )
    chosen = output_format or _format_for(out)
    rendered = _render(result, chosen, to_terminal=out is None and sys.stdout.isatty())
    if out is None:
        typer.echo(rendered, nl=False)
    else:
        out.write_text(rendered, encoding="utf-8")
        typer.echo(f"wrote {len(result.to_pylist())} rows to {out}", err=True)
    _report_dropped(result)


def _format_for(out: Path | None) -> OutputFormat:
    if out is not None and out.suffix.lower() == ".csv":
        return OutputFormat.csv
    if out is not None and out.suffix.lower() == ".json":
        return OutputFormat.json
    return OutputFormat.table


def _render(result: AttributionResult, output_format: OutputFormat, *, to_terminal: bool) -> str:
    rows = result.to_pylist()
    if output_format is OutputFormat.json:
        return json.dumps(rows, indent=2) + "\n"
    if output_format is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        for row in rows:
            writer.writerow(["" if row[name] is None else row[name] for name in result.columns])
        return buffer.getvalue()
    return _rich_table(result, rows, to_terminal=to_terminal)


def _rich_table(
    result: AttributionResult, rows: list[dict[str, object]], *, to_terminal: bool
) -> str:
    from rich.console import Console  # imported here: only the table format needs rich
    from rich.table import Table

    totals = result.totals
    caption = f"{totals.credited_conversions:,.2f} conversions"
    if result.has_value:
        caption += f", {totals.credited_value:,.2f} value"
    caption += f" from {totals.journeys - totals.dropped_journeys:,.0f} journeys"
    if result.ci is not None:
        caption += f"; {result.ci:.0%} bootstrap intervals, {result.replicates} replicates"
    table = Table(caption=caption)
    for name in result.columns:
        table.add_column(name, justify="left" if name in ("model", "channel") else "right")
    for row in rows:
        table.add_row(*(_cell(row[name]) for name in result.columns))
    width = shutil.get_terminal_size((160, 24)).columns if to_terminal else 160
    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True, highlight=False).print(table)
    return buffer.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _count(number: float, noun: str) -> str:
    return f"{number:,.0f} {noun}" + ("" if number == 1 else "s")


def _report_dropped(result: AttributionResult) -> None:
    totals = result.totals
    if totals.dropped_journeys > 0 or totals.dropped_conversions > 0:
        value = f", {totals.dropped_value:,.2f} value" if result.has_value else ""
        typer.echo(
            f"note: dropped {_count(totals.dropped_journeys, 'journey')} without any touch "
            f"({_count(totals.dropped_conversions, 'conversion')}{value})",
            err=True,
        )

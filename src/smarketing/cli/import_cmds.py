"""`smarketing import hubspot|salesforce|csv FILE`: CRM exports and other CSV files."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from smarketing.cli.options import DEFAULT_WORKSPACE, WorkspaceOption, workspace_for
from smarketing.services.imports import (
    DEFAULT_CHUNK_ROWS,
    ImportOptions,
    ImportReport,
    ImportSource,
    run_import,
)

app = typer.Typer(
    help="Import CRM exports (HubSpot, Salesforce) and other CSV files. Resumable: run the "
    "same command again after an interruption. See docs/imports.md.",
    no_args_is_help=True,
)


class HubSpotObject(StrEnum):
    CONTACTS = "contacts"
    COMPANIES = "companies"
    DEALS = "deals"


class SalesforceObject(StrEnum):
    LEADS = "leads"
    CONTACTS = "contacts"
    ACCOUNTS = "accounts"
    OPPORTUNITIES = "opportunities"
    CAMPAIGNS = "campaigns"
    CAMPAIGN_MEMBERS = "campaign-members"


FileArgument = Annotated[
    Path,
    typer.Argument(
        metavar="FILE", help="The CSV export.", exists=True, dir_okay=False, readable=True
    ),
]
ErrorsOption = Annotated[
    Path | None,
    typer.Option("--errors", help="Where rejected rows go (default: FILE.errors.csv beside it)."),
]
EncodingOption = Annotated[
    str | None,
    typer.Option(help="File encoding (default: detected: UTF-8, UTF-16, Windows-1252/Latin-1)."),
]
DelimiterOption = Annotated[
    str | None, typer.Option(help="Cell delimiter (default: sniffed among , ; tab |).")
]
DateFormatOption = Annotated[
    str | None,
    typer.Option(help="strptime format of dates, e.g. %d/%m/%Y (default: ISO, US, D.M.YYYY)."),
]
TimezoneOption = Annotated[
    str | None, typer.Option(help="Time zone of times without an offset (default: UTC).")
]
ChunkOption = Annotated[
    int, typer.Option("--chunk-size", help="Rows per transaction and checkpoint.")
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only the summary line (for scripts).")
]


class _ProgressBar:
    """Bytes read as the bar, with rows and rows/s; on stderr, only on a terminal."""

    def __init__(self, console: Console, label: str) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f} rows/s"),
            console=console,
            transient=True,
        )
        self.label = label
        self.task: TaskID | None = None
        self.started = time.monotonic()
        self.first_rows = 0

    def start(self, *, total_bytes: int, rows_done: int) -> None:
        self.progress.start()
        self.first_rows = rows_done
        self.started = time.monotonic()
        self.task = self.progress.add_task(self.label, total=total_bytes, rows=rows_done, rate=0)

    def advance(self, *, rows_done: int, bytes_read: int) -> None:
        if self.task is not None:
            elapsed = max(time.monotonic() - self.started, 1e-6)
            rate = (rows_done - self.first_rows) / elapsed
            self.progress.update(self.task, completed=bytes_read, rows=rows_done, rate=rate)

    def stop(self) -> None:
        self.progress.stop()


def _import(
    source: ImportSource,
    file: Path,
    *,
    workspace: Path,
    errors: Path | None,
    encoding: str | None,
    delimiter: str | None,
    date_format: str | None,
    timezone: str | None,
    chunk_size: int,
    quiet: bool,
) -> None:
    options = ImportOptions(
        encoding=encoding,
        delimiter=delimiter.replace("\\t", "\t").replace("tab", "\t") if delimiter else None,
        date_format=date_format,
        timezone=timezone,
        errors_path=errors,
        chunk_rows=chunk_size,
    )
    console = Console(stderr=True)
    bar = _ProgressBar(console, file.name) if console.is_terminal and not quiet else None
    try:
        with workspace_for(workspace) as ws:
            report = run_import(ws, source, file, options=options, progress=bar)
    finally:
        if bar is not None:
            bar.stop()
    _print_report(report, file, quiet=quiet)


def _print_report(report: ImportReport, file: Path, *, quiet: bool) -> None:
    run = report.run
    if not quiet:
        delimiter = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(
            report.delimiter, repr(report.delimiter)
        )
        typer.echo(f"{file} ({report.encoding}, {delimiter}-separated) as {run.kind}")
        if report.resumed_after_row:
            typer.echo(f"resumed import {run.id} after row {report.resumed_after_row}")
        if report.errors_file is not None:
            typer.echo(f"{run.rows_rejected} rows rejected: see {report.errors_file}")
    typer.echo(f"import {run.id} {run.status.value}: {run.summary}")


@app.command("hubspot")
def hubspot(
    obj: Annotated[HubSpotObject, typer.Argument(metavar="OBJECT", help="What the file holds.")],
    file: FileArgument,
    errors: ErrorsOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    date_format: DateFormatOption = None,
    timezone: TimezoneOption = None,
    chunk_size: ChunkOption = DEFAULT_CHUNK_ROWS,
    quiet: QuietOption = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Import a HubSpot export (UI or API) of contacts, companies or deals."""
    _import(
        ImportSource("hubspot", obj.value),
        file,
        workspace=workspace,
        errors=errors,
        encoding=encoding,
        delimiter=delimiter,
        date_format=date_format,
        timezone=timezone,
        chunk_size=chunk_size,
        quiet=quiet,
    )


@app.command("salesforce")
def salesforce(
    obj: Annotated[SalesforceObject, typer.Argument(metavar="OBJECT", help="What the file holds.")],
    file: FileArgument,
    errors: ErrorsOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    date_format: DateFormatOption = None,
    timezone: TimezoneOption = None,
    chunk_size: ChunkOption = DEFAULT_CHUNK_ROWS,
    quiet: QuietOption = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Import a Salesforce report or Data Loader export of leads, contacts, accounts,
    opportunities, campaigns or campaign members."""
    _import(
        ImportSource("salesforce", obj.value),
        file,
        workspace=workspace,
        errors=errors,
        encoding=encoding,
        delimiter=delimiter,
        date_format=date_format,
        timezone=timezone,
        chunk_size=chunk_size,
        quiet=quiet,
    )


@app.command("csv")
def csv_file(
    file: FileArgument,
    mapping: Annotated[
        Path,
        typer.Option(
            "--map", help="YAML mapping: object, columns, values.", exists=True, dir_okay=False
        ),
    ],
    errors: ErrorsOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    date_format: DateFormatOption = None,
    timezone: TimezoneOption = None,
    chunk_size: ChunkOption = DEFAULT_CHUNK_ROWS,
    quiet: QuietOption = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Import any CSV of people, accounts or deals through a YAML mapping."""
    _import(
        ImportSource("csv", mapping=mapping),
        file,
        workspace=workspace,
        errors=errors,
        encoding=encoding,
        delimiter=delimiter,
        date_format=date_format,
        timezone=timezone,
        chunk_size=chunk_size,
        quiet=quiet,
    )

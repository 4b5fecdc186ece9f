"""The Typer app and its runners: `main()` for the console script, `run(argv)` for tests.

Neither runner lets an exception escape as a traceback for expected problems: every
`SmarketingError` prints one line (`error: ...`) and ends with its exit code.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

import typer

from smarketing.cli import admin_cmds, events_cmds, import_cmds, playbook_cmds, workspace_cmds
from smarketing.cli.attribute_cmd import attribute
from smarketing.cli.errors import report_error
from smarketing.cli.report_cmds import export as export_cmd
from smarketing.cli.report_cmds import report as report_cmd
from smarketing.cli.report_cmds import sync as sync_cmd
from smarketing.cli.score_cmds import app as score_app
from smarketing.cli.webhooks_cmds import app as webhooks_app
from smarketing.cli.worker_cmd import worker
from smarketing.errors import SmarketingError

app = typer.Typer(
    name="smarketing",
    help="One platform for marketing and sales: a shared lead definition, closed-loop "
    "reporting and fair attribution.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"max_content_width": 100, "terminal_width": 100},
)
workspace_cmds.register(app)
app.add_typer(playbook_cmds.app, name="playbook")
admin_cmds.register(app)
app.add_typer(events_cmds.app, name="events")
app.add_typer(score_app, name="score")
app.add_typer(webhooks_app, name="webhooks")
app.command("worker")(worker)
app.add_typer(import_cmds.app, name="import")
app.command("attribute")(attribute)
app.command("report")(report_cmd)
app.command("export")(export_cmd)
app.command("sync")(sync_cmd)


def _invoke(argv: Sequence[str]) -> int:
    """Run the app in click's standalone mode (it prints usage errors and exits); our own
    errors pass through it and are reported here."""
    command = typer.main.get_command(app)
    try:
        command.main(args=list(argv), prog_name="smarketing", standalone_mode=True)
    except SmarketingError as exc:
        report_error(exc)
        return exc.exit_code
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    return 0


@dataclass(frozen=True, slots=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run(argv: Sequence[str], *, stdin: str | None = None) -> CliResult:
    """Run a command in-process and capture its output; never calls `sys.exit`."""
    out, err = io.StringIO(), io.StringIO()
    saved_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = _invoke(argv)
    finally:
        sys.stdin = saved_stdin
    return CliResult(code, out.getvalue(), err.getvalue())


def main() -> None:
    sys.exit(_invoke(sys.argv[1:]))

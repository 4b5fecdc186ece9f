"""`smarketing worker`: deliver webhooks (and run the other background jobs) in the foreground."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from smarketing.cli.options import DEFAULT_WORKSPACE, WorkspaceOption, workspace_for
from smarketing.services.worker import DEFAULT_INTERVAL_S, Worker


def worker(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds to pause between rounds.")
    ] = DEFAULT_INTERVAL_S,
    once: Annotated[bool, typer.Option("--once", help="Run one round and exit.")] = False,
) -> None:
    """Run the background jobs (webhook delivery with retries) until Ctrl-C or SIGTERM.

    Any number of workers may run against one PostgreSQL database; `serve` also runs one
    inside the server process.
    """
    with workspace_for(workspace) as ws:
        runner = Worker(ws)
        if once:
            outcomes = runner.run_once()
            for outcome in outcomes:
                typer.echo(outcome.describe())
            if any(o.error for o in outcomes):
                raise typer.Exit(1)
            return
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        stop = threading.Event()
        _stop_on_sigterm(stop)
        typer.echo(f"smarketing worker on {ws.settings.workspace.resolve()}; Ctrl-C stops it")
        try:
            runner.run_forever(stop, interval)
        except KeyboardInterrupt:
            stop.set()
        typer.echo("worker stopped")


def _stop_on_sigterm(stop: threading.Event) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())

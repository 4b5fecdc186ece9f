"""`smarketing events replay-failed`: retry tracked events that failed validation."""

from __future__ import annotations

from typing import Annotated

import typer

from smarketing.cli.options import DEFAULT_WORKSPACE, WorkspaceOption, workspace_for
from smarketing.services.replay import replay_failed

app = typer.Typer(help="Tracked events: replay the ones that failed.", no_args_is_help=True)


@app.command("replay-failed")
def replay(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    limit: Annotated[int, typer.Option(min=1, help="Most failed events to retry.")] = 10_000,
) -> None:
    """Retry failed events after a fix; the ones that pass are stored exactly once."""
    with workspace_for(workspace) as ws:
        result = replay_failed(ws, limit=limit)
    for reason in result.reasons:
        typer.echo(reason, err=True)
    typer.echo(f"replayed {result.replayed}, still failing {result.still_failing}")

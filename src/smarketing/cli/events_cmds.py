"""`smarketing events status|replay-failed`: is tracking keeping up; retry tracked events that
failed validation."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer

from smarketing.cli.options import DEFAULT_WORKSPACE, WorkspaceOption, workspace_for
from smarketing.services.replay import replay_failed
from smarketing.services.tracking_status import tracking_status

app = typer.Typer(
    help="Tracked events: whether processing keeps up; replay the ones that failed.",
    no_args_is_help=True,
)


@app.command("status")
def status(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Events waiting for the processor (and for how long), the queue's limit, failed events."""
    with workspace_for(workspace) as ws:
        result = tracking_status(ws)
    if as_json:
        typer.echo(
            json.dumps(dataclasses.asdict(result) | {"refusing": result.refusing}, default=str)
        )
    else:
        typer.echo(result.describe())


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

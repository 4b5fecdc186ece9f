"""`smarketing playbook check|diff|sign|versions|schema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from smarketing.cli.errors import report_error
from smarketing.cli.options import DEFAULT_WORKSPACE, WorkspaceOption, settings_for, workspace_for
from smarketing.domain.stages import Team
from smarketing.errors import PlaybookError
from smarketing.playbook.diff import diff_playbooks
from smarketing.playbook.loader import load_playbook
from smarketing.playbook.schema import Playbook
from smarketing.services import playbooks

app = typer.Typer(help="The agreement: check, compare, sign.", no_args_is_help=True)


@app.command("check")
def check(
    file: Annotated[
        Path | None, typer.Argument(help="Playbook file (default: workspace's).")
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Validate a playbook; print FILE:LINE:COLUMN: field: message for every problem.

    Exits 0 when valid, 1 when the file has problems, 2 when it cannot be found or read.
    """
    path = file or settings_for(workspace).playbook_path
    try:
        loaded = load_playbook(path)
    except PlaybookError as exc:
        if not exc.problems:
            raise
        report_error(exc)
        raise typer.Exit(1) from None
    pb = loaded.playbook
    typer.echo(
        f"{path}: ok ({len(pb.fit.rules)} fit rules, {len(pb.engagement.rules)} engagement "
        f"rules, MQL at {pb.mql.min_score} points, hash {loaded.content_hash[:12]})"
    )


@app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(help="The earlier playbook file.")],
    new: Annotated[Path, typer.Argument(help="The later playbook file.")],
) -> None:
    """Say in words what changed between two playbook files."""
    changes = diff_playbooks(load_playbook(old).playbook, load_playbook(new).playbook)
    for change in changes:
        typer.echo(change)
    if not changes:
        typer.echo("no change in meaning")


@app.command("sign")
def sign(
    team: Annotated[Team, typer.Option("--as", help="The team that signs.")],
    user: Annotated[str, typer.Option("--user", help="Email of the signing user (of that team).")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Sign the workspace's current playbook for a team; agreed once both teams signed."""
    with workspace_for(workspace) as ws:
        version = playbooks.sign(ws, team=team, user_email=user)
    status = (
        "agreed by both teams"
        if version.agreed
        else "waiting for " + ", ".join(t.value for t in Team if t not in version.signed_by)
    )
    typer.echo(f"playbook v{version.number} signed by {team.value} ({user}): {status}")


@app.command("versions")
def versions(workspace: WorkspaceOption = DEFAULT_WORKSPACE) -> None:
    """List stored playbook versions with their sign-offs."""
    with workspace_for(workspace) as ws:
        playbooks.current_version(ws)
        rows = playbooks.versions(ws)
    for v in rows:
        signed = ", ".join(f"{t.value}: {e}" for t, e in sorted(v.signed_by.items())) or "unsigned"
        mark = "agreed" if v.agreed else "draft"
        typer.echo(
            f"v{v.number}  {v.created_at:%Y-%m-%d %H:%M}  {v.content_hash[:12]}  {mark}  {signed}"
        )


@app.command("schema")
def schema() -> None:
    """Print the playbook's JSON Schema (for editors; also in docs/playbook.schema.json)."""
    typer.echo(json.dumps(playbook_json_schema(), indent=2))


def playbook_json_schema() -> dict[str, object]:
    doc = Playbook.model_json_schema(by_alias=True)
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "smarketing playbook (smarketing.yaml)"
    return doc

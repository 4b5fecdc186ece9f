"""Options every command shares, and the settings/workspace factories commands use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from smarketing.services.workspace import Workspace, open_workspace
from smarketing.settings import Settings, load_settings

WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        envvar="SMARKETING_WORKSPACE",
        help="Workspace directory (smarketing.yaml, smarketing.db). Default: current directory.",
        show_default=False,
    ),
]
DEFAULT_WORKSPACE = Path(".")
DEMO_BANNER = "DEMO DATA: this workspace holds a generated demo company, not real people."


def settings_for(workspace: Path, **overrides: object) -> Settings:
    return load_settings(workspace=workspace, **overrides)


@contextmanager
def workspace_for(workspace: Path) -> Iterator[Workspace]:
    ws = open_workspace(settings_for(workspace))
    if ws.settings.is_demo:
        typer.echo(DEMO_BANNER, err=True)
    try:
        yield ws
    finally:
        ws.close()

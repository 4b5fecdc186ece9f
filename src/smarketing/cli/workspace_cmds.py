"""Workspace lifecycle: init, db upgrade/status, serve, demo."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from smarketing.cli.options import DEFAULT_WORKSPACE, WorkspaceOption, settings_for
from smarketing.services.workspace import init_workspace, upgrade_database
from smarketing.settings import Settings
from smarketing.store import migrations_runner
from smarketing.store.database import workspace_engine

db_app = typer.Typer(help="Database schema: upgrade and status.", no_args_is_help=True)

HostOption = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int, typer.Option(help="TCP port.")]


def init(
    directory: Annotated[
        Path | None, typer.Argument(help="Workspace to create (default: --workspace).")
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    force: Annotated[bool, typer.Option(help="Overwrite an existing smarketing.yaml.")] = False,
) -> None:
    """Create a workspace: a commented default smarketing.yaml and an up-to-date database."""
    settings = settings_for(directory or workspace)
    for line in init_workspace(settings, today=date.today(), overwrite=force):
        typer.echo(line)
    typer.echo(f"next: smarketing playbook check --workspace {settings.workspace}")


@db_app.command("upgrade")
def db_upgrade(workspace: WorkspaceOption = DEFAULT_WORKSPACE) -> None:
    """Apply database migrations up to this version's schema."""
    before, after = upgrade_database(settings_for(workspace))
    if before == after:
        typer.echo(f"database already at revision {after}")
    else:
        typer.echo(f"database upgraded from {before or 'empty'} to {after}")


@db_app.command("status")
def db_status(workspace: WorkspaceOption = DEFAULT_WORKSPACE) -> None:
    """Show the schema revision of the database and the one this version needs."""
    engine = workspace_engine(settings_for(workspace))
    try:
        current = migrations_runner.current_revision(engine)
    finally:
        engine.dispose()
    head = migrations_runner.head_revision()
    state = "up to date" if current == head else "behind: run `smarketing db upgrade`"
    typer.echo(f"database revision {current or 'empty'}; needed {head} ({state})")


def serve_app(
    settings: Settings, host: str, port: int, *, worker: bool = True, processor: bool = True
) -> None:
    """With `worker`, tracked events are resolved by a processor child process (by a
    `smarketing worker` elsewhere without `processor`) and the other background jobs run in
    a thread; without, each request resolves its own events."""
    import uvicorn

    from smarketing.api.app import create_app

    app = create_app(
        settings,
        background_worker=worker,
        tracking_processor="inline" if not worker else "process" if processor else "external",
    )
    from smarketing.services.reports import prepare_server

    prepare_server(settings.analytics_keep_open_seconds)
    typer.echo(f"smarketing serving {settings.workspace.resolve()} at http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def serve(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    worker: Annotated[
        bool,
        typer.Option(
            help="Resolve tracked events in a processor process and run SLA checks and "
            "webhook delivery here; --no-worker resolves events in each request instead."
        ),
    ] = True,
    processor: Annotated[
        bool,
        typer.Option(
            help="With --no-processor, tracked events are only queued here, for "
            "`smarketing worker` processes (on this or other machines) to resolve."
        ),
    ] = True,
) -> None:
    """Serve the REST API, the tracking API and the dashboard."""
    serve_app(settings_for(workspace), host, port, worker=worker, processor=processor)


def demo(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    people: Annotated[int, typer.Option(min=10, help="How many people to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same company.")] = 7,
    serve_after: Annotated[
        bool, typer.Option("--serve", help="Serve the demo workspace when built.")
    ] = False,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Build a deterministic demo company (accounts, journeys, hand-offs, deals) in a workspace."""
    from smarketing.demo import DEMO_PASSWORD, DEMO_USERS, build_demo

    settings = settings_for(workspace, demo=True)
    summary = build_demo(settings, people=people, seed=seed, progress=not quiet)
    typer.echo(summary.describe())
    typer.echo(f"logins (password {DEMO_PASSWORD!r}): " + ", ".join(u.email for u in DEMO_USERS))
    typer.echo(f"API key (admin): {summary.api_key}")
    typer.echo(f"tracking write key: {summary.write_key}")
    if serve_after:
        typer.echo(f"open http://{host}:{port}/ (API docs at http://{host}:{port}/docs)")
        serve_app(settings, host, port)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(db_app, name="db")
    app.command("serve")(serve)
    app.command("demo")(demo)

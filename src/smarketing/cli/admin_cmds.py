"""`smarketing users|keys|sources`: people and credentials."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from smarketing.cli.options import DEFAULT_WORKSPACE, WorkspaceOption, workspace_for
from smarketing.domain.stages import Role
from smarketing.errors import UsageError
from smarketing.services import admin
from smarketing.store import users as users_store

users_app = typer.Typer(help="Users of the dashboard and API.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (Bearer tokens for /api).", no_args_is_help=True)
sources_app = typer.Typer(help="Tracking sources and their write keys.", no_args_is_help=True)


def _read_password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise UsageError("no password on standard input", hint="pipe one: echo PW | ...")
        return line
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise UsageError("the passwords do not match", hint="run the command again")
    return first


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="The user's email (their login).")],
    role: Annotated[Role, typer.Option(help="admin, marketing, sales or viewer.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    manager: Annotated[str | None, typer.Option(help="Email of the user's manager.")] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Add a user; the password is read from a prompt, or from standard input when piped."""
    password = _read_password()
    with workspace_for(workspace) as ws:
        user = admin.add_user(
            ws, email=email, role=role, password=password, name=name, manager_email=manager
        )
    typer.echo(f"added {user.email} ({user.role.value})")


@users_app.command("list")
def users_list(workspace: WorkspaceOption = DEFAULT_WORKSPACE) -> None:
    """List users."""
    with workspace_for(workspace) as ws, ws.db.read() as conn:
        rows = users_store.list_users(conn)
    for u in rows:
        typer.echo(f"{u.email}\t{u.role.value}\t{'active' if u.active else 'inactive'}\t{u.name}")


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="Role the key acts with.")],
    name: Annotated[str, typer.Option(help="What the key is for (shown in lists).")],
    user: Annotated[
        str | None, typer.Option(help="Email of the user the key acts for (sales reps).")
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Create an API key; it is printed once, alone on the last line, and never stored."""
    with workspace_for(workspace) as ws:
        new = admin.create_api_key(ws, name=name, role=role, user_email=user)
    typer.echo(f"API key {name!r} ({role.value}); copy it now, it is not shown again:")
    typer.echo(new.secret)


@sources_app.command("add")
def sources_add(
    name: Annotated[str, typer.Argument(help="Source name, e.g. website or app.")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Add a tracking source; prints its write key (Segment-style) once, on the last line."""
    with workspace_for(workspace) as ws:
        new = admin.add_source(ws, name=name)
    typer.echo(f"source {name!r}: use this write key in your Segment/RudderStack client:")
    typer.echo(new.secret)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    app.add_typer(sources_app, name="sources")

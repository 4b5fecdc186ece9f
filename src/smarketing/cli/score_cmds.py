"""`smarketing score --all` (rescore everyone after a playbook change) and
`smarketing score explain EMAIL` (why a person scores what they score)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from smarketing.cli.options import DEFAULT_WORKSPACE, WorkspaceOption, workspace_for
from smarketing.domain.scoring import Contribution
from smarketing.errors import UsageError
from smarketing.services.scoring import (
    DEFAULT_CHUNK_PEOPLE,
    ScoreExplanation,
    explain,
    rescore_all,
)

app = typer.Typer(
    help="Lead scores: rescore everyone after a playbook change, explain one person's score.",
    invoke_without_command=True,
)


class _Bar:
    """People scored so far, on stderr, only on a terminal."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("people", total=None)
        self.progress.start()

    def update(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total)

    def stop(self) -> None:
        self.progress.stop()


@app.callback(invoke_without_command=True)
def score(
    ctx: typer.Context,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    all_people: Annotated[
        bool, typer.Option("--all", help="Rescore everyone with the current playbook.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no summary line.")
    ] = False,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, help="People per transaction.")
    ] = DEFAULT_CHUNK_PEOPLE,
) -> None:
    """Rescore everyone (`--all`) after a playbook change, or explain one person's score."""
    if ctx.invoked_subcommand is not None:
        return
    if not all_people:
        raise UsageError(
            "say whom to score", hint="run `smarketing score --all` or `score explain EMAIL`"
        )
    console = Console(stderr=True)
    bar = _Bar(console) if console.is_terminal and not quiet else None
    try:
        with workspace_for(workspace) as ws:
            summary = rescore_all(ws, chunk_people=chunk_size, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.stop()
    if not quiet:
        typer.echo(
            f"scored {summary.people:,} people with playbook version "
            f"{summary.playbook_version} in {summary.seconds:.1f} s"
        )


@app.command("explain")
def explain_cmd(
    person: Annotated[str, typer.Argument(help="The person's email (or id).")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (days included).")] = False,
    days: Annotated[bool, typer.Option("--days", help="Show each rule's days too.")] = False,
) -> None:
    """Print the score now, rule by rule: points now (decayed), raw points, when."""
    with workspace_for(workspace) as ws:
        by_id = person.isdigit()
        e = explain(ws, person_id=int(person)) if by_id else explain(ws, email=person)
    typer.echo(json.dumps(_as_json(e), indent=2, default=str) if as_json else render(e, days=days))


def _as_json(e: ScoreExplanation) -> dict[str, Any]:
    r = e.result
    return {
        "person_id": e.person_id,
        "email": e.email,
        "fit": r.fit,
        "engagement": r.engagement,
        "total": r.total,
        "computed_at": r.computed_at,
        "timezone": e.timezone,
        "half_life_days": e.half_life_days,
        "contributions": [asdict(c) for c in r.contributions],
        "stored": asdict(e.stored) if e.stored else None,
    }


def _when(c: Contribution) -> str:
    if c.first_at is None or c.last_at is None:
        return ""
    first, last = f"{c.first_at:%Y-%m-%d}", f"{c.last_at:%Y-%m-%d}"
    return first if first == last else f"{first} .. {last}"


def render(e: ScoreExplanation, *, days: bool = False) -> str:
    """The explanation as text: one line per rule, then its days."""
    r = e.result
    who = f"{e.email} (person {e.person_id})" if e.email else f"person {e.person_id}"
    lines = [
        f"{who}: total {r.total:.2f} = fit {r.fit:.2f} + engagement {r.engagement:.2f}",
        f"as of {r.computed_at:%Y-%m-%d %H:%M %Z}; days in {e.timezone}; "
        f"points halve every {e.half_life_days:g} days",
        "fit:",
    ]
    fit = [c for c in r.contributions if c.part == "fit"]
    lines += [f"  {c.points:+9.2f}  {c.rule_id}" for c in fit] or ["  (no fit rule holds)"]
    lines.append("engagement:             now      raw  touches  when")
    engagement = [c for c in r.contributions if c.part == "engagement"]
    for c in engagement:
        lines.append(
            f"  {c.points:+9.2f}  {c.rule_id:<24} {c.raw_points:+8.0f} {c.touches:8d}  {_when(c)}"
        )
        for d in c.days if days else ():
            lines.append(
                f"      {d.day}  {d.touches} x  raw {d.raw:+.0f}  counted {d.counted:+.2f}  "
                f"now {d.points:+.2f}"
            )
    if not engagement:
        lines.append("  (no engagement rule matched)")
    if e.stored is not None:
        lines.append(
            f"stored: total {e.stored.total:.2f} computed {e.stored.computed_at:%Y-%m-%d %H:%M} "
            f"(playbook version id {e.stored.playbook_version_id})"
        )
    return "\n".join(lines)

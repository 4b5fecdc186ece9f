"""`smarketing webhooks add|list|deliveries|attempts|send-test|verify`: signed webhooks out."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from smarketing.cli.options import DEFAULT_WORKSPACE, WorkspaceOption, workspace_for
from smarketing.domain.webhook_signing import DEFAULT_TOLERANCE, verify
from smarketing.errors import UsageError
from smarketing.services import webhooks
from smarketing.store.webhooks import DeliveryStatus, WebhookDelivery

app = typer.Typer(
    help="Outgoing webhooks (Standard Webhooks signatures): subscribe, inspect, verify.",
    no_args_is_help=True,
)


@app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="Receiver URL (http or https).")],
    event: Annotated[
        list[str],
        typer.Option("--event", "-e", help="Event type to send (repeat; `*` for all)."),
    ],
    description: Annotated[str | None, typer.Option(help="What the receiver is.")] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Subscribe a URL; prints its signing secret once, alone on the last line."""
    with workspace_for(workspace) as ws:
        new = webhooks.subscribe(ws, url, event, description)
    sub = new.subscription
    typer.echo(f"subscription {sub.id}: {sub.url} for {', '.join(sub.event_types)}")
    typer.echo("signing secret; copy it now, it is not shown again:")
    typer.echo(new.secret)


@app.command("list")
def list_subscriptions(workspace: WorkspaceOption = DEFAULT_WORKSPACE) -> None:
    """List subscriptions (never their secrets)."""
    with workspace_for(workspace) as ws:
        subs = webhooks.subscriptions(ws)
    for s in subs:
        state = "active" if s.active else "inactive"
        typer.echo(
            f"{s.id}\t{state}\t{s.url}\t{','.join(s.event_types)}\t{s.description or ''}".rstrip()
        )


def _delivery_line(d: WebhookDelivery) -> str:
    if d.last_error:
        last = d.last_error.splitlines()[0]
    else:
        last = f"HTTP {d.last_status_code}" if d.last_status_code is not None else "-"
    if d.status is DeliveryStatus.DELIVERED and d.delivered_at:
        when = f"delivered {d.delivered_at.isoformat()}"
    elif d.status is DeliveryStatus.DEAD:
        when = "gave up"
    else:
        when = f"next {d.next_attempt_at.isoformat()}"
    return (
        f"{d.id}\t{d.status.value}\t{d.event_type}\tsubscription {d.subscription_id}\t"
        f"{d.attempts} attempt(s)\t{last}\t{when}\t{d.message_id}"
    )


@app.command("deliveries")
def deliveries(
    status: Annotated[
        DeliveryStatus | None, typer.Option(help="Only deliveries in this state.")
    ] = None,
    subscription: Annotated[int | None, typer.Option(help="Only this subscription id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most rows, newest first.")] = 50,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """The delivery log, newest first: state, attempts, last answer or error, next attempt."""
    with workspace_for(workspace) as ws:
        rows = webhooks.deliveries(ws, status=status, subscription_id=subscription, limit=limit)
    for d in rows:
        typer.echo(_delivery_line(d))


@app.command("attempts")
def attempts(
    delivery: Annotated[int, typer.Argument(help="Delivery id (from `webhooks deliveries`).")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Every attempt of one delivery: when, status code or error, duration."""
    with workspace_for(workspace) as ws:
        rows = webhooks.attempts(ws, delivery)
    for a in rows:
        code = f"HTTP {a.status_code}" if a.status_code is not None else "-"
        typer.echo(f"#{a.attempt}\t{a.at.isoformat()}\t{code}\t{a.duration_ms} ms\t{a.error or ''}")


@app.command("send-test")
def send_test(
    subscription: Annotated[int, typer.Argument(help="Subscription id (from `webhooks list`).")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Send a signed `webhook.test` event to one subscription now; exit 1 if it fails."""
    with workspace_for(workspace) as ws:
        outcome = webhooks.send_test(ws, subscription)
    if outcome.status is DeliveryStatus.DELIVERED:
        typer.echo(
            f"delivered {outcome.message_id} to {outcome.url}: "
            f"HTTP {outcome.status_code} in {outcome.duration_ms} ms"
        )
        return
    typer.echo(
        f"failed to deliver {outcome.message_id} to {outcome.url}: {outcome.error}", err=True
    )
    typer.echo(
        f"delivery {outcome.delivery_id} is {outcome.status.value}; see "
        f"`smarketing webhooks attempts {outcome.delivery_id}`",
        err=True,
    )
    raise typer.Exit(1)


def _parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise UsageError(
            f"--now {value!r} is neither Unix seconds nor ISO-8601",
            hint="e.g. --now 1614265330 or --now 2021-02-25T15:02:10Z",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _read_body(body_file: Path | None) -> bytes:
    if body_file is not None:
        try:
            return body_file.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {body_file}: {exc.strerror}") from None
    raw = getattr(sys.stdin, "buffer", None)
    return raw.read() if raw is not None else sys.stdin.read().encode("utf-8")


@app.command("verify")
def verify_message(
    secret: Annotated[
        str,
        typer.Option(
            envvar="SMARKETING_WEBHOOK_SECRET",
            help="The subscription's `whsec_...` secret.",
            show_envvar=True,
        ),
    ],
    msg_id: Annotated[str | None, typer.Option("--id", help="The webhook-id header.")] = None,
    timestamp: Annotated[
        str | None, typer.Option("--timestamp", help="The webhook-timestamp header.")
    ] = None,
    signature: Annotated[
        str | None, typer.Option("--signature", help="The webhook-signature header.")
    ] = None,
    body_file: Annotated[
        Path | None,
        typer.Option("--body-file", help="File with the raw body; default: standard input."),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(help="Check as if it were this time (Unix seconds or ISO-8601)."),
    ] = None,
    tolerance: Annotated[int, typer.Option(min=0, help="Seconds a timestamp may be off.")] = int(
        DEFAULT_TOLERANCE.total_seconds()
    ),
) -> None:
    """Check a received webhook: says `valid`, or exactly why not (exit 1).

    Pass the raw body byte for byte (a file, or `printf '%s' "$BODY" |`): re-encoded JSON or
    a trailing newline changes the signature.
    """
    verify(
        secret,
        msg_id=msg_id,
        timestamp=timestamp,
        signature=signature,
        body=_read_body(body_file),
        now=_parse_now(now),
        tolerance=timedelta(seconds=tolerance),
    )
    typer.echo(f"valid: a v1 signature matches and the timestamp is within {tolerance} s")

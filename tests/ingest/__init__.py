"""Helpers shared by the import tests: write CSV fixtures, and read the store by natural keys.

`store_state` names rows by their natural keys (emails, CRM ids, stage names) instead of
surrogate ids, so two workspaces that hold the same data compare equal even when a sequence
skipped numbers (PostgreSQL keeps ids drawn by a rolled-back transaction).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from smarketing.services.workspace import Workspace
from smarketing.store import tables


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else str(v) for v in row] for row in rows])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def read_errors(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream))


def store_state(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the importers write, by natural keys, sorted."""
    p, a, d, i, t = (
        tables.people,
        tables.accounts,
        tables.deals,
        tables.identities,
        tables.transitions,
    )
    c, tp = tables.campaigns, tables.touchpoints
    with ws.db.read() as conn:
        emails = {row.id: row.email or f"#{row.first_name}" for row in conn.execute(select(p))}
        domains = {
            row.id: row.hubspot_id or row.salesforce_id or row.domain
            for row in conn.execute(select(a))
        }
        campaign_names = {row.id: row.name for row in conn.execute(select(c))}
        people = [
            (r.email, r.first_name, r.last_name, r.title, r.phone, r.country, r.stage,
             r.original_channel, domains.get(r.account_id), tuple(sorted((r.traits or {}).items())),
             r.created_at)
            for r in conn.execute(select(p))
        ]  # fmt: skip
        identities = [(emails[r.person_id], r.kind, r.value) for r in conn.execute(select(i))]
        transitions = [
            (emails[r.person_id], r.from_stage, r.to_stage, r.at, r.actor, r.reason)
            for r in conn.execute(select(t))
        ]
        accounts = [
            (r.name, r.domain, r.industry, r.employees, r.annual_revenue, r.hubspot_id,
             r.salesforce_id, tuple(sorted((r.traits or {}).items())), r.created_at)
            for r in conn.execute(select(a))
        ]  # fmt: skip
        deals = [
            (r.name, emails.get(r.person_id), domains.get(r.account_id), r.stage, r.status,
             r.type, r.amount, r.currency, r.close_date, r.lost_reason, r.hubspot_id,
             r.salesforce_id, r.created_at)
            for r in conn.execute(select(d))
        ]  # fmt: skip
        campaigns = [
            (r.name, r.channel, r.kind, r.cost, r.start_date, r.end_date, r.salesforce_id)
            for r in conn.execute(select(c))
        ]
        touches = [
            (emails.get(r.person_id), domains.get(r.account_id), r.occurred_at, r.kind, r.name,
             r.channel, r.ruleset_version, campaign_names.get(r.campaign_id), r.team)
            for r in conn.execute(select(tp))
        ]  # fmt: skip
    state = {
        "people": people,
        "identities": identities,
        "transitions": transitions,
        "accounts": accounts,
        "deals": deals,
        "campaigns": campaigns,
        "touchpoints": touches,
    }
    return {name: sorted(rows, key=repr) for name, rows in state.items()}


def import_runs(ws: Workspace) -> list[tuple[Any, ...]]:
    im = tables.imports
    with ws.db.read() as conn:
        return [
            (r.kind, r.status, r.rows_read, r.rows_imported, r.rows_unchanged, r.rows_rejected,
             r.checkpoint_row)
            for r in conn.execute(select(im).order_by(im.c.id))
        ]  # fmt: skip


def wipe_imports(ws: Workspace) -> None:
    """Empty what the importers write, so the next run starts from a fresh store."""
    with ws.db.begin() as conn:
        for table in (tables.transitions, tables.identities, tables.deals, tables.people,
                      tables.accounts, tables.imports):  # fmt: skip
            conn.execute(table.delete())

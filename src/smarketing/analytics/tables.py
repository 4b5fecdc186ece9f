"""The analytics tables: the columns of the store that reports read, as Ibis schemas.

Every report is an Ibis expression over the UNBOUND tables made here (`ibis.table(schema,
name=...)`); an engine binds the names to its own storage: the DuckDB copy in the workspace
(`analytics.duckdb`, kept by `sync`), the PostgreSQL store itself, or Parquet files read by
Spark. The names are the store's table names, so the same SQL runs on PostgreSQL directly.

Types are fixed here once for every engine: ids are int64, money is DECIMAL(18, 2) (never a
float), every timestamp is a naive UTC `timestamp` (the store's one format), dates are dates.
JSON columns (traits, properties) and secrets (password hashes) are not copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import ibis
import ibis.expr.types as ir

MONEY = "decimal(18, 2)"


class Sync(StrEnum):
    """How `sync` keeps a table current (see `smarketing.analytics.sync`)."""

    APPEND = "append"  # rows are never changed after insert: copy `id > max id copied`
    MUTABLE = "mutable"  # rows change and bump `updated_at`: copy the overlap window
    OPEN_ROWS = "open_rows"  # rows change only while open (`stopped_at` null): re-read those
    FULL = "full"  # tiny, no timestamps: copy whole


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    columns: dict[str, str]  # column -> Ibis type
    sync: Sync
    person_owned: bool = False  # rows move between people on merges: refreshed with them

    @property
    def schema(self) -> ibis.Schema:
        return ibis.schema(self.columns)


_TS = "timestamp"
SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "users",
        {
            "id": "int64",
            "email": "string",
            "name": "string",
            "role": "string",
            "active": "boolean",
            "manager_id": "int64",
            "created_at": _TS,
            "updated_at": _TS,
        },
        Sync.MUTABLE,
    ),
    TableSpec(
        "accounts",
        {
            "id": "int64",
            "name": "string",
            "domain": "string",
            "industry": "string",
            "employees": "int64",
            "annual_revenue": MONEY,
            "owner_id": "int64",
            "change_seq": "int64",
            "created_at": _TS,
            "updated_at": _TS,
        },
        Sync.MUTABLE,
    ),
    TableSpec(
        "people",
        {
            "id": "int64",
            "email": "string",
            "first_name": "string",
            "last_name": "string",
            "title": "string",
            "country": "string",
            "account_id": "int64",
            "stage": "string",
            "owner_id": "int64",
            "merged_into_id": "int64",
            "original_channel": "string",
            "referred_by_id": "int64",
            "churned_at": _TS,
            "churn_reason": "string",
            "change_seq": "int64",
            "created_at": _TS,
            "updated_at": _TS,
        },
        Sync.MUTABLE,
    ),
    TableSpec(
        "campaigns",
        {
            "id": "int64",
            "name": "string",
            "channel": "string",
            "kind": "string",
            "cost": MONEY,
            "currency": "string",
            "start_date": "date",
            "end_date": "date",
            "created_at": _TS,
            "updated_at": _TS,
        },
        Sync.MUTABLE,
    ),
    TableSpec(
        "content_items",
        {
            "id": "int64",
            "key": "string",
            "title": "string",
            "kind": "string",
            "url": "string",
            "is_stub": "boolean",
            "created_at": _TS,
            "updated_at": _TS,
        },
        Sync.MUTABLE,
    ),
    TableSpec(
        "touchpoints",
        {
            "id": "int64",
            "person_id": "int64",
            "anonymous_id": "string",
            "account_id": "int64",
            "occurred_at": _TS,
            "kind": "string",
            "name": "string",
            "channel": "string",
            "ruleset_version": "string",
            "source": "string",
            "medium": "string",
            "campaign": "string",
            "campaign_id": "int64",
            "content_id": "int64",
            "team": "string",
        },
        Sync.APPEND,
        person_owned=True,
    ),
    TableSpec(
        "transitions",
        {
            "id": "int64",
            "person_id": "int64",
            "from_stage": "string",
            "to_stage": "string",
            "at": _TS,
            "actor": "string",
            "reason": "string",
            "playbook_version_id": "int64",
        },
        Sync.APPEND,
        person_owned=True,
    ),
    TableSpec(
        "handoffs",
        {
            "id": "int64",
            "person_id": "int64",
            "owner_id": "int64",
            "status": "string",
            "rule_id": "string",
            "fast_track": "boolean",
            "assigned_at": _TS,
            "first_touched_at": _TS,
            "accepted_at": _TS,
            "rejected_at": _TS,
            "reject_reason": "string",
            "created_at": _TS,
            "updated_at": _TS,
        },
        Sync.MUTABLE,
        person_owned=True,
    ),
    TableSpec(
        "sla_clocks",
        {
            "id": "int64",
            "handoff_id": "int64",
            "kind": "string",
            "started_at": _TS,
            "due_at": _TS,
            "stopped_at": _TS,
            "breached_at": _TS,
            "escalated_to_id": "int64",
        },
        Sync.OPEN_ROWS,
    ),
    TableSpec(
        "deals",
        {
            "id": "int64",
            "name": "string",
            "person_id": "int64",
            "account_id": "int64",
            "owner_id": "int64",
            "stage": "string",
            "status": "string",
            "type": "string",
            "amount": MONEY,
            "currency": "string",
            "close_date": "date",
            "lost_reason": "string",
            "change_seq": "int64",
            "created_at": _TS,
            "updated_at": _TS,
        },
        Sync.MUTABLE,
        person_owned=True,
    ),
    TableSpec(
        "playbook_versions",
        {
            "id": "int64",
            "number": "int64",
            "content_hash": "string",
            "created_at": _TS,
            "created_by": "string",
        },
        Sync.APPEND,
    ),
    TableSpec(
        "playbook_signoffs",
        {
            "id": "int64",
            "playbook_version_id": "int64",
            "team": "string",
            "user_id": "int64",
            "signed_at": _TS,
        },
        Sync.FULL,
    ),
)
SPEC_BY_NAME: dict[str, TableSpec] = {s.name: s for s in SPECS}
TABLE_NAMES: tuple[str, ...] = tuple(s.name for s in SPECS)


@dataclass(frozen=True, slots=True)
class Tables:
    """The unbound analytics tables a report builder reads (names bound by the engine)."""

    users: ir.Table
    accounts: ir.Table
    people: ir.Table
    campaigns: ir.Table
    content_items: ir.Table
    touchpoints: ir.Table
    transitions: ir.Table
    handoffs: ir.Table
    sla_clocks: ir.Table
    deals: ir.Table
    playbook_versions: ir.Table
    playbook_signoffs: ir.Table


def unbound() -> Tables:
    """Fresh unbound tables, one per analytics table, named as in the store."""
    return Tables(**{s.name: ibis.table(s.schema, name=s.name) for s in SPECS})

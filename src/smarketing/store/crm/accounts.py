"""Accounts from CRM records: found by CRM id (`hubspot_id`, `salesforce_id`), else domain.

A record whose domain belongs to another account than its id (or that would give an account a
second id of the same CRM, e.g. two HubSpot companies with one domain) is rejected: domains and
CRM ids are unique keys. A new account needs a name; the domain stands in when there is none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Connection

from smarketing.store.crm.common import (
    IMPORTED,
    UNCHANGED,
    RowOutcome,
    WriteContext,
    rejected,
    select_in,
    update_by_id,
)
from smarketing.store.tables import accounts

FIELDS = ("name", "domain", "industry", "employees", "annual_revenue", "hubspot_id",
          "salesforce_id")  # fmt: skip
STATE = (*FIELDS, "traits")
CRM_KEYS = ("hubspot_id", "salesforce_id")


class AccountInput(Protocol):
    @property
    def name(self) -> str | None: ...
    @property
    def hubspot_id(self) -> str | None: ...
    @property
    def salesforce_id(self) -> str | None: ...
    @property
    def domain(self) -> str | None: ...
    @property
    def industry(self) -> str | None: ...
    @property
    def employees(self) -> int | None: ...
    @property
    def annual_revenue(self) -> Decimal | None: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def traits(self) -> Mapping[str, str]: ...


def upsert_accounts(
    conn: Connection, records: Sequence[AccountInput], ctx: WriteContext
) -> list[RowOutcome]:
    """Merge `records` into `accounts`: one SELECT per key column, one insert, one update."""
    columns = [accounts.c.id, *(accounts.c[c] for c in STATE)]
    state: dict[int, dict[str, Any]] = {}
    for column in (*CRM_KEYS, "domain"):
        wanted = {getattr(r, column) for r in records}
        for row in select_in(conn, columns, accounts.c[column], wanted):
            state[row.id] = dict(zip(STATE, row[1:], strict=True))
    loaded = {k: dict(v) for k, v in state.items()}
    index: dict[tuple[str, str], int] = {}
    for account_id, values in state.items():
        for column in (*CRM_KEYS, "domain"):
            if values[column] is not None:
                index[(column, values[column])] = account_id
    created: dict[int, datetime | None] = {}
    outcomes = []
    for r in records:
        key, problem = _find(r, index, state)
        if problem is not None:
            outcomes.append(problem)
            continue
        if key is None:
            if not (r.name or r.domain):
                reason = "missing required value: a new account needs a name"
                outcomes.append(rejected("name", reason))
                continue
            key = -1 - len(created)
            created[key] = r.created_at
            state[key] = dict.fromkeys(STATE)
            before: dict[str, Any] | None = None
        else:
            before = dict(state[key])
        values = state[key]
        for name in FIELDS:
            value = getattr(r, name)
            if value is not None:
                values[name] = value
        if values["name"] is None:
            values["name"] = r.domain
        if r.traits and any((values["traits"] or {}).get(k) != v for k, v in r.traits.items()):
            values["traits"] = {**(values["traits"] or {}), **r.traits}
        for column in (*CRM_KEYS, "domain"):
            if values[column] is not None:
                index[(column, values[column])] = key
        outcomes.append(IMPORTED if before is None or values != before else UNCHANGED)
    _write(conn, state, loaded, created, ctx)
    return outcomes


def _find(
    r: AccountInput, index: dict[tuple[str, str], int], state: dict[int, dict[str, Any]]
) -> tuple[int | None, RowOutcome | None]:
    key = None
    for column in CRM_KEYS:
        value = getattr(r, column)
        if value is not None and key is None:
            key = index.get((column, value))
    by_domain = index.get(("domain", r.domain)) if r.domain else None
    if key is not None and by_domain is not None and by_domain != key:
        return None, rejected(
            "domain", f"domain {r.domain} belongs to another account", r.domain or ""
        )
    key = key if key is not None else by_domain
    if key is not None:
        for column in CRM_KEYS:
            mine, stored = getattr(r, column), state[key][column]
            if mine is not None and stored is not None and mine != stored:
                return None, rejected(
                    "domain",
                    f"domain {r.domain} already belongs to the account with {column} {stored}",
                    r.domain or "",
                )
    return key, None


def _write(
    conn: Connection,
    state: dict[int, dict[str, Any]],
    loaded: dict[int, dict[str, Any]],
    created: dict[int, datetime | None],
    ctx: WriteContext,
) -> None:
    now = ctx.now
    inserts = [
        {**state[k], "traits": state[k]["traits"] or {}, "change_seq": 0,
         "created_at": created[k] or now, "updated_at": now}
        for k in created
    ]  # fmt: skip
    if inserts:
        conn.execute(accounts.insert(), inserts)
    changed = [
        {"row_id": k, **values, "updated_at": now}
        for k, values in state.items()
        if k > 0 and values != loaded[k]
    ]
    update_by_id(conn, accounts, changed)

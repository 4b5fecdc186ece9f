"""Deals from CRM records: keyed by `hubspot_id` / `salesforce_id` (or, for a generic CSV, by
name within the account); linked to a person and an account when their references resolve."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Connection

from smarketing.store.crm.common import (
    IMPORTED,
    UNCHANGED,
    AccountLink,
    IdentityRef,
    RowOutcome,
    WriteContext,
    account_ids,
    person_ids,
    rejected,
    select_in,
    update_by_id,
)
from smarketing.store.tables import deals

FIELDS = ("name", "stage", "status", "type", "amount", "currency", "close_date", "lost_reason",
          "hubspot_id", "salesforce_id", "person_id", "account_id")  # fmt: skip
CRM_KEYS = ("hubspot_id", "salesforce_id")


class DealInput(Protocol):
    @property
    def name(self) -> str | None: ...
    @property
    def stage(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def hubspot_id(self) -> str | None: ...
    @property
    def salesforce_id(self) -> str | None: ...
    @property
    def deal_type(self) -> str | None: ...
    @property
    def amount(self) -> Decimal | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def close_date(self) -> date | None: ...
    @property
    def lost_reason(self) -> str | None: ...
    @property
    def person(self) -> IdentityRef | None: ...
    @property
    def account(self) -> AccountLink | None: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def key_on_name(self) -> bool: ...


def upsert_deals(
    conn: Connection, records: Sequence[DealInput], ctx: WriteContext
) -> list[RowOutcome]:
    """Merge `records` into `deals`: one SELECT per key and reference kind, one insert, one
    update."""
    columns = [deals.c.id, *(deals.c[c] for c in FIELDS)]
    state: dict[int, dict[str, Any]] = {}
    for column in CRM_KEYS:
        wanted = {getattr(r, column) for r in records}
        for row in select_in(conn, columns, deals.c[column], wanted):
            state[row.id] = dict(zip(FIELDS, row[1:], strict=True))
    named = {r.name for r in records if r.key_on_name}
    for row in select_in(conn, columns, deals.c.name, named):
        state[row.id] = dict(zip(FIELDS, row[1:], strict=True))
    loaded = {k: dict(v) for k, v in state.items()}
    index: dict[tuple[str, Any], int] = {}
    for deal_id, values in state.items():
        _index(index, deal_id, values)
    people = person_ids(conn, [r.person for r in records if r.person is not None])
    accounts = account_ids(
        conn, [(str(r.account.key), r.account.value) for r in records if r.account]
    )
    created: dict[int, datetime | None] = {}
    outcomes = []
    for r in records:
        person_id = people.get((str(r.person.kind), r.person.value)) if r.person else None
        account_id = accounts.get((str(r.account.key), r.account.value)) if r.account else None
        incoming: dict[str, Any] = {
            "name": r.name, "stage": r.stage, "status": _text(r.status),
            "type": _text(r.deal_type), "amount": r.amount, "currency": r.currency,
            "close_date": r.close_date, "lost_reason": r.lost_reason, "hubspot_id": r.hubspot_id,
            "salesforce_id": r.salesforce_id, "person_id": person_id, "account_id": account_id,
        }  # fmt: skip
        key = _find(index, incoming, r.key_on_name)
        if key is None:
            if r.name is None or r.stage is None:
                outcomes.append(
                    rejected("name", "missing required value: a new deal needs a name and a stage")
                )
                continue
            key = -1 - len(created)
            created[key] = r.created_at
            state[key] = {"status": "open", "type": "new", "currency": ctx.default_currency}
            before: dict[str, Any] | None = None
        else:
            before = dict(state[key])
        values = state[key]
        values.update({k: v for k, v in incoming.items() if v is not None})
        _index(index, key, values)
        outcomes.append(IMPORTED if before is None or values != before else UNCHANGED)
    _write(conn, state, loaded, created, ctx)
    return outcomes


def _text(value: str | None) -> str | None:
    return None if value is None else str(value)


def _index(index: dict[tuple[str, Any], int], key: int, values: dict[str, Any]) -> None:
    for column in CRM_KEYS:
        if values.get(column) is not None:
            index[(column, values[column])] = key
    index[("name", (values.get("name"), values.get("account_id")))] = key


def _find(index: dict[tuple[str, Any], int], incoming: dict[str, Any], on_name: bool) -> int | None:
    for column in CRM_KEYS:
        if incoming[column] is not None:
            return index.get((column, incoming[column]))
    if on_name:
        return index.get(("name", (incoming["name"], incoming["account_id"])))
    return None


def _write(
    conn: Connection,
    state: dict[int, dict[str, Any]],
    loaded: dict[int, dict[str, Any]],
    created: dict[int, datetime | None],
    ctx: WriteContext,
) -> None:
    now = ctx.now
    inserts = [
        {**dict.fromkeys(FIELDS), **state[k], "change_seq": 0, "created_at": created[k] or now,
         "updated_at": now}
        for k in created
    ]  # fmt: skip
    if inserts:
        conn.execute(deals.insert(), inserts)
    changed = [
        {"row_id": k, **values, "updated_at": now}
        for k, values in state.items()
        if k > 0 and values != loaded[k]
    ]
    update_by_id(conn, deals, changed)

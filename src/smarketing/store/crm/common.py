"""What every CRM upsert shares: outcomes, the write context, record shapes, set-based lookups."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Column, Connection, Table, bindparam, select

from smarketing.store.tables import accounts, identities, people

IN_BATCH = 5000
"""Most values in one `IN (...)` list (SQLite allows 32,766 bound values per statement)."""


class Outcome(StrEnum):
    IMPORTED = "imported"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What became of one record; a rejection names our field and says why."""

    outcome: Outcome
    field: str | None = None
    reason: str | None = None
    value: str = ""


IMPORTED = RowOutcome(Outcome.IMPORTED)
UNCHANGED = RowOutcome(Outcome.UNCHANGED)


def rejected(field: str, reason: str, value: str = "") -> RowOutcome:
    return RowOutcome(Outcome.REJECTED, field, reason, value)


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who writes, when: `now` stamps `updated_at`; actor/reason go on transitions."""

    now: datetime
    actor: str
    reason: str
    playbook_version_id: int | None = None
    default_currency: str = "USD"


class IdentityRef(Protocol):
    """A person by identity: kind `email`, `hubspot`, `salesforce`... and its value."""

    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> str: ...


class AccountLink(Protocol):
    """An account by `hubspot_id`, `salesforce_id` or `domain` (the `key`) and its value."""

    @property
    def key(self) -> str: ...
    @property
    def value(self) -> str: ...


def select_in(
    conn: Connection, columns: Sequence[Any], where: Column[Any], values: Iterable[Any]
) -> list[Any]:
    """Rows of `columns` whose `where` is in `values`: one SELECT per `IN_BATCH` values."""
    wanted = list(dict.fromkeys(v for v in values if v is not None))
    found: list[Any] = []
    for start in range(0, len(wanted), IN_BATCH):
        batch = wanted[start : start + IN_BATCH]
        found.extend(conn.execute(select(*columns).where(where.in_(batch))).all())
    return found


def insert_returning_ids(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert `rows` with one executemany and return their new ids, in order."""
    if not rows:
        return []
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return [row[0] for row in conn.execute(statement, rows)]


def update_by_id(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """One executemany UPDATE; each row holds `row_id` and the columns to set. Tables with a
    `change_seq` get it incremented."""
    if rows:
        statement = table.update().where(table.c.id == bindparam("row_id"))
        if "change_seq" in table.c:
            statement = statement.values(change_seq=table.c.change_seq + 1)
        conn.execute(statement, rows)


def account_ids(conn: Connection, links: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Account ids by (`hubspot_id` | `salesforce_id` | `domain`, value)."""
    wanted: dict[str, set[str]] = {}
    for column, value in links:
        wanted.setdefault(column, set()).add(value)
    found: dict[tuple[str, str], int] = {}
    for column, values in wanted.items():
        rows = select_in(conn, [accounts.c.id, accounts.c[column]], accounts.c[column], values)
        for account_id, value in rows:
            found[(column, value)] = account_id
    return found


def link_of(link: AccountLink | None) -> tuple[str, str] | None:
    return (str(link.key), link.value) if link is not None else None


def person_ids(conn: Connection, refs: Iterable[IdentityRef]) -> dict[tuple[str, str], int]:
    """Person ids by (identity kind, value); `email` refs match `people.email` first."""
    wanted = {(str(r.kind), r.value) for r in refs}
    found: dict[tuple[str, str], int] = {}
    rows = select_in(
        conn,
        [identities.c.person_id, identities.c.kind, identities.c.value],
        identities.c.value,
        {value for _, value in wanted},
    )
    for person_id, kind, value in rows:
        if (kind, value) in wanted:
            found[(kind, value)] = person_id
    emails = {value for kind, value in wanted if kind == "email"}
    for person_id, email in select_in(conn, [people.c.id, people.c.email], people.c.email, emails):
        found[("email", email)] = person_id
    return found


def changed_fields(current: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """The non-None values of `incoming` that differ from `current`."""
    return {k: v for k, v in incoming.items() if v is not None and current.get(k) != v}


def merged_traits(stored: dict[str, Any] | None, incoming: dict[str, Any]) -> dict[str, Any] | None:
    """`stored` updated with `incoming`, or None when that changes nothing."""
    base = stored or {}
    if all(base.get(k) == v for k, v in incoming.items()):
        return None
    return {**base, **incoming}

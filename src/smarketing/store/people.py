"""Read side of people, accounts, touchpoints and failed events, with cursor pagination."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, func, select

from smarketing.domain.model import (
    Account,
    FailedEvent,
    Identity,
    IdentityKind,
    Person,
    PersonDetail,
    Score,
    Touchpoint,
)
from smarketing.domain.stages import Stage, TouchTeam
from smarketing.store.crm.common import select_in
from smarketing.store.pagination import Page, decode_cursor, encode_cursor
from smarketing.store.tables import accounts, failed_events, identities, people, scores, touchpoints


@dataclass(frozen=True, slots=True)
class PeopleFilter:
    email: str | None = None
    stage: Stage | None = None
    owner_id: int | None = None
    account_id: int | None = None
    updated_since: datetime | None = None


def _page(
    conn: Connection,
    query: Select[Any],
    id_column: Any,
    cursor: str | None,
    limit: int,
    convert: Any,
) -> Page[Any]:
    rows = list(
        conn.execute(
            query.where(id_column > decode_cursor(cursor)).order_by(id_column).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        data=[convert(r) for r in rows],
        has_more=more,
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


def person_of(row: Row[Any]) -> Person:
    return Person(
        id=row.id,
        email=row.email,
        stage=Stage(row.stage) if row.stage else None,
        first_name=row.first_name,
        last_name=row.last_name,
        title=row.title,
        account_id=row.account_id,
        owner_id=row.owner_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        traits=row.traits or {},
    )


def account_of(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        domain=row.domain,
        industry=row.industry,
        employees=row.employees,
        owner_id=row.owner_id,
    )


def touchpoint_of(row: Row[Any]) -> Touchpoint:
    return Touchpoint(
        id=row.id,
        person_id=row.person_id,
        occurred_at=row.occurred_at,
        kind=row.kind,
        name=row.name,
        channel=row.channel,
        team=TouchTeam(row.team),
        anonymous_id=row.anonymous_id,
        account_id=row.account_id,
        source=row.source,
        medium=row.medium,
        campaign=row.campaign,
        content_id=row.content_id,
        url=row.url,
        ruleset_version=row.ruleset_version,
    )


def list_people(
    conn: Connection, f: PeopleFilter, *, cursor: str | None, limit: int
) -> Page[Person]:
    query = select(people).where(people.c.merged_into_id.is_(None))
    if f.email:
        query = query.where(people.c.email == f.email.strip().lower())
    if f.stage:
        query = query.where(people.c.stage == f.stage.value)
    if f.owner_id is not None:
        query = query.where(people.c.owner_id == f.owner_id)
    if f.account_id is not None:
        query = query.where(people.c.account_id == f.account_id)
    if f.updated_since is not None:
        query = query.where(people.c.updated_at >= f.updated_since)
    return _page(conn, query, people.c.id, cursor, limit, person_of)


def person_detail(conn: Connection, person_id: int) -> PersonDetail | None:
    row = conn.execute(select(people).where(people.c.id == person_id)).first()
    if row is None:
        return None
    ids = tuple(
        Identity(IdentityKind(r.kind), r.value)
        for r in conn.execute(
            select(identities).where(identities.c.person_id == person_id).order_by(identities.c.id)
        )
    )
    s = conn.execute(select(scores).where(scores.c.person_id == person_id)).first()
    a = (
        conn.execute(select(accounts).where(accounts.c.id == row.account_id)).first()
        if row.account_id
        else None
    )
    return PersonDetail(
        person=person_of(row),
        identities=ids,
        score=Score(s.fit, s.engagement, s.total, s.computed_at) if s else None,
        account=account_of(a) if a else None,
        merged_into_id=row.merged_into_id,
    )


def list_accounts(
    conn: Connection, *, domain: str | None, cursor: str | None, limit: int
) -> Page[Account]:
    query = select(accounts)
    if domain:
        query = query.where(accounts.c.domain == domain.strip().lower())
    return _page(conn, query, accounts.c.id, cursor, limit, account_of)


def list_touchpoints(
    conn: Connection,
    *,
    person_id: int | None,
    account_id: int | None,
    channel: str | None,
    since: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[Touchpoint]:
    query = select(touchpoints)
    if person_id is not None:
        query = query.where(touchpoints.c.person_id == person_id)
    if account_id is not None:
        query = query.where(touchpoints.c.account_id == account_id)
    if channel:
        query = query.where(touchpoints.c.channel == channel)
    if since is not None:
        query = query.where(touchpoints.c.occurred_at >= since)
    return _page(conn, query, touchpoints.c.id, cursor, limit, touchpoint_of)


def list_failed_events(conn: Connection, *, cursor: str | None, limit: int) -> Page[FailedEvent]:
    return _page(
        conn,
        select(failed_events),
        failed_events.c.id,
        cursor,
        limit,
        lambda r: FailedEvent(r.id, r.source_id, r.received_at, r.reason, r.payload, r.replayed_at),
    )


def count_by(
    conn: Connection, column: str, *, table: str = "people"
) -> list[tuple[str | None, int]]:
    """Row counts grouped by one column (people by stage, touchpoints by channel, ...)."""
    t = {"people": people, "touchpoints": touchpoints}[table]
    col = t.c[column]
    query = select(col, func.count()).group_by(col).order_by(func.count().desc())
    if table == "people":
        query = query.where(people.c.merged_into_id.is_(None))
    return [(r[0], int(r[1])) for r in conn.execute(query)]


def person_record(conn: Connection, person_id: int) -> dict[str, dict[str, Any]]:
    """The record playbook conditions judge: `{"person": {...}, "account": {...}}`."""
    return person_records(conn, [person_id])[person_id]


def person_records(
    conn: Connection, person_ids: Sequence[int]
) -> dict[int, dict[str, dict[str, Any]]]:
    """`person_record` of each person, in two queries (empty for ids not found)."""
    rows = select_in(conn, [people], people.c.id, person_ids)
    account_ids = {r.account_id for r in rows if r.account_id is not None}
    found_accounts = {a.id: a for a in select_in(conn, [accounts], accounts.c.id, account_ids)}
    records: dict[int, dict[str, dict[str, Any]]] = {
        i: {"person": {}, "account": {}} for i in person_ids
    }
    for row in rows:
        person = {k: v for k, v in row._mapping.items() if k != "traits"}
        person.update(row.traits or {})
        account: dict[str, Any] = {}
        if (a := found_accounts.get(row.account_id)) is not None:
            account = {k: v for k, v in a._mapping.items() if k != "traits"}
            account.update(a.traits or {})
        records[row.id] = {"person": person, "account": account}
    return records

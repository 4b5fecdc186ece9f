"""Reading people, accounts and touchpoints; undoing a merge (admins)."""

from __future__ import annotations

from datetime import datetime

from smarketing.domain.model import Account, FailedEvent, Person, PersonDetail, Touchpoint
from smarketing.errors import NotFoundError
from smarketing.services.workspace import Workspace
from smarketing.store import audit, identity
from smarketing.store import people as people_store
from smarketing.store.pagination import Page
from smarketing.store.people import PeopleFilter


def list_people(ws: Workspace, f: PeopleFilter, *, cursor: str | None, limit: int) -> Page[Person]:
    with ws.db.read() as conn:
        return people_store.list_people(conn, f, cursor=cursor, limit=limit)


def get_person(ws: Workspace, person_id: int) -> PersonDetail:
    with ws.db.read() as conn:
        detail = people_store.person_detail(conn, person_id)
    if detail is None:
        raise NotFoundError(f"no person {person_id}", hint="list people with GET /api/people")
    return detail


def list_accounts(
    ws: Workspace, *, domain: str | None, cursor: str | None, limit: int
) -> Page[Account]:
    with ws.db.read() as conn:
        return people_store.list_accounts(conn, domain=domain, cursor=cursor, limit=limit)


def list_touchpoints(
    ws: Workspace,
    *,
    person_id: int | None,
    account_id: int | None,
    channel: str | None,
    since: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[Touchpoint]:
    with ws.db.read() as conn:
        return people_store.list_touchpoints(
            conn,
            person_id=person_id,
            account_id=account_id,
            channel=channel,
            since=since,
            cursor=cursor,
            limit=limit,
        )


def list_failed_events(ws: Workspace, *, cursor: str | None, limit: int) -> Page[FailedEvent]:
    with ws.db.read() as conn:
        return people_store.list_failed_events(conn, cursor=cursor, limit=limit)


def undo_merge(ws: Workspace, merge_id: int, *, actor: str) -> tuple[int, int]:
    now = ws.clock.now()
    with ws.db.begin() as conn:
        survivor, restored = identity.undo_merge(conn, merge_id, now=now, actor=actor)
        audit.record(
            conn,
            at=now,
            actor=actor,
            action="person.merge_undone",
            target=f"merge:{merge_id}",
            detail={"survivor": survivor, "restored": restored},
        )
    return survivor, restored


def overview(ws: Workspace) -> dict[str, list[tuple[str | None, int]]]:
    """Headline counts for the dashboard: people by stage, touchpoints by channel."""
    with ws.db.read() as conn:
        return {
            "stages": people_store.count_by(conn, "stage"),
            "channels": people_store.count_by(conn, "channel", table="touchpoints"),
        }

"""Identity resolution in the store: who is behind an anonymous id, a user id or an email.

A person owns identities (`identities` rows, unique by kind and value). When one call proves
that identities of two people belong together, the people merge: the older survives, every row
of the other moves over, and the merge is recorded with what moved so an admin can undo it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, update

from smarketing.domain.stages import Stage, funnel_rank
from smarketing.errors import ConflictError, NotFoundError
from smarketing.store.crm.common import (
    driver_select_in,
    identity_owners,
    insert_many,
    reserve_ids,
)
from smarketing.store.sql import insert_ignore
from smarketing.store.tables import (
    deals,
    handoffs,
    identities,
    people,
    person_merges,
    scores,
    touchpoints,
    transitions,
)

Key = tuple[str, str]
# Rows that belong to a person and move with a merge.
OWNED = {
    "identities": identities,
    "touchpoints": touchpoints,
    "transitions": transitions,
    "handoffs": handoffs,
    "deals": deals,
}


def owners(conn: Connection, keys: Iterable[Key]) -> dict[Key, int]:
    """The person owning each (kind, value) that is known (one indexed SELECT per kind)."""
    return identity_owners(conn, keys)


def stage_of(conn: Connection, person_id: int) -> Stage | None:
    value = conn.execute(select(people.c.stage).where(people.c.id == person_id)).scalar()
    return Stage(value) if value else None


def record_transition(
    conn: Connection,
    *,
    person_id: int,
    old: Stage | None,
    new: Stage,
    at: datetime,
    actor: str,
    reason: str,
    playbook_version_id: int | None,
    now: datetime,
) -> None:
    conn.execute(
        transitions.insert().values(
            person_id=person_id,
            from_stage=old.value if old else None,
            to_stage=new.value,
            at=at,
            actor=actor,
            reason=reason,
            playbook_version_id=playbook_version_id,
        )
    )
    conn.execute(
        update(people)
        .where(people.c.id == person_id)
        .values(stage=new.value, updated_at=now, change_seq=people.c.change_seq + 1)
    )


def set_email(conn: Connection, person_id: int, email: str, now: datetime) -> None:
    conn.execute(
        update(people)
        .where(people.c.id == person_id, people.c.email.is_(None))
        .values(email=email, updated_at=now, change_seq=people.c.change_seq + 1)
    )


def update_person(conn: Connection, person_id: int, values: dict[str, Any], now: datetime) -> None:
    if values:
        conn.execute(
            update(people)
            .where(people.c.id == person_id)
            .values(**values, updated_at=now, change_seq=people.c.change_seq + 1)
        )


def merge_people(
    conn: Connection,
    *,
    survivor: int,
    merged: int,
    at: datetime,
    actor: str,
    reason: str,
    playbook_version_id: int | None,
) -> int:
    """Move everything of `merged` to `survivor`; returns the merge id (for undo)."""
    moved: dict[str, Any] = {}
    for name, table in OWNED.items():
        ids = [r[0] for r in conn.execute(select(table.c.id).where(table.c.person_id == merged))]
        moved[name] = ids
        if ids:
            conn.execute(update(table).where(table.c.id.in_(ids)).values(person_id=survivor))
    both = {
        r.id: r for r in conn.execute(select(people).where(people.c.id.in_([survivor, merged])))
    }
    keep, gone = both[survivor], both[merged]
    moved["email"] = gone.email if (gone.email and not keep.email) else None
    moved["merged_email"] = gone.email
    moved["survivor_stage"] = keep.stage
    moved["merged_stage"] = gone.stage
    conn.execute(
        update(people)
        .where(people.c.id == merged)
        .values(
            merged_into_id=survivor,
            email=None,
            stage=None,
            updated_at=at,
            change_seq=people.c.change_seq + 1,
        )
    )
    conn.execute(scores.delete().where(scores.c.person_id == merged))
    if moved["email"]:
        set_email(conn, survivor, moved["email"], at)
    fills = {
        c: getattr(gone, c)
        for c in ("first_name", "last_name", "title", "phone", "country", "account_id", "owner_id")
        if getattr(keep, c) is None and getattr(gone, c) is not None
    }
    update_person(conn, survivor, fills, at)
    moved["filled"] = sorted(fills)
    if gone.stage and (
        keep.stage is None or funnel_rank(Stage(gone.stage)) > funnel_rank(Stage(keep.stage))
    ):
        record_transition(
            conn,
            person_id=survivor,
            old=Stage(keep.stage) if keep.stage else None,
            new=Stage(gone.stage),
            at=at,
            actor=actor,
            reason=f"merged with person {merged}",
            playbook_version_id=playbook_version_id,
            now=at,
        )
    new = conn.execute(
        person_merges.insert().values(
            survivor_id=survivor,
            merged_id=merged,
            at=at,
            actor=actor,
            reason=reason,
            moved=moved,
        )
    ).inserted_primary_key
    assert new is not None
    return int(new[0])


def undo_merge(conn: Connection, merge_id: int, *, now: datetime, actor: str) -> tuple[int, int]:
    """Put back what a merge moved; returns (survivor, restored person)."""
    row = conn.execute(select(person_merges).where(person_merges.c.id == merge_id)).first()
    if row is None:
        raise NotFoundError(f"no merge {merge_id}", hint="list merges with GET /api/merges")
    if row.undone_at is not None:
        raise ConflictError(f"merge {merge_id} was already undone at {row.undone_at:%Y-%m-%d}")
    moved, survivor, merged = row.moved, row.survivor_id, row.merged_id
    for name, table in OWNED.items():
        ids = moved.get(name) or []
        if ids:
            conn.execute(update(table).where(and_(table.c.id.in_(ids))).values(person_id=merged))
    if moved.get("email"):
        conn.execute(update(people).where(people.c.id == survivor).values(email=None))
    update_person(conn, survivor, dict.fromkeys(moved.get("filled", [])), now)
    before, current = moved.get("survivor_stage"), stage_of(conn, survivor)
    if before and current and before != current.value:
        record_transition(
            conn,
            person_id=survivor,
            old=current,
            new=Stage(before),
            at=now,
            actor=actor,
            reason=f"merge {merge_id} undone",
            playbook_version_id=None,
            now=now,
        )
    update_person(
        conn,
        merged,
        {
            "merged_into_id": None,
            "email": moved.get("merged_email"),
            "stage": moved.get("merged_stage"),
        },
        now,
    )
    conn.execute(
        update(person_merges)
        .where(person_merges.c.id == merge_id)
        .values(undone_at=now, undone_by=actor)
    )
    return survivor, merged


# --- bulk operations used by batch ingestion ------------------------------------------------


def create_people(conn: Connection, created_at: Sequence[datetime], now: datetime) -> list[int]:
    """Insert one person per entry; returns their ids in the same order."""
    if not created_at:
        return []
    # Ids reserved up front and one driver executemany: SQLite cannot promise the order of
    # RETURNING rows, so `INSERT ... RETURNING` would run once per person.
    ids = reserve_ids(conn, people, len(created_at))
    columns = ("id", "created_at", "updated_at", "change_seq", "traits")
    rows = [(i, c, now, 0, "{}") for i, c in zip(ids, created_at, strict=True)]
    insert_many(conn, people, columns, rows)
    return ids


def claim_identities(
    conn: Connection, claims: Sequence[tuple[Key, int]], now: datetime
) -> dict[Key, int]:
    """Give each key to its person unless already owned; returns the owner of every key."""
    if not claims:
        return {}
    conn.execute(
        insert_ignore(conn, identities),
        [{"person_id": p, "kind": k[0], "value": k[1], "created_at": now} for k, p in claims],
    )
    return owners(conn, [k for k, _ in claims])


@dataclass(frozen=True, slots=True)
class PersonState:
    stage: str | None
    email: str | None
    account_id: int | None


def people_state(conn: Connection, ids: Iterable[int]) -> dict[int, PersonState]:
    """Stage, email and account of each person (through the driver: a hot read of ingest)."""
    rows = driver_select_in(conn, people, ("id", "stage", "email", "account_id"), "id", ids)
    return {pid: PersonState(stage, email, account) for pid, stage, email, account in rows}


def set_emails(conn: Connection, emails: Mapping[int, str], now: datetime) -> None:
    if emails:
        conn.execute(
            update(people)
            .where(people.c.id == bindparam("pid"), people.c.email.is_(None))
            .values(email=bindparam("email"), updated_at=now, change_seq=people.c.change_seq + 1),
            [{"pid": p, "email": e} for p, e in emails.items()],
        )


def record_transitions(conn: Connection, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Insert transition rows and move each person to the row's `to_stage`."""
    if not rows:
        return
    conn.execute(transitions.insert(), list(rows))
    conn.execute(
        update(people)
        .where(people.c.id == bindparam("pid"))
        .values(stage=bindparam("stage"), updated_at=now, change_seq=people.c.change_seq + 1),
        [{"pid": r["person_id"], "stage": r["to_stage"]} for r in rows],
    )


PROFILE_COLUMNS = ("first_name", "last_name", "title", "phone", "country")


def update_profiles(
    conn: Connection, profiles: Mapping[int, Mapping[str, str]], now: datetime
) -> None:
    """Set the given profile fields (others keep their value)."""
    if not profiles:
        return
    stmt = (
        update(people)
        .where(people.c.id == bindparam("pid"))
        .values(
            **{c: func.coalesce(bindparam(f"v_{c}"), people.c[c]) for c in PROFILE_COLUMNS},
            updated_at=now,
            change_seq=people.c.change_seq + 1,
        )
    )
    conn.execute(
        stmt,
        [
            {"pid": p, **{f"v_{c}": fields.get(c) for c in PROFILE_COLUMNS}}
            for p, fields in profiles.items()
        ],
    )

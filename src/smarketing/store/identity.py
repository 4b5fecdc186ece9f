"""Identity resolution in the store: who is behind an anonymous id, a user id or an email.

A person owns identities (`identities` rows, unique by kind and value). When one call proves
that identities of two people belong together, the people merge: the older survives, every row
of the other moves over, and the merge is recorded with what moved so an admin can undo it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, select, update

from smarketing.domain.stages import Stage, funnel_rank
from smarketing.errors import ConflictError, NotFoundError
from smarketing.store.crm.common import (
    driver_select_in,
    identity_owners,
    insert_many,
    reserve_ids,
    time_converter,
)
from smarketing.store.sql import update_each
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
    record_transitions(
        conn,
        [StageChange(person_id, old, new, at, reason)],
        actor=actor,
        playbook_version_id=playbook_version_id,
        now=now,
    )


class StageChange(NamedTuple):
    person_id: int
    old: Stage | None
    new: Stage
    at: datetime
    reason: str


def record_transitions(
    conn: Connection,
    changes: Sequence[StageChange],
    *,
    actor: str,
    playbook_version_id: int | None,
    now: datetime,
) -> None:
    """Each person's transition, and their new stage (one change per person), in two
    statements."""
    insert_transitions(
        conn,
        [
            {
                "person_id": ch.person_id,
                "from_stage": ch.old.value if ch.old else None,
                "to_stage": ch.new.value,
                "at": ch.at,
                "actor": actor,
                "reason": ch.reason,
                "playbook_version_id": playbook_version_id,
            }
            for ch in changes
        ],
    )
    update_each(
        conn,
        "people",
        set_="stage = :stage, updated_at = :now, change_seq = change_seq + 1",
        where="id = :pid",
        rows=[{"pid": ch.person_id, "stage": ch.new.value} for ch in changes],
        types={"pid": "bigint", "stage": "text"},
        constants={"now": time_converter(conn)(now)},
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
    claimed = _insert_identities(conn, claims, now)
    found = {k: p for k, p in claims if k in claimed}
    found.update(owners(conn, [k for k, _ in claims if k not in claimed]))
    return found


_IDENTITY_ROWS_PER_INSERT = 8_000  # 4 parameters a row: under SQLite's 32,766


def _insert_identities(
    conn: Connection, claims: Sequence[tuple[Key, int]], now: datetime
) -> set[Key]:
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING`: the keys this call gave their person.
    PostgreSQL: one statement over the rows as arrays; SQLite: multi-row VALUES."""
    at = time_converter(conn)(now)
    tail = "ON CONFLICT DO NOTHING RETURNING kind, value"
    head = "INSERT INTO identities (person_id, kind, value, created_at)"
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            f"{head} SELECT unnest(%s::bigint[]), unnest(%s::text[]), unnest(%s::text[]), %s "
            + tail,
            ([p for _, p in claims], [k[0] for k, _ in claims], [k[1] for k, _ in claims], at),
        )
        return {(kind, value) for kind, value in rows}
    claimed: set[Key] = set()
    for start in range(0, len(claims), _IDENTITY_ROWS_PER_INSERT):
        part = claims[start : start + _IDENTITY_ROWS_PER_INSERT]
        values = ", ".join(["(?, ?, ?, ?)"] * len(part))
        params = tuple([v for (kind, value), p in part for v in (p, kind, value, at)])
        rows = conn.exec_driver_sql(f"{head} VALUES {values} {tail}", params)
        claimed.update((kind, value) for kind, value in rows)
    return claimed


@dataclass(frozen=True, slots=True)
class PersonState:
    stage: str | None
    email: str | None
    account_id: int | None


def people_state(conn: Connection, ids: Iterable[int]) -> dict[int, PersonState]:
    """Stage, email and account of each person (through the driver: a hot read of ingest)."""
    rows = driver_select_in(conn, people, ("id", "stage", "email", "account_id"), "id", ids)
    return {pid: PersonState(stage, email, account) for pid, stage, email, account in rows}


def lock_people(conn: Connection, ids: Iterable[int]) -> set[int]:
    """PostgreSQL: lock these people's rows until the transaction ends, in id order (as
    scoring locks them), so transactions changing the same people take turns without a
    deadlock, and what they read next is current. Returns those merged into someone else
    (their identities have moved: look them up again). SQLite needs nothing: one writer at a
    time."""
    wanted = sorted(set(ids))
    if not wanted or conn.dialect.name != "postgresql":
        return set()
    rows = conn.exec_driver_sql(  # one array parameter: no statement compiled per id count
        "SELECT id, merged_into_id FROM people WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
        (wanted,),
    )
    return {person for person, merged_into in rows if merged_into is not None}


def set_emails(conn: Connection, emails: Mapping[int, str], now: datetime) -> None:
    """Each person's email, where they have none yet."""
    update_each(
        conn,
        "people",
        set_="email = :new_email, updated_at = :now, change_seq = change_seq + 1",
        where="id = :pid AND email IS NULL",
        rows=[{"pid": p, "new_email": e} for p, e in emails.items()],
        types={"pid": "bigint", "new_email": "text"},
        constants={"now": time_converter(conn)(now)},
    )


def insert_transitions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert transition rows (the people's stage is set by the caller: `update_people`)."""
    if rows:
        columns = tuple(rows[0])
        insert_many(conn, transitions, columns, [tuple(r[c] for c in columns) for r in rows])


PROFILE_COLUMNS = ("first_name", "last_name", "title", "phone", "country")


_PROFILE_SET = ", ".join(f"{c} = coalesce(:new_{c}, {c})" for c in PROFILE_COLUMNS)


@dataclass(frozen=True, slots=True)
class PersonChange:
    """What a tracking chunk sets on one person; None leaves a field as it is."""

    email: str | None = None  # only where the person has none yet
    profile: Mapping[str, str] | None = None  # some of PROFILE_COLUMNS
    stage: str | None = None
    account_id: int | None = None


def update_people(conn: Connection, changes: Mapping[int, PersonChange], now: datetime) -> None:
    """Apply each person's change in one statement, so each person gets one new row version
    (PostgreSQL writes one per UPDATE, with an entry in each index). `change_seq` goes up once
    per kind of change made, as one UPDATE per kind would; a person whose only change is an
    email, and who has one already, is left untouched.

    People are grouped by the kinds of change they get, one UPDATE per group that sets only
    those columns: SQLite rewrites the index entries of every column set, changed or not."""
    groups: dict[tuple[bool, bool, bool, bool], list[dict[str, Any]]] = {}
    for person, change in changes.items():
        row: dict[str, Any] = {"pid": person, "new_email": change.email}
        row.update({f"new_{c}": (change.profile or {}).get(c) for c in PROFILE_COLUMNS})
        row.update(new_stage=change.stage, new_account=change.account_id)
        kinds = (
            change.email is not None,
            change.profile is not None,
            change.stage is not None,
            change.account_id is not None,
        )
        groups.setdefault(kinds, []).append(row)
    at = time_converter(conn)(now)
    for (email, profile, stage, account), rows in groups.items():
        chosen = [
            (sql, part_types)
            for on, sql, part_types in (
                (email, "email = coalesce(email, :new_email)", {"new_email": "text"}),
                (profile, _PROFILE_SET, {f"new_{c}": "text" for c in PROFILE_COLUMNS}),
                (stage, "stage = :new_stage", {"new_stage": "text"}),
                (account, "account_id = :new_account", {"new_account": "bigint"}),
            )
            if on
        ]
        types = {"pid": "bigint"}
        for _, part_types in chosen:
            types.update(part_types)
        counted = int(profile) + int(stage) + int(account)
        sequence = f"change_seq + {counted}"
        if email:
            sequence += " + CASE WHEN email IS NULL THEN 1 ELSE 0 END"
        update_each(
            conn,
            "people",
            set_=", ".join(
                [sql for sql, _ in chosen] + [f"updated_at = :now, change_seq = {sequence}"]
            ),
            where="id = :pid" if counted else "id = :pid AND email IS NULL",
            rows=[{k: r[k] for k in types} for r in rows],
            types=types,
            constants={"now": at},
        )

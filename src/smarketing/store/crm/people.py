"""People from CRM records: found by CRM id (an identity) or email, merged, written in bulk.

Per chunk: one SELECT of identities by value, one of people by email (and one by id for
people found through an identity or a merge), one per account key and one of converted deals;
then one executemany each for new people (ids reserved up front), changed people, new
identities and transitions. The caller's `StagePlanner` decides stage moves; a person merged
into another (`merged_into_id`) is updated through the survivor.

`upsert_people` does it all on one connection. `prepare_people` stops before the writes and
hands back the rows (`PeopleRows`) and what they will change (`PendingPeople`), so that a
caller can write them on another connection while it looks up and merges the next chunk
(`services.import_overlap`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, Protocol

from sqlalchemy import Connection

from smarketing.domain.stages import Stage
from smarketing.store.crm.common import (
    IMPORTED,
    UNCHANGED,
    AccountLink,
    IdentityRef,
    RowOutcome,
    WriteContext,
    account_ids,
    driver_select_in,
    identity_owners,
    insert_many,
    json_text,
    rejected,
    reserve_ids,
    select_in,
    time_converter,
    update_by_id,
)
from smarketing.store.crm.pending import PendingPeople
from smarketing.store.tables import deals, identities, people, transitions

StageMove = tuple[Stage | None, Stage, datetime]
StagePlanner = Callable[
    [Stage | None, Stage | None, Sequence[tuple[Stage, datetime]]],
    tuple[Stage | None, Sequence[StageMove]],
]
"""(current stage, claimed stage, dated entries) -> (stage after, transitions to record)."""

SCALARS = ("first_name", "last_name", "title", "phone", "country", "original_channel")
STATE = ("email", *SCALARS, "account_id", "stage", "traits")
STAGE_TEXT: dict[Stage, str] = {stage: stage.value for stage in Stage}
STAGE_BY_TEXT: dict[str, Stage] = {stage.value: stage for stage in Stage}
_PLAIN_STATE_OF = itemgetter(*STATE[:-1])
INSERT_COLUMNS = ("id", *STATE, "change_seq", "created_at", "updated_at")
IDENTITY_COLUMNS = ("person_id", "kind", "value", "created_at")
TRANSITION_COLUMNS = ("person_id", "from_stage", "to_stage", "at", "actor", "reason",
                      "playbook_version_id")  # fmt: skip


class PersonInput(Protocol):
    @property
    def email(self) -> str | None: ...
    @property
    def external_ids(self) -> Sequence[IdentityRef]: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def last_name(self) -> str | None: ...
    @property
    def title(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def country(self) -> str | None: ...
    @property
    def original_channel(self) -> str | None: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def traits(self) -> Mapping[str, str]: ...
    @property
    def claimed_stage(self) -> Stage | None: ...
    @property
    def stage_dates(self) -> Sequence[tuple[Stage, datetime]]: ...
    @property
    def account(self) -> AccountLink | None: ...
    @property
    def company_domain(self) -> str | None: ...
    @property
    def converted_deal_ids(self) -> Sequence[str]: ...


def upsert_people(
    conn: Connection, records: Sequence[PersonInput], ctx: WriteContext, plan: StagePlanner
) -> list[RowOutcome]:
    """Merge `records` into `people` (with identities, dated transitions, deal links)."""
    chunk = PeopleChunk(conn, records)
    outcomes = [chunk.merge(r, plan) for r in records]
    chunk.rows(ctx).insert(conn)
    return outcomes


def prepare_people(
    conn: Connection,
    records: Sequence[PersonInput],
    ctx: WriteContext,
    plan: StagePlanner,
    pending: PendingPeople | None,
) -> tuple[list[RowOutcome], PeopleRows, PendingPeople]:
    """`upsert_people` up to the writes: the outcomes, the rows to write (on any connection,
    after `pending`'s) and what they change, for the lookups of the next chunk.

    `conn` only reads (and, on PostgreSQL, draws ids from the sequence, which no rollback
    returns). `pending`: the previous chunk's changes when they may not be committed yet;
    the lookups see them whether or not they are (see `PendingPeople`)."""
    chunk = PeopleChunk(conn, records, pending)
    outcomes = [chunk.merge(r, plan) for r in records]
    rows = chunk.rows(ctx)
    return outcomes, rows, chunk.changes(rows.new_ids)


@dataclass(frozen=True, slots=True)
class PeopleRows:
    """One chunk's writes, values converted for the driver: plain data, so another thread
    may write them (`insert`) while the chunk that made them goes on to the next."""

    new_ids: dict[int, int]
    """Real id of each new person's negative key."""
    people: list[tuple[Any, ...]]
    changed: list[dict[str, Any]]
    identities: list[tuple[Any, ...]]
    transitions: list[tuple[Any, ...]]
    deal_links: list[dict[str, Any]]

    def insert(self, conn: Connection) -> None:
        """Write the rows in the caller's transaction: people first (the others refer to them)."""
        insert_many(conn, people, INSERT_COLUMNS, self.people, converted=True)
        update_by_id(conn, people, self.changed)
        insert_many(conn, identities, IDENTITY_COLUMNS, self.identities, converted=True)
        insert_many(conn, transitions, TRANSITION_COLUMNS, self.transitions, converted=True)
        update_by_id(conn, deals, self.deal_links)


class PeopleChunk:
    """What exists for one chunk of records, merged in memory row by row, written at once.
    New people get negative keys until `rows` reserves their real ids."""

    def __init__(
        self,
        conn: Connection,
        records: Sequence[PersonInput],
        pending: PendingPeople | None = None,
    ) -> None:
        self.conn = conn
        self.pending = pending
        self.state: dict[int, dict[str, Any]] = {}
        self.loaded: dict[int, dict[str, Any]] = {}
        self.merged_into: dict[int, int] = {}
        self.by_email: dict[str, int] = {}
        self.by_identity: dict[tuple[str, str], int] = {}
        self.created_at: dict[int, datetime | None] = {}
        self.new_identities: list[tuple[int, str, str]] = []
        self.moves: list[tuple[int, Stage | None, Stage, datetime]] = []
        self.deal_links: list[tuple[int, int]] = []
        self._load(records)

    def _load(self, records: Sequence[PersonInput]) -> None:
        emails = {r.email for r in records if r.email}
        keys = {("email", e) for e in emails}
        keys.update((str(ref.kind), ref.value) for r in records for ref in r.external_ids)
        pending = self.pending
        self.by_identity.update(identity_owners(self.conn, keys))
        if pending is not None:
            self.by_identity.update(pending.identity_owners(keys))
        columns = ("id", "merged_into_id", *STATE)
        found = driver_select_in(self.conn, people, columns, "email", emails)
        self._keep(pending.people_by_email(found, emails) if pending else found)
        missing = set(self.by_identity.values()) - self.state.keys()
        while missing:
            if pending is None:
                self._keep(driver_select_in(self.conn, people, columns, "id", missing))
            else:
                stored = missing - pending.people.keys()
                found = driver_select_in(self.conn, people, columns, "id", stored)
                self._keep(pending.people_by_id(found, missing))
            missing = set(self.merged_into.values()) - self.state.keys()
        links = [(str(r.account.key), r.account.value) for r in records if r.account]
        links += [("domain", r.company_domain) for r in records if r.company_domain]
        self.accounts = account_ids(self.conn, links)
        found_deals = select_in(
            self.conn,
            [deals.c.id, deals.c.salesforce_id, deals.c.person_id],
            deals.c.salesforce_id,
            {d for r in records for d in r.converted_deal_ids},
        )
        self.deals: dict[str, tuple[int, int | None]] = {
            sfid: (deal_id, pending.deals.get(deal_id, person_id) if pending else person_id)
            for deal_id, sfid, person_id in found_deals
        }

    def _keep(self, rows: Iterable[tuple[Any, ...]]) -> None:
        for person_id, merged_into_id, *state in rows:
            values = dict(zip(STATE, state, strict=True))
            if isinstance(values["traits"], str):
                values["traits"] = json.loads(values["traits"])
            self.state[person_id] = values
            self.loaded[person_id] = dict(values)
            if merged_into_id is not None:
                self.merged_into[person_id] = merged_into_id
            if values["email"] is not None:
                self.by_email.setdefault(values["email"], person_id)

    def _survivor(self, key: int) -> int:
        seen = {key}
        while key in self.merged_into and self.merged_into[key] in self.state:
            key = self.merged_into[key]
            if key in seen:
                break
            seen.add(key)
        return key

    def _find(self, r: PersonInput) -> tuple[int | None, RowOutcome | None]:
        keyed = None
        for ref in r.external_ids:
            owner = self.by_identity.get((ref.kind, ref.value))
            if owner is not None and keyed is not None and owner != keyed:
                ids = ", ".join(x.value for x in r.external_ids)
                reason = f"the ids {ids} belong to different people"
                return None, rejected("record_id", reason, ids)
            keyed = owner if owner is not None else keyed
        by_email = None
        if r.email:
            by_email = self.by_email.get(r.email) or self.by_identity.get(("email", r.email))
        key = keyed if keyed is not None else by_email
        if key is None:
            return None, None
        if by_email is not None and self._survivor(by_email) != self._survivor(key):
            reason = f"email {r.email} belongs to another person than this record's id"
            return None, rejected("email", reason, r.email or "")
        return self._survivor(key), None

    def merge(self, r: PersonInput, plan: StagePlanner) -> RowOutcome:
        key, problem = self._find(r)
        if problem is not None:
            return problem
        if key is None:
            self._create(r, plan)
            return IMPORTED
        state = self.state[key]
        before = dict(state)
        added = self._apply(key, state, r, plan)
        return IMPORTED if added or state != before else UNCHANGED

    def _create(self, r: PersonInput, plan: StagePlanner) -> None:
        """A person no key found: `_apply` on an empty state, unrolled (most rows of a first
        import take this path). `_find` has checked that none of its keys is taken."""
        key = -1 - len(self.created_at)
        self.created_at[key] = r.created_at
        email = r.email
        account = r.account
        account_id = None
        if account is not None:
            account_id = self.accounts.get((account.key, account.value))
        elif r.company_domain:
            account_id = self.accounts.get(("domain", r.company_domain))
        stage, moves = plan(None, r.claimed_stage, r.stage_dates)
        self.state[key] = {
            "email": email or None,
            "first_name": r.first_name,
            "last_name": r.last_name,
            "title": r.title,
            "phone": r.phone,
            "country": r.country,
            "original_channel": r.original_channel,
            "account_id": account_id,
            "stage": STAGE_TEXT[stage] if moves and stage is not None else None,
            "traits": dict(r.traits),
        }
        if moves and stage is not None:
            self.moves.extend((key, *move) for move in moves)
        if email:
            self.by_email[email] = key
            self.by_identity[("email", email)] = key
            self.new_identities.append((key, "email", email))
        for ref in r.external_ids:
            if (ref.kind, ref.value) not in self.by_identity:
                self.by_identity[(ref.kind, ref.value)] = key
                self.new_identities.append((key, str(ref.kind), ref.value))
        for sfid in r.converted_deal_ids:
            deal = self.deals.get(sfid)
            if deal is not None and deal[1] is None:
                self.deals[sfid] = (deal[0], key)
                self.deal_links.append((deal[0], key))

    def _apply(self, key: int, state: dict[str, Any], r: PersonInput, plan: StagePlanner) -> int:
        """Merge `r` into `state`; returns how many rows it adds elsewhere (identities...)."""
        email = r.email
        if email and state["email"] != email and email not in self.by_email:
            self.by_email.pop(state["email"], None)
            state["email"] = email
            self.by_email[email] = key
        for name, value in (
            ("first_name", r.first_name),
            ("last_name", r.last_name),
            ("title", r.title),
            ("phone", r.phone),
            ("country", r.country),
            ("original_channel", r.original_channel),
        ):
            if value is not None:
                state[name] = value
        traits = r.traits
        if traits:
            stored = state["traits"] or {}
            if any(stored.get(k) != v for k, v in traits.items()):
                state["traits"] = {**stored, **traits}
        account = r.account
        if account is not None:
            linked = self.accounts.get((account.key, account.value))
            if linked is not None:
                state["account_id"] = linked
        elif r.company_domain and state["account_id"] is None:
            state["account_id"] = self.accounts.get(("domain", r.company_domain))
        current = STAGE_BY_TEXT.get(state["stage"]) if state["stage"] else None
        stage, moves = plan(current, r.claimed_stage, r.stage_dates)
        if moves and stage is not None:
            state["stage"] = STAGE_TEXT[stage]
            self.moves.extend((key, *move) for move in moves)
        added = len(moves)
        if email and ("email", email) not in self.by_identity:
            self.by_identity[("email", email)] = key
            self.new_identities.append((key, "email", email))
            added += 1
        for ref in r.external_ids:
            if (ref.kind, ref.value) not in self.by_identity:
                self.by_identity[(ref.kind, ref.value)] = key
                self.new_identities.append((key, str(ref.kind), ref.value))
                added += 1
        for sfid in r.converted_deal_ids:
            deal = self.deals.get(sfid)
            if deal is not None and deal[1] is None:
                self.deals[sfid] = (deal[0], key)
                self.deal_links.append((deal[0], key))
                added += 1
        return added

    def rows(self, ctx: WriteContext) -> PeopleRows:
        """The chunk's rows for the driver, with real ids for the new people (reserved here:
        on SQLite this needs the write transaction, see `reserve_ids`)."""
        now = ctx.now
        db_time = time_converter(self.conn)
        db_now = db_time(now)
        new_keys = list(self.created_at)
        new_ids = reserve_ids(self.conn, people, len(new_keys))
        real = dict(zip(new_keys, new_ids, strict=True))
        times: dict[datetime, Any] = {}  # converted once: creation and stage dates repeat
        rows = []
        for k, person_id in zip(new_keys, new_ids, strict=True):
            state = self.state[k]
            created = self.created_at[k]
            if created is None:
                db_created = db_now
            elif (db_created := times.get(created)) is None:
                db_created = times[created] = db_time(created)
            rows.append(
                (person_id, *_PLAIN_STATE_OF(state), json_text(state["traits"]), 0, db_created,
                 db_now)
            )  # fmt: skip
        changed = [
            {"row_id": k, **state, "updated_at": now}
            for k, state in self.state.items()
            if k > 0 and state != self.loaded[k]
        ]
        moves = []
        for k, old, new, at in self.moves:
            db_at = times.get(at)
            if db_at is None:
                db_at = times[at] = db_time(at)
            moves.append(
                (real.get(k, k), STAGE_TEXT[old] if old else None, STAGE_TEXT[new], db_at,
                 ctx.actor, ctx.reason, ctx.playbook_version_id)
            )  # fmt: skip
        return PeopleRows(
            new_ids=real,
            people=rows,
            changed=changed,
            identities=[
                (real.get(k, k), kind, value, db_now) for k, kind, value in self.new_identities
            ],
            transitions=moves,
            deal_links=[
                {"row_id": deal_id, "person_id": real.get(k, k), "updated_at": now}
                for deal_id, k in self.deal_links
            ],
        )

    def changes(self, real: Mapping[int, int]) -> PendingPeople:
        """What this chunk's rows change (new people by their real ids in `real`), for the
        lookups of the next chunk while these rows may not be committed yet."""
        people: dict[int, tuple[Any, ...]] = {}
        for k, state in self.state.items():
            if k < 0:
                person_id, merged_into_id = real[k], None
            elif state != self.loaded[k]:
                person_id, merged_into_id = k, self.merged_into.get(k)
            else:
                continue
            people[person_id] = (person_id, merged_into_id, *_PLAIN_STATE_OF(state),
                                 state["traits"])  # fmt: skip
        return PendingPeople(
            people=people,
            identities={(kind, value): real.get(k, k) for k, kind, value in self.new_identities},
            deals={deal_id: real.get(k, k) for deal_id, k in self.deal_links},
        )

"""People from CRM records: found by CRM id (an identity) or email, merged, written in bulk.

Per chunk: one SELECT of identities by value, one of people by email (and one by id for
people found through an identity or a merge), one per account key and one of converted deals;
then one executemany each for new people (ids returned in order), changed people, new
identities and transitions. The caller's `StagePlanner` decides stage moves; a person merged
into another (`merged_into_id`) is updated through the survivor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
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
    insert_returning_ids,
    rejected,
    select_in,
    update_by_id,
)
from smarketing.store.tables import deals, identities, people, transitions

StageMove = tuple[Stage | None, Stage, datetime]
StagePlanner = Callable[
    [Stage | None, Stage | None, Mapping[Stage, datetime]],
    tuple[Stage | None, Sequence[StageMove]],
]
"""(current stage, claimed stage, dated entries) -> (stage after, transitions to record)."""

SCALARS = ("first_name", "last_name", "title", "phone", "country", "original_channel")
STATE = ("email", *SCALARS, "account_id", "stage", "traits")


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
    chunk.write(ctx)
    return outcomes


class PeopleChunk:
    """What exists for one chunk of records, merged in memory row by row, written at once.
    New people get negative keys until their insert returns real ids."""

    def __init__(self, conn: Connection, records: Sequence[PersonInput]) -> None:
        self.conn = conn
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
        values = emails | {ref.value for r in records for ref in r.external_ids}
        for person_id, kind, value in select_in(
            self.conn,
            [identities.c.person_id, identities.c.kind, identities.c.value],
            identities.c.value,
            values,
        ):
            self.by_identity[(kind, value)] = person_id
        columns = [people.c.id, people.c.merged_into_id, *(people.c[c] for c in STATE)]
        self._keep(select_in(self.conn, columns, people.c.email, emails))
        missing = set(self.by_identity.values()) - self.state.keys()
        while missing:
            self._keep(select_in(self.conn, columns, people.c.id, missing))
            missing = set(self.merged_into.values()) - self.state.keys()
        links = [(str(r.account.key), r.account.value) for r in records if r.account]
        links += [("domain", r.company_domain) for r in records if r.company_domain]
        self.accounts = account_ids(self.conn, links)
        self.deals: dict[str, tuple[int, int | None]] = {
            sfid: (deal_id, person_id)
            for deal_id, sfid, person_id in select_in(
                self.conn,
                [deals.c.id, deals.c.salesforce_id, deals.c.person_id],
                deals.c.salesforce_id,
                {d for r in records for d in r.converted_deal_ids},
            )
        }

    def _keep(self, rows: Iterable[Any]) -> None:
        for row in rows:
            values = dict(zip(STATE, row[2:], strict=True))
            self.state[row.id] = values
            self.loaded[row.id] = dict(values)
            if row.merged_into_id is not None:
                self.merged_into[row.id] = row.merged_into_id
            if row.email is not None:
                self.by_email.setdefault(row.email, row.id)

    def _survivor(self, key: int) -> int:
        seen = {key}
        while key in self.merged_into and self.merged_into[key] in self.state:
            key = self.merged_into[key]
            if key in seen:
                break
            seen.add(key)
        return key

    def _find(self, r: PersonInput) -> tuple[int | None, RowOutcome | None]:
        keyed = {self.by_identity.get((str(x.kind), x.value)) for x in r.external_ids}
        keyed.discard(None)
        if len(keyed) > 1:
            ids = ", ".join(x.value for x in r.external_ids)
            return None, rejected("record_id", f"the ids {ids} belong to different people", ids)
        by_email = None
        if r.email:
            by_email = self.by_email.get(r.email) or self.by_identity.get(("email", r.email))
        key = keyed.pop() if keyed else by_email
        if (
            key is not None
            and by_email is not None
            and self._survivor(by_email) != self._survivor(key)
        ):
            reason = f"email {r.email} belongs to another person than this record's id"
            return None, rejected("email", reason, r.email or "")
        return (self._survivor(key) if key is not None else None), None

    def merge(self, r: PersonInput, plan: StagePlanner) -> RowOutcome:
        key, problem = self._find(r)
        if problem is not None:
            return problem
        is_new = key is None
        if key is None:
            key = -1 - len(self.created_at)
            self.created_at[key] = r.created_at
            self.state[key] = dict.fromkeys(STATE)
        state = self.state[key]
        before = dict(state)
        added = self._apply(key, state, r, plan)
        return IMPORTED if is_new or added or state != before else UNCHANGED

    def _apply(self, key: int, state: dict[str, Any], r: PersonInput, plan: StagePlanner) -> int:
        """Merge `r` into `state`; returns how many rows it adds elsewhere (identities...)."""
        if r.email and state["email"] != r.email and r.email not in self.by_email:
            self.by_email.pop(state["email"], None)
            state["email"] = r.email
            self.by_email[r.email] = key
        for name in SCALARS:
            value = getattr(r, name)
            if value is not None:
                state[name] = value
        if r.traits and any((state["traits"] or {}).get(k) != v for k, v in r.traits.items()):
            state["traits"] = {**(state["traits"] or {}), **r.traits}
        if r.account is not None:
            linked = self.accounts.get((str(r.account.key), r.account.value))
            if linked is not None:
                state["account_id"] = linked
        elif r.company_domain and state["account_id"] is None:
            state["account_id"] = self.accounts.get(("domain", r.company_domain))
        current = Stage(state["stage"]) if state["stage"] else None
        stage, moves = plan(current, r.claimed_stage, dict(r.stage_dates))
        if moves and stage is not None:
            state["stage"] = stage.value
            self.moves.extend((key, *move) for move in moves)
        added = len(moves)
        refs = [(str(x.kind), x.value) for x in r.external_ids]
        for ref in [("email", r.email), *refs] if r.email else refs:
            if ref not in self.by_identity:
                self.by_identity[ref] = key
                self.new_identities.append((key, *ref))
                added += 1
        for sfid in r.converted_deal_ids:
            deal = self.deals.get(sfid)
            if deal is not None and deal[1] is None:
                self.deals[sfid] = (deal[0], key)
                self.deal_links.append((deal[0], key))
                added += 1
        return added

    def write(self, ctx: WriteContext) -> None:
        now = ctx.now
        new_keys = list(self.created_at)
        inserts = [
            {**self.state[k], "traits": self.state[k]["traits"] or {}, "change_seq": 0,
             "created_at": self.created_at[k] or now, "updated_at": now}
            for k in new_keys
        ]  # fmt: skip
        real = dict(zip(new_keys, insert_returning_ids(self.conn, people, inserts), strict=True))
        changed = [
            {"row_id": k, **state, "updated_at": now}
            for k, state in self.state.items()
            if k > 0 and state != self.loaded[k]
        ]
        update_by_id(self.conn, people, changed)
        if self.new_identities:
            rows = [
                {"person_id": real.get(k, k), "kind": kind, "value": value, "created_at": now}
                for k, kind, value in self.new_identities
            ]
            self.conn.execute(identities.insert(), rows)
        if self.moves:
            self.conn.execute(
                transitions.insert(),
                [
                    {"person_id": real.get(k, k), "from_stage": old.value if old else None,
                     "to_stage": new.value, "at": at, "actor": ctx.actor, "reason": ctx.reason,
                     "playbook_version_id": ctx.playbook_version_id}
                    for k, old, new, at in self.moves
                ],
            )  # fmt: skip
        links = [
            {"row_id": deal_id, "person_id": real.get(k, k), "updated_at": now}
            for deal_id, k in self.deal_links
        ]
        update_by_id(self.conn, deals, links)

"""What stored tracking events change: people and identities, accounts, touchpoints, scores and
MQLs, for a chunk of events inside the caller's transaction.

The processor (`services.tracking.Tracker.process_pending`) runs this over chunks of queued
events; with inline processing the request's own transaction runs it. Statements are per
chunk, not per event: identities are planned in memory (`ingest.identity_plan`) and written
with executemany.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from smarketing.domain.identity import company_domain_of
from smarketing.domain.stages import Stage
from smarketing.ingest.identity_plan import EventKeys, IdentityPlan, plan_identities
from smarketing.ingest.segment import CallType
from smarketing.ingest.touches import TouchDraft, draft_touch
from smarketing.playbook.schema import Playbook
from smarketing.services import mql, scoring, webhooks
from smarketing.services.lifecycle import Change
from smarketing.services.tracking_rows import (
    Parsed,
    event_keys,
    str_or_none,
    touch_row,
    website_domain,
)
from smarketing.store import identity, tracking

PERSON_FIELDS = {
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "title": "title",
    "phone": "phone",
    "country": "country",
}


@dataclass
class ContentCache:
    """Content ids by key. Ids never change once given, so they are cached per process; ids
    read or made in a transaction join the cache only after it commits (`commit`), since
    another thread must not use a stub that may still roll back."""

    known: dict[str, int] = field(default_factory=dict)

    def ids(
        self,
        conn: Connection,
        wanted: dict[str, tuple[str | None, str]],
        now: datetime,
        new: dict[str, int],
    ) -> dict[str, int]:
        missing = {k: v for k, v in wanted.items() if k not in self.known}
        found = tracking.content_ids(conn, missing, now) if missing else {}
        new.update(found)
        return {**self.known, **found}

    def commit(self, new: dict[str, int]) -> None:
        self.known.update(new)


@dataclass(frozen=True, slots=True)
class PreparedEvents:
    """What a chunk's events make that needs no database: their time order, their identity
    keys and the touchpoint each makes (None for identify, group and alias calls)."""

    events: list[Parsed]
    keys: list[EventKeys]
    drafts: list[TouchDraft | None]

    def only(self, event_ids: set[int]) -> PreparedEvents:
        """The events among `event_ids` (another processor took the rest)."""
        kept = [i for i, p in enumerate(self.events) if p.event_id in event_ids]
        if len(kept) == len(self.events):
            return self
        return PreparedEvents(
            [self.events[i] for i in kept],
            [self.keys[i] for i in kept],
            [self.drafts[i] for i in kept],
        )


def prepare_events(fresh: list[Parsed], playbook: Playbook, version_id: int) -> PreparedEvents:
    """`fresh` in time order with their keys and touchpoint drafts under the playbook in
    force (`version_id`). Pure: on SQLite the processor runs it before it takes the store's
    one write lock, which every request waits for (drafting a touchpoint, the channel rules
    included, is about a fifth of processing an event)."""
    events = sorted(fresh, key=lambda p: p.event.timestamp)
    channels = playbook.channels
    overrides = tuple(channels.domain_overrides())  # tuples: draft_touch's cache keys
    own_domains, version = tuple(channels.own_domains), f"playbook-{version_id}"
    return PreparedEvents(
        events,
        [event_keys(p) for p in events],
        [
            draft_touch(p.event, overrides, own_domains=own_domains, overrides_version=version)
            for p in events
        ],
    )


@dataclass
class Effects:
    """One chunk's context: the transaction, the playbook in force, the time it runs."""

    conn: Connection
    playbook: Playbook
    version_id: int
    now: datetime
    content: ContentCache
    new_content: dict[str, int] = field(default_factory=dict)
    people: dict[int, identity.PersonState] = field(default_factory=dict)
    """Stage, email and account of the chunk's people after `_update_people` wrote them."""

    def apply(self, prepared: PreparedEvents) -> None:
        """Resolve who the events are, store touchpoints, rescore, promote MQLs. `prepared`
        must come from `prepare_events` with this playbook version."""
        conn = self.conn
        fresh, keyed = prepared.events, prepared.keys
        keys = {k for ev in keyed for k in (*ev.claims, *ev.lookups)}
        owners = identity.owners(conn, keys)
        # PostgreSQL: the chunk's people are locked before anything about them is read (their
        # stage decides MQLs), so two processors with the same person take turns; one merged
        # meanwhile has moved its identities to the survivor.
        for _ in range(3):
            if not identity.lock_people(conn, owners.values()):
                break
            owners = identity.owners(conn, keys)
        plan = plan_identities(keyed, owners)
        real = self._apply_plan(plan, fresh)
        person_of_event = [real(p) for p in plan.person_of_event]
        self._update_people(fresh, person_of_event)
        rows: list[tuple[Parsed, int | None, TouchDraft]] = []
        for p, planned, draft in zip(fresh, person_of_event, prepared.drafts, strict=True):
            if draft is not None:
                person = planned
                if person is None and p.event.anonymous_id:
                    person = real(plan.person_of_anonymous(p.event.anonymous_id))
                rows.append((p, person, draft))
        touch_rows = self._store_touches(rows)
        by_person: dict[int, list[dict[str, Any]]] = {}
        for row in touch_rows:
            if row["person_id"] is not None:
                by_person.setdefault(row["person_id"], []).append(row)
        # Everyone the chunk touched is rescored (an identify can change fit), then promoted.
        touched = {p for p in person_of_event if p is not None} | set(by_person)
        scores = scoring.rescore_totals(
            conn, sorted(touched), self.playbook, self.version_id, self.now, locked=True
        )
        change = Change(
            conn=conn,
            playbook=self.playbook,
            version_id=self.version_id,
            now=self.now,
            actor="tracking",
        )
        mql.promote(change, by_person, scores, self.people_state(set(by_person) | set(scores)))

    def people_state(self, ids: set[int]) -> dict[int, identity.PersonState]:
        """`identity.people_state`, from what this chunk knows (read for anyone else)."""
        missing = ids - self.people.keys()
        if missing:
            self.people.update(identity.people_state(self.conn, missing))
        return {p: self.people[p] for p in ids if p in self.people}

    def _store_touches(
        self, rows: list[tuple[Parsed, int | None, TouchDraft]]
    ) -> list[dict[str, Any]]:
        if not rows:
            return []
        wanted = {
            d.content_key: (d.content_title, d.content_kind.value)
            for _, _, d in rows
            if d.content_key
        }
        content = self.content.ids(self.conn, wanted, self.now, self.new_content)
        state = self.people_state({pid for _, pid, _ in rows if pid})
        touch_rows = [
            touch_row(p, pid, state[pid].account_id if pid else None, d, content)
            for p, pid, d in rows
        ]
        tracking.insert_touchpoints(self.conn, touch_rows)
        return touch_rows

    def _apply_plan(self, plan: IdentityPlan, fresh: list[Parsed]) -> Any:
        """Create the planned people, merge the proven ones, claim identities; returns the
        function mapping planned person ids (placeholders included) to stored ids."""
        conn, now = self.conn, self.now
        first_seen: dict[int, datetime] = {}
        for p, person in zip(fresh, plan.person_of_event, strict=True):
            if person is not None and person < 0:
                first_seen.setdefault(person, p.event.timestamp)
        created = identity.create_people(conn, [first_seen[n] for n in plan.new_people], now)
        ids: dict[int, int] = dict(zip(plan.new_people, created, strict=True))
        for survivor, merged in plan.merges:
            self._merge(survivor, merged, "one tracking batch proved they are the same person")

        def real(person: int | None) -> int | None:
            if person is None:
                return None
            person = ids.get(person, person)
            while person in ids and ids[person] != person:
                person = ids[person]
            return person

        claims = [(k, real(p)) for k, p in plan.claims]
        owners = identity.claim_identities(conn, [(k, p) for k, p in claims if p], now)
        for key, planned in claims:
            owner = owners.get(key)
            if owner is not None and planned is not None and owner != planned:
                # Claimed concurrently by another writer: they are the same person.
                survivor, merged = min(owner, planned), max(owner, planned)
                self._merge(survivor, merged, "concurrent identity claim")
                ids[merged] = survivor
        return real

    def _update_people(self, fresh: list[Parsed], persons: list[int | None]) -> None:
        """Emails, profiles, first-known-identity transitions, account links, anonymous history."""
        conn, now = self.conn, self.now
        state = identity.people_state(conn, {p for p in persons if p})
        emails: dict[int, str] = {}
        profiles: dict[int, dict[str, str]] = {}
        leads: dict[int, dict[str, Any]] = {}
        anonymous: dict[str, int] = {}
        groups: dict[str, dict[str, Any]] = {}
        group_of: dict[int, str] = {}
        domain_of: dict[int, str] = {}
        for p, person in zip(fresh, persons, strict=True):
            if person is None:
                continue
            event = p.event
            known = bool(event.user_id or p.email)
            if p.email and state[person].email is None:
                emails.setdefault(person, p.email)
            if known and state[person].stage is None and person not in leads:
                leads[person] = {
                    "person_id": person,
                    "from_stage": None,
                    "to_stage": Stage.LEAD.value,
                    "at": event.timestamp,
                    "actor": "tracking",
                    "reason": f"first known identity ({event.type.value})",
                    "playbook_version_id": self.version_id,
                }
            if known and event.anonymous_id:
                anonymous[event.anonymous_id] = person
            if event.type is CallType.IDENTIFY:
                fields = {
                    col: str(event.traits[key])[:300]
                    for key, col in PERSON_FIELDS.items()
                    if isinstance(event.traits.get(key), str | int)
                }
                if fields:
                    profiles.setdefault(person, {}).update(fields)
            group_id = event.group_id or event.context_group_id
            if group_id:
                traits = groups.setdefault(group_id, {})
                if event.type is CallType.GROUP:
                    traits.update(event.traits)
                group_of[person] = group_id
            elif p.email and (domain := company_domain_of(p.email)):
                domain_of.setdefault(person, domain)
        identity.insert_transitions(conn, list(leads.values()))
        webhooks.emit_many(
            conn,
            webhooks.EventType.PERSON_STAGE_CHANGED,
            [
                {
                    "person_id": r["person_id"],
                    "from": None,
                    "to": r["to_stage"],
                    "at": r["at"].isoformat(),
                    "actor": r["actor"],
                    "reason": r["reason"],
                }
                for r in leads.values()
            ],
            now,
        )
        tracking.attach_anonymous(conn, anonymous)
        links = self._accounts(groups, group_of, domain_of, state)
        changed = sorted(emails.keys() | profiles.keys() | leads.keys() | links.keys())
        changes = {
            p: identity.PersonChange(
                email=emails.get(p),
                profile=profiles.get(p),
                stage=Stage.LEAD.value if p in leads else None,
                account_id=links.get(p),
            )
            for p in changed
        }
        identity.update_people(conn, changes, now)  # one statement, one row version each
        tracking.link_touches_to_accounts(conn, links)
        self.people = {
            p: identity.PersonState(
                stage=Stage.LEAD.value if p in leads else s.stage,
                email=s.email or emails.get(p),
                account_id=links.get(p, s.account_id),
            )
            for p, s in state.items()
        }

    def _accounts(
        self,
        groups: dict[str, dict[str, Any]],
        group_of: dict[int, str],
        domain_of: dict[int, str],
        state: dict[int, identity.PersonState],
    ) -> dict[int, int]:
        conn, now = self.conn, self.now
        by_group = tracking.accounts_by(conn, "group_id", groups)
        for group_id, traits in groups.items():
            if group_id not in by_group or traits:
                employees = traits.get("employees")
                by_group[group_id] = tracking.upsert_account(
                    conn,
                    now=now,
                    group_id=group_id,
                    name=str_or_none(traits.get("name")),
                    industry=str_or_none(traits.get("industry")),
                    employees=int(employees) if isinstance(employees, int | float) else None,
                    domain=website_domain(traits.get("website")),
                )
        wanted = {
            p: d for p, d in domain_of.items() if p not in group_of and state[p].account_id is None
        }
        by_domain = tracking.accounts_by(conn, "domain", wanted.values())
        by_domain.update(
            tracking.create_domain_accounts(conn, set(wanted.values()) - set(by_domain), now)
        )
        links = {p: by_group[g] for p, g in group_of.items()}
        links.update({p: by_domain[d] for p, d in wanted.items()})
        return {p: a for p, a in links.items() if state[p].account_id != a}

    def _merge(self, survivor: int, merged: int, reason: str) -> None:
        merge_id = identity.merge_people(
            self.conn,
            survivor=survivor,
            merged=merged,
            at=self.now,
            actor="tracking",
            reason=reason,
            playbook_version_id=self.version_id,
        )
        webhooks.emit(
            self.conn,
            webhooks.EventType.PERSON_MERGED,
            {
                "merge_id": merge_id,
                "survivor_id": survivor,
                "merged_id": merged,
                "reason": reason,
            },
            self.now,
        )

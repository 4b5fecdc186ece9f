"""Tracking: take Segment-spec calls in, store each once, resolve who they are, make touchpoints.

One batch is one transaction: events (deduplicated by the UNIQUE (source, messageId)
constraint), failed events with their reasons, people and identities, account links, and
touchpoints commit together, and only then does the API answer 200.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from smarketing.domain import credentials
from smarketing.domain.identity import company_domain_of, normalize_email
from smarketing.domain.model import Source
from smarketing.domain.stages import Stage
from smarketing.errors import AuthenticationError, SmarketingError
from smarketing.ingest.identity_plan import IdentityPlan, plan_identities
from smarketing.ingest.segment import CallType, parse_event
from smarketing.ingest.touches import TouchDraft, draft_touch
from smarketing.services import mql, scoring, webhooks
from smarketing.services.lifecycle import Change
from smarketing.services.tracking_rows import (
    Parsed,
    event_keys,
    event_row,
    str_or_none,
    touch_row,
    website_domain,
)
from smarketing.services.workspace import Workspace
from smarketing.store import identity, tracking, users
from smarketing.store.database import retryable

Status = Literal["stored", "duplicate", "failed"]
RETRIES = 3
PERSON_FIELDS = {
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "title": "title",
    "phone": "phone",
    "country": "country",
}


@dataclass(frozen=True, slots=True)
class EventResult:
    index: int
    message_id: str | None
    status: Status
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    results: list[EventResult]

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)


class Tracker:
    """The tracking use case for one workspace, with its small caches (sources, playbook)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._sources: dict[str, Source] = {}
        self._playbook_hash: str | None = None
        self._playbook_version_id: int | None = None
        self._content: dict[str, int] = {}

    def source_for(self, write_key: str | None) -> Source:
        if not write_key:
            raise AuthenticationError(
                "missing write key",
                hint="send it as the HTTP Basic user name (empty password) or as `writeKey`",
            )
        digest = credentials.key_hash(write_key)
        source = self._sources.get(digest)
        if source is None:
            with self.ws.db.read() as conn:
                source = users.source_by_key_hash(conn, digest)
            if source is None:
                raise AuthenticationError(
                    "unknown write key", hint="create one with `smarketing sources add NAME`"
                )
            self._sources[digest] = source
        return source

    def _playbook(self) -> tuple[Any, int]:
        loaded = self.ws.playbook
        if loaded.content_hash != self._playbook_hash:
            from smarketing.services.playbooks import register

            self._playbook_version_id = register(self.ws, loaded, actor="tracking").id
            self._playbook_hash = loaded.content_hash
        assert self._playbook_version_id is not None
        return loaded.playbook, self._playbook_version_id

    def ingest(
        self,
        source: Source,
        items: Sequence[Any],
        *,
        received_at: datetime,
        call: CallType | None = None,
        sent_at: datetime | None = None,
        batch_context: Mapping[str, Any] | None = None,
        keep_failed: bool = True,
    ) -> BatchResult:
        """Store a batch; invalid items go to failed events (unless `keep_failed` is off, as
        when replaying them), valid ones are kept."""
        max_bytes = self.ws.settings.max_event_bytes
        results: dict[int, EventResult] = {}
        parsed: list[Parsed] = []
        failed: list[dict[str, Any]] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            raw_text = json.dumps(item, separators=(",", ":"), default=str)
            message_id = item.get("messageId") if isinstance(item, Mapping) else None
            try:
                if len(raw_text.encode()) > max_bytes:
                    raise SmarketingError(
                        f"event is {len(raw_text.encode()):,} bytes; the limit is {max_bytes:,}"
                    )
                event = parse_event(
                    item,
                    received_at=received_at,
                    call=call,
                    batch_context=batch_context,
                    sent_at=sent_at,
                )
                email = normalize_email(event.email) if event.email else None
            except SmarketingError as exc:
                reason = str(exc)
                failed.append(
                    {
                        "source_id": source.id,
                        "received_at": received_at,
                        "reason": reason,
                        "payload": raw_text,
                    }
                )
                results[index] = EventResult(index, str_or_none(message_id), "failed", reason)
                continue
            if event.message_id in seen:
                results[index] = EventResult(index, event.message_id, "duplicate")
                continue
            seen.add(event.message_id)
            parsed.append(Parsed(index, event, item, email))
        playbook, version_id = self._playbook()
        for attempt in range(1, RETRIES + 1):
            new_content: dict[str, int] = {}
            try:
                with self.ws.db.begin() as conn:
                    if keep_failed:
                        tracking.insert_failed(conn, failed)
                    new_ids = tracking.insert_new_events(
                        conn, source.id, [event_row(p) for p in parsed]
                    )
                    fresh = [p for p in parsed if p.event.message_id in new_ids]
                    for p in parsed:
                        status: Status = "stored" if p.event.message_id in new_ids else "duplicate"
                        results[p.index] = EventResult(p.index, p.event.message_id, status)
                    if fresh:
                        self._apply(
                            conn, fresh, new_ids, playbook, version_id, received_at, new_content
                        )
                break
            except DBAPIError as exc:  # a deadlock between two batches: run this one again
                if attempt == RETRIES or not retryable(exc):
                    raise
        self._content.update(new_content)  # committed: now safe for other threads
        return BatchResult([results[i] for i in sorted(results)])

    def _apply(
        self,
        conn: Connection,
        fresh: list[Parsed],
        event_ids: dict[str, int],
        playbook: Any,
        version_id: int,
        now: datetime,
        new_content: dict[str, int],
    ) -> None:
        """Resolve, store touchpoints, promote MQLs; content ids made here go to
        `new_content` (cached by the caller once the transaction commits)."""
        fresh.sort(key=lambda p: p.event.timestamp)
        keyed = [event_keys(p) for p in fresh]
        plan = plan_identities(
            keyed, identity.owners(conn, {k for ev in keyed for k in (*ev.claims, *ev.lookups)})
        )
        real = self._apply_plan(conn, plan, fresh, version_id, now)
        person_of_event = [real(p) for p in plan.person_of_event]
        self._update_people(conn, fresh, person_of_event, version_id, now)
        overrides = playbook.channels.domain_overrides()
        own = playbook.channels.own_domains
        rows: list[tuple[Parsed, int | None, TouchDraft]] = []
        for p, planned in zip(fresh, person_of_event, strict=True):
            person = planned
            draft = draft_touch(
                p.event, overrides, own_domains=own, overrides_version=f"playbook-{version_id}"
            )
            if draft is not None:
                if person is None and p.event.anonymous_id:
                    person = real(plan.person_of_anonymous(p.event.anonymous_id))
                rows.append((p, person, draft))
        touch_rows = self._store_touches(conn, rows, event_ids, now, new_content)
        by_person: dict[int, list[dict[str, Any]]] = {}
        for row in touch_rows:
            if row["person_id"] is not None:
                by_person.setdefault(row["person_id"], []).append(row)
        # Everyone the batch touched is rescored (an identify can change fit), then promoted.
        touched = {p for p in person_of_event if p is not None} | set(by_person)
        scores = scoring.rescore(conn, sorted(touched), playbook, version_id, now)
        change = Change(
            conn=conn, playbook=playbook, version_id=version_id, now=now, actor="tracking"
        )
        mql.promote(change, by_person, scores)

    def _store_touches(
        self,
        conn: Connection,
        rows: list[tuple[Parsed, int | None, TouchDraft]],
        event_ids: dict[str, int],
        now: datetime,
        new_content: dict[str, int],
    ) -> list[dict[str, Any]]:
        if not rows:
            return []
        wanted = {
            d.content_key: (d.content_title, d.content_kind.value)
            for _, _, d in rows
            if d.content_key
        }
        content = self._content_ids(conn, wanted, now, new_content)
        state = identity.people_state(conn, {pid for _, pid, _ in rows if pid})
        touch_rows = [
            touch_row(
                p,
                pid,
                state[pid].account_id if pid else None,
                d,
                event_ids[p.event.message_id],
                content,
            )
            for p, pid, d in rows
        ]
        tracking.insert_touchpoints(conn, touch_rows)
        return touch_rows

    def _apply_plan(
        self,
        conn: Connection,
        plan: IdentityPlan,
        fresh: list[Parsed],
        version_id: int,
        now: datetime,
    ) -> Any:
        """Create the planned people, merge the proven ones, claim identities; returns the
        function mapping planned person ids (placeholders included) to stored ids."""
        first_seen: dict[int, datetime] = {}
        for p, person in zip(fresh, plan.person_of_event, strict=True):
            if person is not None and person < 0:
                first_seen.setdefault(person, p.event.timestamp)
        created = identity.create_people(conn, [first_seen[n] for n in plan.new_people], now)
        ids: dict[int, int] = dict(zip(plan.new_people, created, strict=True))
        for survivor, merged in plan.merges:
            _merge(
                conn,
                survivor,
                merged,
                "one tracking batch proved they are the same person",
                version_id,
                now,
            )

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
                _merge(conn, survivor, merged, "concurrent identity claim", version_id, now)
                ids[merged] = survivor
        return real

    def _update_people(
        self,
        conn: Connection,
        fresh: list[Parsed],
        persons: list[int | None],
        version_id: int,
        now: datetime,
    ) -> None:
        """Emails, profiles, first-known-identity transitions, account links, anonymous history."""
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
                    "playbook_version_id": version_id,
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
        identity.set_emails(conn, emails, now)
        identity.update_profiles(conn, profiles, now)
        identity.record_transitions(conn, list(leads.values()), now)
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
        links = self._accounts(conn, groups, group_of, domain_of, state, now)
        tracking.link_people_to_accounts(conn, links, now)

    def _accounts(
        self,
        conn: Connection,
        groups: dict[str, dict[str, Any]],
        group_of: dict[int, str],
        domain_of: dict[int, str],
        state: dict[int, identity.PersonState],
        now: datetime,
    ) -> dict[int, int]:
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
        for domain in sorted(set(wanted.values()) - set(by_domain)):
            by_domain[domain] = tracking.upsert_account(conn, now=now, domain=domain, name=domain)
        links = {p: by_group[g] for p, g in group_of.items()}
        links.update({p: by_domain[d] for p, d in wanted.items()})
        return {p: a for p, a in links.items() if state[p].account_id != a}

    def _content_ids(
        self,
        conn: Connection,
        wanted: dict[str, tuple[str | None, str]],
        now: datetime,
        new_content: dict[str, int],
    ) -> dict[str, int]:
        """Content ids by key. Ids never change once given, so they are cached per process;
        ids read or made in this transaction join the cache only after it commits (another
        thread must not use a stub that may still roll back)."""
        missing = {k: v for k, v in wanted.items() if k not in self._content}
        found = tracking.content_ids(conn, missing, now) if missing else {}
        new_content.update(found)
        return {**self._content, **found}


def _merge(
    conn: Connection, survivor: int, merged: int, reason: str, version_id: int, now: datetime
) -> None:
    merge_id = identity.merge_people(
        conn,
        survivor=survivor,
        merged=merged,
        at=now,
        actor="tracking",
        reason=reason,
        playbook_version_id=version_id,
    )
    webhooks.emit(
        conn,
        webhooks.EventType.PERSON_MERGED,
        {
            "merge_id": merge_id,
            "survivor_id": survivor,
            "merged_id": merged,
            "reason": reason,
        },
        now,
    )

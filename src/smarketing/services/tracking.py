"""Tracking: take Segment-spec calls in, store each once, resolve who they are, make touchpoints.

One batch is one transaction: events (deduplicated by the UNIQUE (source, messageId)
constraint), failed events with their reasons, people and identities, account links, and
touchpoints commit together, and only then does the API answer 200.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

from smarketing.domain import credentials
from smarketing.domain.identity import company_domain_of, normalize_email
from smarketing.domain.model import Source
from smarketing.domain.stages import Stage
from smarketing.errors import AuthenticationError, SmarketingError
from smarketing.ingest.segment import CallType, SegmentEvent, parse_event
from smarketing.ingest.touches import TouchDraft, draft_touch
from smarketing.services.workspace import Workspace
from smarketing.store import identity, tracking, users

Status = Literal["stored", "duplicate", "failed"]
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


@dataclass
class _Parsed:
    index: int
    event: SegmentEvent
    raw: Mapping[str, Any]
    email: str | None


@dataclass
class _People:
    """Who owns which identity, kept current while one batch is resolved."""

    owners: dict[tuple[str, str], int]
    merged_into: dict[int, int] = field(default_factory=dict)

    def final(self, person: int | None, anonymous_id: str | None) -> int | None:
        """Who a touch belongs to once the whole batch is resolved (later identifies and
        merges in the same batch count)."""
        if person is None and anonymous_id:
            person = self.owners.get(("anonymous_id", anonymous_id))
        while person is not None and person in self.merged_into:
            person = self.merged_into[person]
        return person


class Tracker:
    """The tracking use case for one workspace, with its small caches (sources, playbook)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._sources: dict[str, Source] = {}
        self._playbook_hash: str | None = None
        self._playbook_version_id: int | None = None

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
        parsed: list[_Parsed] = []
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
                results[index] = EventResult(index, _str_or_none(message_id), "failed", reason)
                continue
            if event.message_id in seen:
                results[index] = EventResult(index, event.message_id, "duplicate")
                continue
            seen.add(event.message_id)
            parsed.append(_Parsed(index, event, item, email))
        playbook, version_id = self._playbook()
        with self.ws.db.begin() as conn:
            if keep_failed:
                tracking.insert_failed(conn, failed)
            new_ids = tracking.insert_new_events(conn, source.id, [_event_row(p) for p in parsed])
            fresh = [p for p in parsed if p.event.message_id in new_ids]
            for p in parsed:
                status: Status = "stored" if p.event.message_id in new_ids else "duplicate"
                results[p.index] = EventResult(p.index, p.event.message_id, status)
            if fresh:
                self._apply(conn, fresh, new_ids, playbook, version_id, received_at)
        return BatchResult([results[i] for i in sorted(results)])

    def _apply(
        self,
        conn: Connection,
        fresh: list[_Parsed],
        event_ids: dict[str, int],
        playbook: Any,
        version_id: int,
        now: datetime,
    ) -> None:
        fresh.sort(key=lambda p: p.event.timestamp)
        keys = {k for p in fresh for k in (*_keys(p), *_alias_lookups(p))}
        state = _People(owners=identity.owners(conn, keys))
        overrides = playbook.channels.domain_overrides()
        own = playbook.channels.own_domains
        drafts: list[tuple[_Parsed, int | None, TouchDraft]] = []
        for p in fresh:
            person = self._resolve(conn, p, state, version_id, now)
            draft = draft_touch(
                p.event, overrides, own_domains=own, overrides_version=f"playbook-{version_id}"
            )
            if draft is not None:
                drafts.append((p, person, draft))
        if not drafts:
            return
        drafts = [(p, state.final(pid, p.event.anonymous_id), d) for p, pid, d in drafts]
        wanted = {
            d.content_key: (d.content_title, d.content_kind.value)
            for _, _, d in drafts
            if d.content_key
        }
        content = tracking.content_ids(conn, wanted, now) if wanted else {}
        accounts = tracking.person_account(conn, sorted({pid for _, pid, _ in drafts if pid}))
        tracking.insert_touchpoints(
            conn,
            [
                _touch_row(
                    p,
                    pid,
                    accounts.get(pid) if pid else None,
                    d,
                    event_ids[p.event.message_id],
                    content,
                )
                for p, pid, d in drafts
            ],
        )

    def _resolve(
        self, conn: Connection, p: _Parsed, state: _People, version_id: int, now: datetime
    ) -> int | None:
        """The person behind an event (created when it carries a known identity), merged with
        any other person the event proves to be the same."""
        event = p.event
        keys = _keys(p)
        known = [k for k in keys if k[0] != "anonymous_id"]
        looked_up = [*keys, *_alias_lookups(p)]
        owners = sorted({state.owners[k] for k in looked_up if k in state.owners})
        if not owners and not known:
            return None
        if not owners:
            person = identity.create_person(conn, now=now, created_at=event.timestamp)
        else:
            person = owners[0]
            for other in owners[1:]:
                identity.merge_people(
                    conn,
                    survivor=person,
                    merged=other,
                    at=now,
                    actor="tracking",
                    reason=f"{event.type.value} {event.message_id} joined their identities",
                    playbook_version_id=version_id,
                )
                state.merged_into[other] = person
                for key, owner in list(state.owners.items()):
                    if owner == other:
                        state.owners[key] = person
        for key in keys:
            if key not in state.owners:
                owner = identity.claim_identity(conn, person, key, now)
                if owner != person:  # claimed concurrently by another writer: same person
                    identity.merge_people(
                        conn,
                        survivor=min(owner, person),
                        merged=max(owner, person),
                        at=now,
                        actor="tracking",
                        reason="concurrent identity claim",
                        playbook_version_id=version_id,
                    )
                    state.merged_into[max(owner, person)] = min(owner, person)
                    person = min(owner, person)
                state.owners[key] = person
        if p.email:
            identity.set_email(conn, person, p.email, now)
        if known and identity.stage_of(conn, person) is None:
            identity.record_transition(
                conn,
                person_id=person,
                old=None,
                new=Stage.LEAD,
                at=event.timestamp,
                actor="tracking",
                reason=f"first known identity ({event.type.value})",
                playbook_version_id=version_id,
                now=now,
            )
        if event.anonymous_id and known:
            tracking.attach_anonymous_touches(conn, [event.anonymous_id], person)
        self._traits_and_account(conn, p, person, now)
        return person

    def _traits_and_account(self, conn: Connection, p: _Parsed, person: int, now: datetime) -> None:
        event = p.event
        if event.type is CallType.IDENTIFY:
            fields = {
                col: str(event.traits[key])[:300]
                for key, col in PERSON_FIELDS.items()
                if isinstance(event.traits.get(key), str | int)
            }
            identity.update_person(conn, person, fields, now)
        group_id = event.group_id or event.context_group_id
        account: int | None = None
        if group_id:
            traits = event.traits if event.type is CallType.GROUP else {}
            employees = traits.get("employees")
            account = tracking.upsert_account(
                conn,
                now=now,
                group_id=group_id,
                name=_str_or_none(traits.get("name")),
                industry=_str_or_none(traits.get("industry")),
                employees=int(employees) if isinstance(employees, int | float) else None,
                domain=_domain_of(traits.get("website")),
            )
        elif (
            p.email
            and (domain := company_domain_of(p.email))
            and tracking.person_account(conn, [person]).get(person) is None
        ):
            account = tracking.upsert_account(conn, now=now, domain=domain, name=domain)
        if account is not None:
            tracking.link_person_to_account(conn, person, account, now)


def _str_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None


def _domain_of(value: Any) -> str | None:
    from smarketing.domain.identity import normalize_domain

    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return normalize_domain(value)
    except SmarketingError:
        return None


def _keys(p: _Parsed) -> list[tuple[str, str]]:
    event = p.event
    keys: list[tuple[str, str]] = []
    if event.anonymous_id:
        keys.append(("anonymous_id", event.anonymous_id))
    if event.user_id:
        keys.append(("user_id", event.user_id))
    if p.email:
        keys.append(("email", p.email))
    if event.type is CallType.ALIAS and event.previous_id:
        keys.append(("user_id", event.previous_id))
    return keys


def _alias_lookups(p: _Parsed) -> list[tuple[str, str]]:
    """An alias's previousId may have been an anonymous id: look it up, never claim it as one."""
    prev = p.event.previous_id
    return [("anonymous_id", prev)] if p.event.type is CallType.ALIAS and prev else []


def _event_row(p: _Parsed) -> dict[str, Any]:
    e = p.event
    return {
        "message_id": e.message_id,
        "type": e.type.value,
        "event": e.event,
        "user_id": e.user_id,
        "anonymous_id": e.anonymous_id,
        "timestamp": e.timestamp,
        "original_timestamp": e.original_timestamp,
        "sent_at": e.sent_at,
        "received_at": e.received_at,
        "payload": dict(p.raw),
    }


def _touch_row(
    p: _Parsed,
    person: int | None,
    account: int | None,
    d: TouchDraft,
    event_id: int,
    content: dict[str, int],
) -> dict[str, Any]:
    return {
        "person_id": person,
        "anonymous_id": p.event.anonymous_id,
        "account_id": account,
        "event_id": event_id,
        "occurred_at": d.occurred_at,
        "kind": d.kind.value,
        "name": d.name,
        "channel": d.channel,
        "ruleset_version": d.ruleset_version,
        "source": d.source,
        "medium": d.medium,
        "campaign": d.campaign,
        "campaign_id": None,
        "content_id": content.get(d.content_key) if d.content_key else None,
        "team": d.team.value,
        "url": d.url,
        "referrer": d.referrer,
        "properties": dict(p.event.properties) or None,
    }


@dataclass(frozen=True, slots=True)
class ReplayResult:
    replayed: int
    still_failing: int
    reasons: list[str]


def replay_failed(ws: Workspace, *, limit: int = 10_000) -> ReplayResult:
    """Retry failed events (after a fix); those that pass are stored and marked replayed,
    the others stay with their (possibly new) reason."""
    tracker = Tracker(ws)
    with ws.db.read() as conn:
        rows = tracking.failed_to_replay(conn, limit)
    replayed, failing, reasons = 0, 0, []
    for row in rows:
        try:
            payload = json.loads(row.payload)
        except json.JSONDecodeError:
            payload = row.payload
        source = Source(id=row.source_id, name="", created_at=row.received_at)
        result = tracker.ingest(source, [payload], received_at=row.received_at, keep_failed=False)
        (only,) = result.results
        with ws.db.begin() as conn:
            if only.status == "failed":
                failing += 1
                reasons.append(f"failed event {row.id}: {only.error}")
                tracking.update_failed_reason(conn, row.id, only.error or "invalid event")
            else:
                replayed += 1
                tracking.mark_replayed(conn, [row.id], ws.clock.now())
    return ReplayResult(replayed, failing, reasons)

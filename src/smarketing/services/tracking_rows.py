"""Rows for one tracked event: its identity keys, the `events` row and the touchpoint row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from smarketing.domain.identity import normalize_domain
from smarketing.errors import SmarketingError
from smarketing.ingest.identity_plan import EventKeys
from smarketing.ingest.segment import CallType, SegmentEvent
from smarketing.ingest.touches import TouchDraft


@dataclass
class Parsed:
    index: int
    event: SegmentEvent
    raw: Mapping[str, Any]
    email: str | None
    event_id: int = 0  # the stored `events` row, once inserted


def str_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None


def website_domain(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return normalize_domain(value)
    except SmarketingError:
        return None


def event_keys(p: Parsed) -> EventKeys:
    event = p.event
    claims: list[tuple[str, str]] = []
    if event.anonymous_id:
        claims.append(("anonymous_id", event.anonymous_id))
    if event.user_id:
        claims.append(("user_id", event.user_id))
    if p.email:
        claims.append(("email", p.email))
    lookups: list[tuple[str, str]] = []
    if event.type is CallType.ALIAS and event.previous_id:
        # previousId was a user id or an anonymous id: find either, claim it as a user id.
        claims.append(("user_id", event.previous_id))
        lookups.append(("anonymous_id", event.previous_id))
    return EventKeys(
        claims=tuple(claims), lookups=tuple(lookups), known=bool(event.user_id or p.email)
    )


def stored_payload(p: Parsed) -> dict[str, Any]:
    """The item as stored: with its call type, the batch's context merged in and the batch's
    `sentAt`, so that parsing it again (the processor does) gives the same event."""
    e = p.event
    payload = dict(p.raw)
    payload["type"] = e.type.value
    if e.context:
        payload["context"] = dict(e.context)
    if e.sent_at is not None and "sentAt" not in payload:
        payload["sentAt"] = e.sent_at.isoformat()
    return payload


def event_row(source_id: int, p: Parsed) -> tuple[Any, ...]:
    """The `events` row, in `store.tracking.EVENT_COLUMNS` order."""
    e = p.event
    return (
        source_id,
        e.message_id,
        e.type.value,
        e.event,
        e.user_id,
        e.anonymous_id,
        e.timestamp,
        e.original_timestamp,
        e.sent_at,
        e.received_at,
        orjson.dumps(stored_payload(p), default=str).decode(),
    )


def touch_row(
    p: Parsed,
    person: int | None,
    account: int | None,
    d: TouchDraft,
    content: dict[str, int],
) -> dict[str, Any]:
    return {
        "person_id": person,
        "anonymous_id": p.event.anonymous_id,
        "account_id": account,
        "event_id": p.event_id,
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

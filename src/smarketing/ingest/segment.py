"""Segment-spec events: parse and validate one call (`track`, `identify`, `page`, `screen`,
`group`, `alias`) into a typed `SegmentEvent`, or say exactly what is wrong with it.

Pure: no storage. Chronology follows the spec: when the client sent `sentAt` and an
`originalTimestamp`, the event time is `receivedAt - (sentAt - originalTimestamp)` (corrects the
device clock); a caller-supplied `timestamp` wins (historical imports); else `receivedAt`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from smarketing.errors import ValidationFailed

MAX_ID_LENGTH = 200
MAX_NAME_LENGTH = 300


class CallType(StrEnum):
    TRACK = "track"
    IDENTIFY = "identify"
    PAGE = "page"
    SCREEN = "screen"
    GROUP = "group"
    ALIAS = "alias"


@dataclass(frozen=True, slots=True)
class SegmentEvent:
    type: CallType
    message_id: str
    user_id: str | None
    anonymous_id: str | None
    timestamp: datetime
    received_at: datetime
    original_timestamp: datetime | None
    sent_at: datetime | None
    event: str | None = None
    name: str | None = None
    group_id: str | None = None
    previous_id: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    traits: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def email(self) -> str | None:
        """An email from `traits`, `context.traits` or `properties` (in that order)."""
        for source in (self.traits, self.context.get("traits") or {}, self.properties):
            value = (
                source.get("email") if type(source) is dict or isinstance(source, Mapping) else None
            )
            if isinstance(value, str) and value.strip():
                return value
        return None

    @property
    def context_group_id(self) -> str | None:
        value = self.context.get("groupId")
        return str(value) if isinstance(value, str | int) and value != "" else None


def _fail(message: str, hint: str | None = None) -> ValidationFailed:
    return ValidationFailed(message, hint=hint)


def parse_time(value: Any, name: str) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime (`Z` and offsets accepted)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(f"{name} must be an ISO-8601 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _fail(
            f"{name} {value!r} is not an ISO-8601 timestamp",
            hint="send e.g. 2026-11-28T09:30:00.000Z",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _id(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(f"{key} must be a string, got {type(value).__name__}")
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        raise _fail(f"{key} is longer than {MAX_ID_LENGTH} characters")
    return text


def _mapping(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(f"{key} must be an object, got {type(value).__name__}")
    return value


def _text(payload: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise _fail(f"{key} is required for a {payload.get('type')} call")
        return None
    if not isinstance(value, str):
        raise _fail(f"{key} must be a string, got {type(value).__name__}")
    if len(value) > MAX_NAME_LENGTH:
        raise _fail(f"{key} is longer than {MAX_NAME_LENGTH} characters")
    return value


def parse_event(
    payload: Any,
    *,
    received_at: datetime,
    call: CallType | None = None,
    batch_context: Mapping[str, Any] | None = None,
    sent_at: datetime | None = None,
) -> SegmentEvent:
    """Validate one call. `call` is fixed by the endpoint (`/v1/track`); in a batch each item
    names its `type`. Batch-level `context` merges under the item's own."""
    if not isinstance(payload, Mapping):
        raise _fail(f"an event must be a JSON object, got {type(payload).__name__}")
    raw_type = payload.get("type", call.value if call else None)
    try:
        kind = CallType(str(raw_type).lower()) if raw_type is not None else None
    except ValueError:
        kind = None
    if kind is None:
        raise _fail(
            f"type {raw_type!r} is not a Segment call",
            hint="use one of track, identify, page, screen, group, alias",
        )
    if call is not None and kind is not call:
        raise _fail(f"type {raw_type!r} sent to the /v1/{call.value} endpoint")
    message_id = _id(payload, "messageId")
    if message_id is None:
        raise _fail("messageId is required", hint="every Segment client sets one; send a UUID")
    user_id, anonymous_id = _id(payload, "userId"), _id(payload, "anonymousId")
    if user_id is None and anonymous_id is None:
        raise _fail("userId or anonymousId is required", hint="send at least one of them")
    context = {**(batch_context or {}), **_mapping(payload, "context")}
    sent = parse_time(payload.get("sentAt"), "sentAt") or sent_at
    original = parse_time(payload.get("originalTimestamp"), "originalTimestamp")
    explicit = parse_time(payload.get("timestamp"), "timestamp")
    if explicit is not None:
        timestamp = explicit
    elif original is not None and sent is not None:
        timestamp = received_at - (sent - original)
    else:
        timestamp = original or received_at
    event = SegmentEvent(
        type=kind,
        message_id=message_id,
        user_id=user_id,
        anonymous_id=anonymous_id,
        timestamp=timestamp,
        received_at=received_at,
        original_timestamp=original,
        sent_at=sent,
        event=_text(payload, "event", required=kind is CallType.TRACK),
        name=_text(payload, "name"),
        group_id=_id(payload, "groupId") if kind is CallType.GROUP else None,
        previous_id=_id(payload, "previousId") if kind is CallType.ALIAS else None,
        properties=_mapping(payload, "properties"),
        traits=_mapping(payload, "traits"),
        context=context,
    )
    if kind is CallType.GROUP and not event.group_id:
        raise _fail("groupId is required for a group call")
    if kind is CallType.ALIAS and not event.previous_id:
        raise _fail("previousId is required for an alias call")
    return event

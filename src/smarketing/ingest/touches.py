"""From a tracked event to a touchpoint draft: kind, channel, content, team.

Pure. Page and screen views, and track events, are touchpoints; identify, group and alias
calls only tell who someone is. Sales activities (meetings, calls, rep emails) are touchpoints
too, marked as sales touches with the `Sales` channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from smarketing.domain.channels import ChannelOverride, TouchSignals, classify
from smarketing.domain.model import ContentKind
from smarketing.domain.stages import TouchTeam
from smarketing.domain.touches import SALES_CHANNEL, TouchKind, team_of
from smarketing.domain.utm import from_segment_campaign, parse_utm, path_of
from smarketing.ingest.segment import CallType, SegmentEvent

TRACK_KINDS: dict[str, TouchKind] = {
    "email clicked": TouchKind.EMAIL_CLICK,
    "email link clicked": TouchKind.EMAIL_CLICK,
    "webinar attended": TouchKind.WEBINAR,
    "referral made": TouchKind.REFERRAL,
    "peer referral": TouchKind.REFERRAL,
    "form submitted": TouchKind.FORM_FILL,
    "whitepaper downloaded": TouchKind.FORM_FILL,
    "demo requested": TouchKind.FORM_FILL,
    "contact sales submitted": TouchKind.FORM_FILL,
    "meeting held": TouchKind.MEETING,
    "meeting completed": TouchKind.MEETING,
    "call logged": TouchKind.CALL,
    "call completed": TouchKind.CALL,
    "sales email sent": TouchKind.SALES_EMAIL,
}
CONTENT_PREFIXES: tuple[tuple[str, ContentKind], ...] = (
    ("/blog/", ContentKind.BLOG_POST),
    ("/whitepapers/", ContentKind.WHITEPAPER),
    ("/whitepaper/", ContentKind.WHITEPAPER),
    ("/ebooks/", ContentKind.EBOOK),
    ("/press/", ContentKind.PRESS_RELEASE),
    ("/news/", ContentKind.PRESS_RELEASE),
    ("/webinars/", ContentKind.WEBINAR),
    ("/customers/", ContentKind.CASE_STUDY),
    ("/case-studies/", ContentKind.CASE_STUDY),
    ("/videos/", ContentKind.VIDEO),
)


@dataclass(frozen=True, slots=True)
class TouchDraft:
    occurred_at: datetime
    kind: TouchKind
    name: str | None
    channel: str
    ruleset_version: str
    source: str | None
    medium: str | None
    campaign: str | None
    team: TouchTeam
    url: str | None
    referrer: str | None
    content_key: str | None
    content_title: str | None
    content_kind: ContentKind


def guess_content_kind(key: str) -> ContentKind:
    for prefix, kind in CONTENT_PREFIXES:
        if key.startswith(prefix):
            return kind
    return ContentKind.UNKNOWN


def _str(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None


def _kind(event: SegmentEvent) -> TouchKind:
    if event.type is CallType.PAGE:
        return TouchKind.PAGE_VIEW
    if event.type is CallType.SCREEN:
        return TouchKind.SCREEN_VIEW
    kind = TRACK_KINDS.get((event.event or "").strip().lower(), TouchKind.EVENT)
    if kind is TouchKind.EVENT and str(event.properties.get("team", "")).lower() == "sales":
        return TouchKind.SALES_EMAIL if "email" in (event.event or "").lower() else TouchKind.CALL
    return kind


Channel = tuple[str, str, str | None, str | None, str | None]
"""(channel, ruleset version, source, medium, campaign) of a touch."""


@lru_cache(maxsize=32_768)
def _channel(
    campaign_items: tuple[tuple[Any, Any], ...] | None,
    url: str | None,
    referrer: str | None,
    event_name: str | None,
    sales: bool,
    overrides: tuple[ChannelOverride, ...],
    own_domains: tuple[str, ...],
    overrides_version: str,
) -> Channel:
    """UTMs (from `context.campaign`, given as its items, else from the URL) and channel,
    memoised: traffic repeats a few thousand combinations of them."""
    utm = from_segment_campaign(dict(campaign_items)) if campaign_items is not None else None
    if utm is None or not utm.has_utm:
        utm = parse_utm(url) if url else None
    campaign = utm.campaign if utm else None
    if sales:
        return SALES_CHANNEL, "sales", None, None, campaign
    signals = TouchSignals(
        source=utm.source if utm else None,
        medium=utm.medium if utm else None,
        campaign=campaign,
        term=utm.term if utm else None,
        content=utm.content if utm else None,
        referrer=referrer,
        click_ids=utm.click_id_names if utm else frozenset(),
        page_url=url,
        event_name=event_name,
    )
    assigned = classify(
        signals, overrides, own_domains=own_domains, overrides_version=overrides_version
    )
    return assigned.channel, assigned.ruleset_version, assigned.source, assigned.medium, campaign


def draft_touch(
    event: SegmentEvent,
    overrides: Sequence[ChannelOverride] = (),
    *,
    own_domains: Sequence[str] = (),
    overrides_version: str = "playbook",
) -> TouchDraft | None:
    """The touchpoint an event makes, or None for identify/group/alias calls."""
    if event.type not in (CallType.PAGE, CallType.SCREEN, CallType.TRACK):
        return None
    page = event.context.get("page")
    page = page if isinstance(page, Mapping) else {}
    props = event.properties
    url = _str(props, "url") or _str(page, "url")
    referrer = _str(props, "referrer") or _str(page, "referrer")
    kind = _kind(event)
    team = team_of(kind)
    campaign_ctx = event.context.get("campaign")
    items = tuple(campaign_ctx.items()) if isinstance(campaign_ctx, Mapping) else None
    channel_of: Callable[..., Channel] = _channel
    if items and not all(type(k) is str and type(v) is str for k, v in items):
        # Not a safe cache key: 1, 1.0 and True are equal keys with different texts.
        channel_of = _channel.__wrapped__
    channel, version, source, medium, campaign = channel_of(
        items,
        url,
        referrer,
        event.event,
        team is TouchTeam.SALES,
        tuple(overrides),
        tuple(own_domains),
        overrides_version,
    )
    content_key = _str(props, "content_id")
    if content_key is None and kind in (TouchKind.PAGE_VIEW, TouchKind.SCREEN_VIEW):
        content_key = _str(props, "path") or _str(page, "path") or (path_of(url) if url else None)
        if event.type is CallType.SCREEN:
            content_key = content_key or (f"screen:{event.name}" if event.name else None)
    title = _str(props, "content_title") or _str(props, "title") or _str(page, "title")
    return TouchDraft(
        occurred_at=event.timestamp,
        kind=kind,
        name=event.event or event.name,
        channel=channel,
        ruleset_version=version,
        source=source,
        medium=medium,
        campaign=campaign,
        team=team,
        url=url,
        referrer=referrer,
        content_key=content_key,
        content_title=title,
        content_kind=guess_content_kind(content_key) if content_key else ContentKind.UNKNOWN,
    )

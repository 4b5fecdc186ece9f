"""The channel of a touch: GA4's default channel grouping, as data, plus playbook overrides.

`classify(signals)` works in two steps.

1. Source and medium. UTM parameters win (the explicit fields of `TouchSignals`, else the
   ones in `page_url`); a missing half is filled from a click id, else `(not set)`. Without
   UTM source or medium: a paid-search click id (`gclid`, `dclid`, `wbraid`, `gbraid`) gives
   `google / cpc`, `msclkid` gives `bing / cpc`; a social click id (`fbclid`, `li_fat_id`,
   `ttclid`, ...) gives `<network> / social`, i.e. Organic Social: Meta adds `fbclid` to every
   outbound link, so a click id alone never proves a paid click; only a paid UTM medium makes
   it Paid Social. Else the referrer: a search engine gives `<engine> / organic`, a social
   network `<host> / social`, the site's own domain (`own_domains`) counts as no referrer,
   any other host `<host> / referral`. Nothing at all: `(direct) / (none)`.
2. Channel. Playbook overrides first, in order; then the 19 rules of `GA4_DEFAULT_RULES`,
   first match wins. Matching ignores case.

Invariant: `classify` never raises on any text in `TouchSignals`, and returns a
`DefaultChannel` value or the channel of one of the overrides given.

Every assignment names the ruleset that produced it. Without overrides that is
`GA4_RULESET_VERSION`; with overrides it is `f"{GA4_RULESET_VERSION}+{overrides_version}"`
(pass the playbook version, e.g. `"playbook-7"`), even when no override matched, because the
result still depends on none of them matching. Rows classified under another version are the
ones to reclassify.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from smarketing.domain.channel_rules import (
    DIRECT_SOURCE,
    GA4_DEFAULT_RULES,
    GA4_RULESET_VERSION,
    NONE_MEDIUM,
    NOT_SET,
    ChannelRule,
    Condition,
    DefaultChannel,
    Facts,
    Op,
)
from smarketing.domain.channel_sources import (
    CLICK_ID_ORIGINS,
    SourceCategory,
    search_engine_name,
    source_categories,
)
from smarketing.domain.utm import Utm, host_of, parse_utm
from smarketing.errors import ValidationFailed


@dataclass(frozen=True, slots=True, kw_only=True)
class TouchSignals:
    """What is known about one touch; every field is optional.

    `source`, `medium`, `campaign`, `term`, `content` are UTM values (when all five are absent,
    the UTM parameters of `page_url` are used). `referrer` is a URL or a host. `click_ids`
    names the click-id parameters present (`{"gclid"}`); those in `page_url` are added.
    """

    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None
    referrer: str | None = None
    click_ids: frozenset[str] = frozenset()
    page_url: str | None = None
    event_name: str | None = None

    @classmethod
    def from_utm(
        cls,
        utm: Utm,
        *,
        referrer: str | None = None,
        page_url: str | None = None,
        event_name: str | None = None,
    ) -> TouchSignals:
        """Signals from parsed UTM parameters (`parse_utm`, `from_segment_campaign`)."""
        return cls(
            source=utm.source,
            medium=utm.medium,
            campaign=utm.campaign,
            term=utm.term,
            content=utm.content,
            referrer=referrer,
            click_ids=utm.click_id_names,
            page_url=page_url,
            event_name=event_name,
        )


OVERRIDE_FIELDS: tuple[str, ...] = (
    "source",
    "medium",
    "campaign",
    "term",
    "content",
    "referrer",
    "referrer_host",
    "page_url",
    "event_name",
    "click_ids",
)
"""Fields a `ChannelOverride` condition may test (see `ChannelOverride`)."""


@dataclass(frozen=True, slots=True)
class ChannelOverride:
    """A playbook rule evaluated before the GA4 rules: `channel` when every condition matches.

    `conditions` maps a field of `OVERRIDE_FIELDS` to a regular expression, searched
    (`re.search`: anchor with `^...$` for a whole-value match, as GA4's own regexes do),
    ignoring case. `source` and `medium` are the values after step 1 of `classify` (so
    `{"medium": "^cpc$"}` also catches a bare gclid); `referrer_host` is the referrer's host
    without `www.`; `click_ids` is the sorted, comma-joined names (`"fbclid,gclid"`); an absent
    value is the empty string. Patterns are compiled once, here; a bad field or pattern raises
    `ValidationFailed`.
    """

    id: str
    channel: str
    conditions: Mapping[str, str]
    _compiled: tuple[tuple[str, re.Pattern[str]], ...] = dataclasses.field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValidationFailed(
                "A channel override needs a non-empty id",
                hint="give each override a stable id such as 'g2-reviews'",
            )
        if not self.channel.strip():
            raise ValidationFailed(
                f"Channel override {self.id!r} has an empty channel",
                hint="name the channel the matching touches belong to, e.g. 'Review Sites'",
            )
        if not self.conditions:
            raise ValidationFailed(
                f"Channel override {self.id!r} has no conditions and would match every touch",
                hint=f"add at least one condition on {', '.join(OVERRIDE_FIELDS)}",
            )
        compiled: list[tuple[str, re.Pattern[str]]] = []
        for name, pattern in self.conditions.items():
            if name not in OVERRIDE_FIELDS:
                raise ValidationFailed(
                    f"Channel override {self.id!r} tests unknown field {name!r}",
                    hint=f"use one of {', '.join(OVERRIDE_FIELDS)}",
                )
            try:
                compiled.append((name, re.compile(pattern, re.IGNORECASE)))
            except re.error as exc:
                raise ValidationFailed(
                    f"Channel override {self.id!r}: {name} pattern {pattern!r} is not a "
                    f"valid regular expression ({exc})",
                    hint="write a Python regular expression, e.g. '^g2(crowd)?$'",
                ) from exc
        object.__setattr__(self, "conditions", MappingProxyType(dict(self.conditions)))
        object.__setattr__(self, "_compiled", tuple(compiled))

    def __hash__(self) -> int:
        return hash((self.id, self.channel, tuple(sorted(self.conditions.items()))))

    def matches(self, values: Mapping[str, str]) -> bool:
        """True when every condition's pattern is found in its field of `values`."""
        return all(pattern.search(values.get(name, "")) for name, pattern in self._compiled)


@dataclass(frozen=True, slots=True)
class ChannelAssignment:
    """The channel of a touch and why: the ruleset version, the rule id, source and medium.

    `source` and `medium` are the values the rules saw, lowercased (`google`, `cpc`,
    `(direct)`, `(none)`, `(not set)`); `rule_id` is a `GA4_DEFAULT_RULES` id (`ga4.email`) or
    the id of the override that matched.
    """

    channel: str
    ruleset_version: str
    rule_id: str
    source: str
    medium: str


# --- classification ------------------------------------------------------------------------


def classify(
    signals: TouchSignals,
    overrides: Sequence[ChannelOverride] = (),
    *,
    own_domains: Collection[str] = (),
    overrides_version: str = "playbook",
) -> ChannelAssignment:
    """The channel of one touch: overrides first, then GA4's rules (see the module docstring).

    `own_domains` are the site's own domains (`acme.com` also covers `app.acme.com`): a
    referrer there is internal navigation and is ignored. `overrides_version` names the
    override set in `ruleset_version`; it is used only when `overrides` is not empty.
    """
    page = parse_utm(signals.page_url) if signals.page_url else None
    utm = _utm_of(signals, page)
    click_ids = frozenset(name.strip().lower() for name in signals.click_ids)
    if page is not None:
        click_ids |= page.click_id_names
    referrer_host = host_of(signals.referrer)
    source, medium = _source_and_medium(utm, click_ids, referrer_host, own_domains)
    campaign = _clean(utm.campaign) or ""
    version = f"{GA4_RULESET_VERSION}+{overrides_version}" if overrides else GA4_RULESET_VERSION

    if overrides:
        values = {
            "source": source,
            "medium": medium,
            "campaign": campaign,
            "term": _clean(utm.term) or "",
            "content": _clean(utm.content) or "",
            "referrer": (signals.referrer or "").strip(),
            "referrer_host": referrer_host or "",
            "page_url": (signals.page_url or "").strip(),
            "event_name": (signals.event_name or "").strip(),
            "click_ids": ",".join(sorted(click_ids)),
        }
        for override in overrides:
            if override.matches(values):
                return ChannelAssignment(override.channel, version, override.id, source, medium)

    rule = _first_ga4_rule(source, medium, campaign)
    return ChannelAssignment(rule.channel.value, version, rule.id, source, medium)


@lru_cache(maxsize=16384)
def _first_ga4_rule(source: str, medium: str, campaign: str) -> ChannelRule:
    """The first GA4 rule that matches; cached, since real data repeats a few thousand triples."""
    facts = Facts(source, medium, campaign, source_categories(source))
    for rule in GA4_DEFAULT_RULES:
        if rule.matches(facts):
            return rule
    raise AssertionError("unreachable: the last GA4 rule always matches")  # pragma: no cover


def _utm_of(signals: TouchSignals, page: Utm | None) -> Utm:
    given = (signals.source, signals.medium, signals.campaign, signals.term, signals.content)
    if page is not None and not any(_clean(value) for value in given):
        return page
    return Utm(
        source=signals.source,
        medium=signals.medium,
        campaign=signals.campaign,
        term=signals.term,
        content=signals.content,
    )


def _source_and_medium(
    utm: Utm,
    click_ids: frozenset[str],
    referrer_host: str | None,
    own_domains: Collection[str],
) -> tuple[str, str]:
    utm_source, utm_medium = _clean(utm.source), _clean(utm.medium)
    origin = next((origin for name, origin in CLICK_ID_ORIGINS.items() if name in click_ids), None)
    if utm_source or utm_medium:
        click_source = origin.source if origin else None
        click_medium = origin.medium if origin else None
        return utm_source or click_source or NOT_SET, utm_medium or click_medium or NOT_SET
    if origin is not None:
        return origin.source, origin.medium or "social"
    if referrer_host and not _is_own(referrer_host, own_domains):
        categories = source_categories(referrer_host)
        if SourceCategory.SEARCH in categories:
            return search_engine_name(referrer_host), "organic"
        if SourceCategory.SOCIAL in categories:
            return referrer_host, "social"
        return referrer_host, "referral"
    return DIRECT_SOURCE, NONE_MEDIUM


def _is_own(host: str, own_domains: Collection[str]) -> bool:
    return any(
        host == own or host.endswith("." + own)
        for own in _own_hosts(tuple(own_domains))
        if own is not None
    )


@lru_cache(maxsize=64)
def _own_hosts(own_domains: tuple[str, ...]) -> tuple[str | None, ...]:
    return tuple(host_of(domain) for domain in own_domains)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip().lower() or None


__all__ = [
    "DIRECT_SOURCE",
    "GA4_DEFAULT_RULES",
    "GA4_RULESET_VERSION",
    "NONE_MEDIUM",
    "NOT_SET",
    "OVERRIDE_FIELDS",
    "ChannelAssignment",
    "ChannelOverride",
    "ChannelRule",
    "Condition",
    "DefaultChannel",
    "Op",
    "TouchSignals",
    "classify",
]

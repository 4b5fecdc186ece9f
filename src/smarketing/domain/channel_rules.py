"""GA4's default channel grouping as data: 19 ordered rules, first match wins, case ignored.

The rules and the source category lists (`channel_sources`) are versioned together as
`GA4_RULESET_VERSION`; `channels.classify` applies them after the playbook's overrides.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from smarketing.domain.channel_sources import SourceCategory

GA4_RULESET_VERSION = "ga4-default-2024"
"""Version of `GA4_DEFAULT_RULES` and of the source lists in `channel_sources`."""

DIRECT_SOURCE = "(direct)"
NONE_MEDIUM = "(none)"
NOT_SET = "(not set)"


class DefaultChannel(StrEnum):
    """GA4's default channel group, in evaluation order."""

    DIRECT = "Direct"
    CROSS_NETWORK = "Cross-network"
    PAID_SHOPPING = "Paid Shopping"
    PAID_SEARCH = "Paid Search"
    PAID_SOCIAL = "Paid Social"
    PAID_VIDEO = "Paid Video"
    DISPLAY = "Display"
    PAID_OTHER = "Paid Other"
    ORGANIC_SHOPPING = "Organic Shopping"
    ORGANIC_SOCIAL = "Organic Social"
    ORGANIC_VIDEO = "Organic Video"
    ORGANIC_SEARCH = "Organic Search"
    REFERRAL = "Referral"
    EMAIL = "Email"
    AFFILIATES = "Affiliates"
    AUDIO = "Audio"
    SMS = "SMS"
    MOBILE_PUSH_NOTIFICATIONS = "Mobile Push Notifications"
    UNASSIGNED = "Unassigned"


# --- the rules as data ---------------------------------------------------------------------

Field = Literal["source", "medium", "campaign"]


class Op(StrEnum):
    """How a `Condition` tests a field (always on the lowercased value)."""

    IN = "in"  # equals one of `values`
    CONTAINS = "contains"  # contains one of `values`
    ENDS_WITH = "ends_with"  # ends with one of `values`
    MATCHES = "matches"  # `re.search` with the single pattern in `values`
    IN_CATEGORY = "in_category"  # the source is on one of the category lists in `values`


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on one field of a touch, e.g. `medium matches PAID`."""

    field: Field
    op: Op
    values: tuple[str, ...]
    _pattern: re.Pattern[str] | None = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = re.compile(self.values[0], re.IGNORECASE) if self.op is Op.MATCHES else None
        object.__setattr__(self, "_pattern", pattern)

    def holds(self, facts: Facts) -> bool:
        if self.op is Op.IN_CATEGORY:
            return any(SourceCategory(value) in facts.categories for value in self.values)
        text: str = getattr(facts, self.field)
        if self.op is Op.IN:
            return text in self.values
        if self.op is Op.CONTAINS:
            return any(value in text for value in self.values)
        if self.op is Op.ENDS_WITH:
            return text.endswith(self.values)
        assert self._pattern is not None
        return self._pattern.search(text) is not None


@dataclass(frozen=True, slots=True)
class ChannelRule:
    """One row of the channel grouping: `channel` when any of the `when` groups fully holds.

    `when` is a disjunction of conjunctions: `((a, b), (c,))` means `(a and b) or c`; `((),)`
    always holds.
    """

    id: str
    channel: DefaultChannel
    description: str
    when: tuple[tuple[Condition, ...], ...]

    def matches(self, facts: Facts) -> bool:
        return any(all(cond.holds(facts) for cond in group) for group in self.when)


PAID_MEDIUM_REGEX = r"^(.*cp.*|ppc|retargeting|paid.*)$"
SHOP_CAMPAIGN_REGEX = r"^(.*(([^a-df-z]|^)shop|shopping).*)$"

_PAID = Condition("medium", Op.MATCHES, (PAID_MEDIUM_REGEX,))
_SHOP = Condition("campaign", Op.MATCHES, (SHOP_CAMPAIGN_REGEX,))
_EMAIL_WORDS = ("email", "e-mail", "e_mail", "e mail")


def _category(category: SourceCategory) -> Condition:
    return Condition("source", Op.IN_CATEGORY, (category.value,))


def _medium_in(*values: str) -> Condition:
    return Condition("medium", Op.IN, values)


def _source_in(*values: str) -> Condition:
    return Condition("source", Op.IN, values)


_SEARCH = _category(SourceCategory.SEARCH)
_SOCIAL = _category(SourceCategory.SOCIAL)
_SHOPPING = _category(SourceCategory.SHOPPING)
_VIDEO = _category(SourceCategory.VIDEO)

GA4_DEFAULT_RULES: tuple[ChannelRule, ...] = (
    ChannelRule(
        "ga4.direct",
        DefaultChannel.DIRECT,
        "Source is (direct) and medium is (not set) or (none)",
        ((_source_in(DIRECT_SOURCE), _medium_in(NOT_SET, NONE_MEDIUM)),),
    ),
    ChannelRule(
        "ga4.cross_network",
        DefaultChannel.CROSS_NETWORK,
        "Campaign name contains cross-network",
        ((Condition("campaign", Op.CONTAINS, ("cross-network",)),),),
    ),
    ChannelRule(
        "ga4.paid_shopping",
        DefaultChannel.PAID_SHOPPING,
        f"(Source is a shopping site or campaign matches {SHOP_CAMPAIGN_REGEX}) "
        f"and medium matches {PAID_MEDIUM_REGEX}",
        ((_SHOPPING, _PAID), (_SHOP, _PAID)),
    ),
    ChannelRule(
        "ga4.paid_search",
        DefaultChannel.PAID_SEARCH,
        f"Source is a search site and medium matches {PAID_MEDIUM_REGEX}",
        ((_SEARCH, _PAID),),
    ),
    ChannelRule(
        "ga4.paid_social",
        DefaultChannel.PAID_SOCIAL,
        f"Source is a social site and medium matches {PAID_MEDIUM_REGEX}",
        ((_SOCIAL, _PAID),),
    ),
    ChannelRule(
        "ga4.paid_video",
        DefaultChannel.PAID_VIDEO,
        f"Source is a video site and medium matches {PAID_MEDIUM_REGEX}",
        ((_VIDEO, _PAID),),
    ),
    ChannelRule(
        "ga4.display",
        DefaultChannel.DISPLAY,
        "Medium is display, banner, expandable, interstitial or cpm",
        ((_medium_in("display", "banner", "expandable", "interstitial", "cpm"),),),
    ),
    ChannelRule(
        "ga4.paid_other",
        DefaultChannel.PAID_OTHER,
        f"Medium matches {PAID_MEDIUM_REGEX}",
        ((_PAID,),),
    ),
    ChannelRule(
        "ga4.organic_shopping",
        DefaultChannel.ORGANIC_SHOPPING,
        f"Source is a shopping site or campaign matches {SHOP_CAMPAIGN_REGEX}",
        ((_SHOPPING,), (_SHOP,)),
    ),
    ChannelRule(
        "ga4.organic_social",
        DefaultChannel.ORGANIC_SOCIAL,
        "Source is a social site or medium is social, social-network, social-media, sm, "
        "social network or social media",
        (
            (_SOCIAL,),
            (
                _medium_in(
                    "social",
                    "social-network",
                    "social-media",
                    "sm",
                    "social network",
                    "social media",
                ),
            ),
        ),
    ),
    ChannelRule(
        "ga4.organic_video",
        DefaultChannel.ORGANIC_VIDEO,
        "Source is a video site or medium contains video",
        ((_VIDEO,), (Condition("medium", Op.CONTAINS, ("video",)),)),
    ),
    ChannelRule(
        "ga4.organic_search",
        DefaultChannel.ORGANIC_SEARCH,
        "Source is a search site or medium is organic",
        ((_SEARCH,), (_medium_in("organic"),)),
    ),
    ChannelRule(
        "ga4.referral",
        DefaultChannel.REFERRAL,
        "Medium is referral, app or link",
        ((_medium_in("referral", "app", "link"),),),
    ),
    ChannelRule(
        "ga4.email",
        DefaultChannel.EMAIL,
        "Source or medium is email, e-mail, e_mail or e mail",
        ((_source_in(*_EMAIL_WORDS),), (_medium_in(*_EMAIL_WORDS),)),
    ),
    ChannelRule(
        "ga4.affiliates",
        DefaultChannel.AFFILIATES,
        "Medium is affiliate",
        ((_medium_in("affiliate"),),),
    ),
    ChannelRule(
        "ga4.audio",
        DefaultChannel.AUDIO,
        "Medium is audio",
        ((_medium_in("audio"),),),
    ),
    ChannelRule(
        "ga4.sms",
        DefaultChannel.SMS,
        "Source or medium is sms",
        ((_source_in("sms"),), (_medium_in("sms"),)),
    ),
    ChannelRule(
        "ga4.mobile_push_notifications",
        DefaultChannel.MOBILE_PUSH_NOTIFICATIONS,
        "Medium ends with push, or contains mobile or notification, or source is firebase",
        (
            (Condition("medium", Op.ENDS_WITH, ("push",)),),
            (Condition("medium", Op.CONTAINS, ("mobile", "notification")),),
            (_source_in("firebase"),),
        ),
    ),
    ChannelRule(
        "ga4.unassigned",
        DefaultChannel.UNASSIGNED,
        "Nothing else matched",
        ((),),
    ),
)
"""GA4's default channel grouping (CONVENTIONS.md §2), in order; first match wins."""


# --- inputs and outputs --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Facts:
    """What the GA4 rules look at: source, medium, campaign and the source's categories."""

    source: str
    medium: str
    campaign: str
    categories: frozenset[SourceCategory]

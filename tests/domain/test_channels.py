"""Channel classification: GA4's 19 rules in order, source derivation, overrides, invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.domain.channel_sources import (
    CLICK_ID_ORIGINS,
    HOST_BRANDS,
    SOURCE_CATEGORY_LISTS,
    SourceCategory,
    brand_of,
    source_categories,
)
from smarketing.domain.channels import (
    GA4_DEFAULT_RULES,
    GA4_RULESET_VERSION,
    ChannelAssignment,
    ChannelOverride,
    DefaultChannel,
    TouchSignals,
    classify,
)
from smarketing.domain.utm import CLICK_ID_PARAMS, parse_utm
from smarketing.errors import ValidationFailed

C = DefaultChannel


def utm(
    source: str | None = None, medium: str | None = None, campaign: str | None = None
) -> TouchSignals:
    return TouchSignals(source=source, medium=medium, campaign=campaign)


# (case id, signals, expected channel, expected rule id). Every GA4 rule appears, in order,
# with the first-match-wins conflicts next to the rule that wins them.
RULE_TABLE: list[tuple[str, TouchSignals, DefaultChannel, str]] = [
    # 1 Direct
    ("nothing-known", TouchSignals(), C.DIRECT, "ga4.direct"),
    ("direct-none", utm("(direct)", "(none)"), C.DIRECT, "ga4.direct"),
    ("direct-not-set", utm("(direct)", "(not set)"), C.DIRECT, "ga4.direct"),
    (
        "direct-beats-cross-network",
        utm("(direct)", "(none)", "x-cross-network"),
        C.DIRECT,
        "ga4.direct",
    ),
    # 2 Cross-network, before every paid rule
    (
        "cross-network-on-google-cpc",
        utm("google", "cpc", "pmax_cross-network_q3"),
        C.CROSS_NETWORK,
        "ga4.cross_network",
    ),
    (
        "cross-network-any-medium",
        utm("newsletter", "email", "Cross-Network"),
        C.CROSS_NETWORK,
        "ga4.cross_network",
    ),
    # 3 Paid Shopping: shopping source or SHOP campaign, with a PAID medium
    ("shopping-source-cpc", utm("Google Shopping", "cpc"), C.PAID_SHOPPING, "ga4.paid_shopping"),
    ("amazon-ppc", utm("amazon", "ppc"), C.PAID_SHOPPING, "ga4.paid_shopping"),
    (
        "shop-campaign-beats-paid-search",
        utm("google", "cpc", "spring-shop"),
        C.PAID_SHOPPING,
        "ga4.paid_shopping",
    ),
    ("eshop-campaign", utm("google", "cpc", "eshop_launch"), C.PAID_SHOPPING, "ga4.paid_shopping"),
    (
        "shopping-campaign-on-social",
        utm("facebook", "paid_social", "holiday shopping"),
        C.PAID_SHOPPING,
        "ga4.paid_shopping",
    ),
    # 4 Paid Search
    ("google-cpc", utm("google", "cpc"), C.PAID_SEARCH, "ga4.paid_search"),
    ("bing-ppc", utm("bing", "ppc"), C.PAID_SEARCH, "ga4.paid_search"),
    (
        "search-host-paid-prefix",
        utm("www.google.co.uk", "paid-search"),
        C.PAID_SEARCH,
        "ga4.paid_search",
    ),
    ("google-cpm-is-search-not-display", utm("google", "cpm"), C.PAID_SEARCH, "ga4.paid_search"),
    (
        "workshop-is-not-shop",
        utm("google", "cpc", "workshop-series"),
        C.PAID_SEARCH,
        "ga4.paid_search",
    ),
    # 5 Paid Social: a paid medium on a social source
    ("facebook-cpc", utm("facebook", "cpc"), C.PAID_SOCIAL, "ga4.paid_social"),
    ("linkedin-paid-social", utm("linkedin", "paid_social"), C.PAID_SOCIAL, "ga4.paid_social"),
    (
        "social-host-retargeting",
        utm("l.facebook.com", "retargeting"),
        C.PAID_SOCIAL,
        "ga4.paid_social",
    ),
    # 6 Paid Video
    ("youtube-cpv", utm("youtube", "cpv"), C.PAID_VIDEO, "ga4.paid_video"),
    ("vimeo-paid", utm("vimeo.com", "paid"), C.PAID_VIDEO, "ga4.paid_video"),
    # 7 Display
    ("display", utm("dv360", "display"), C.DISPLAY, "ga4.display"),
    ("banner", utm("adroll", "banner"), C.DISPLAY, "ga4.display"),
    ("expandable", utm("publisher", "expandable"), C.DISPLAY, "ga4.display"),
    ("interstitial", utm("publisher", "interstitial"), C.DISPLAY, "ga4.display"),
    ("cpm-beats-paid-other", utm("publisher", "cpm"), C.DISPLAY, "ga4.display"),
    # 8 Paid Other: the PAID regex ^(.*cp.*|ppc|retargeting|paid.*)$ on an unknown source
    ("cpa-unknown-source", utm("partner-network", "cpa"), C.PAID_OTHER, "ga4.paid_other"),
    ("ecpc", utm("capterra", "ecpc"), C.PAID_OTHER, "ga4.paid_other"),
    ("ppc-unknown-source", utm("capterra", "ppc"), C.PAID_OTHER, "ga4.paid_other"),
    ("retargeting", utm("criteo", "retargeting"), C.PAID_OTHER, "ga4.paid_other"),
    ("paid-prefix", utm("g2", "paid-listing"), C.PAID_OTHER, "ga4.paid_other"),
    ("paid-medium-without-source", utm(None, "paid"), C.PAID_OTHER, "ga4.paid_other"),
    # 9 Organic Shopping, before Organic Social and Email
    (
        "shopping-source-referral",
        utm("amazon.com", "referral"),
        C.ORGANIC_SHOPPING,
        "ga4.organic_shopping",
    ),
    (
        "shop-campaign-beats-email",
        utm("newsletter", "email", "shop-the-look"),
        C.ORGANIC_SHOPPING,
        "ga4.organic_shopping",
    ),
    # 10 Organic Social
    ("linkedin-social", utm("linkedin", "social"), C.ORGANIC_SOCIAL, "ga4.organic_social"),
    ("t-co-referral", utm("t.co", "referral"), C.ORGANIC_SOCIAL, "ga4.organic_social"),
    (
        "social-network-medium",
        utm("community", "social-network"),
        C.ORGANIC_SOCIAL,
        "ga4.organic_social",
    ),
    (
        "social-media-medium",
        utm("community", "social media"),
        C.ORGANIC_SOCIAL,
        "ga4.organic_social",
    ),
    ("sm-medium", utm("community", "sm"), C.ORGANIC_SOCIAL, "ga4.organic_social"),
    (
        "social-source-email-medium",
        utm("facebook", "email"),
        C.ORGANIC_SOCIAL,
        "ga4.organic_social",
    ),
    # 11 Organic Video
    ("youtube-referral", utm("youtube.com", "referral"), C.ORGANIC_VIDEO, "ga4.organic_video"),
    ("video-medium", utm("wistia-embed", "webinar-video"), C.ORGANIC_VIDEO, "ga4.organic_video"),
    # 12 Organic Search
    ("bing-organic", utm("bing", "organic"), C.ORGANIC_SEARCH, "ga4.organic_search"),
    ("organic-medium", utm("startpage-clone", "organic"), C.ORGANIC_SEARCH, "ga4.organic_search"),
    ("search-source-without-medium", utm("google", None), C.ORGANIC_SEARCH, "ga4.organic_search"),
    # 13 Referral
    ("referral", utm("partner.example", "referral"), C.REFERRAL, "ga4.referral"),
    ("app", utm("partner", "app"), C.REFERRAL, "ga4.referral"),
    ("link", utm("partner", "link"), C.REFERRAL, "ga4.referral"),
    # 14 Email
    ("email-medium", utm("newsletter", "email"), C.EMAIL, "ga4.email"),
    ("e-mail-medium", utm("hubspot", "e-mail"), C.EMAIL, "ga4.email"),
    ("e_mail-medium", utm("hubspot", "e_mail"), C.EMAIL, "ga4.email"),
    ("e-space-mail-medium", utm("hubspot", "e mail"), C.EMAIL, "ga4.email"),
    ("email-source", utm("email", "nurture"), C.EMAIL, "ga4.email"),
    # 15 Affiliates
    ("affiliate", utm("impact", "affiliate"), C.AFFILIATES, "ga4.affiliates"),
    # 16 Audio
    ("audio", utm("spotify", "audio"), C.AUDIO, "ga4.audio"),
    # 17 SMS
    ("sms-medium", utm("twilio", "sms"), C.SMS, "ga4.sms"),
    ("sms-source", utm("sms", "text"), C.SMS, "ga4.sms"),
    # 18 Mobile Push Notifications
    (
        "push-suffix",
        utm("onesignal", "web-push"),
        C.MOBILE_PUSH_NOTIFICATIONS,
        "ga4.mobile_push_notifications",
    ),
    (
        "mobile-medium",
        utm("braze", "mobile-inbox"),
        C.MOBILE_PUSH_NOTIFICATIONS,
        "ga4.mobile_push_notifications",
    ),
    (
        "notification-medium",
        utm("braze", "in-app-notification"),
        C.MOBILE_PUSH_NOTIFICATIONS,
        "ga4.mobile_push_notifications",
    ),
    (
        "firebase-source",
        utm("firebase", "inbox"),
        C.MOBILE_PUSH_NOTIFICATIONS,
        "ga4.mobile_push_notifications",
    ),
    # 19 Unassigned
    ("unknown-source-only", utm("partner-newsletter", None), C.UNASSIGNED, "ga4.unassigned"),
    ("unknown-pair", utm("foo", "bar"), C.UNASSIGNED, "ga4.unassigned"),
    ("medium-only", utm(None, "print"), C.UNASSIGNED, "ga4.unassigned"),
]


@pytest.mark.parametrize(
    ("signals", "channel", "rule_id"),
    [pytest.param(s, c, r, id=i) for i, s, c, r in RULE_TABLE],
)
def test_ga4_rules_first_match_wins(
    signals: TouchSignals, channel: DefaultChannel, rule_id: str
) -> None:
    result = classify(signals)
    assert (result.channel, result.rule_id) == (channel.value, rule_id)
    assert result.ruleset_version == GA4_RULESET_VERSION


def test_table_covers_every_rule_and_channel() -> None:
    assert {rule_id for *_, rule_id in RULE_TABLE} == {rule.id for rule in GA4_DEFAULT_RULES}
    assert {channel for _, _, channel, _ in RULE_TABLE} == set(DefaultChannel)


def test_rules_are_in_ga4_order_with_unique_ids_and_descriptions() -> None:
    assert [rule.channel for rule in GA4_DEFAULT_RULES] == list(DefaultChannel)
    assert len({rule.id for rule in GA4_DEFAULT_RULES}) == 19
    assert all(rule.description for rule in GA4_DEFAULT_RULES)
    assert [c.value for c in DefaultChannel] == [
        "Direct", "Cross-network", "Paid Shopping", "Paid Search", "Paid Social", "Paid Video",
        "Display", "Paid Other", "Organic Shopping", "Organic Social", "Organic Video",
        "Organic Search", "Referral", "Email", "Affiliates", "Audio", "SMS",
        "Mobile Push Notifications", "Unassigned",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "medium", "campaign", "channel"),
    [
        ("GOOGLE", "CPC", None, C.PAID_SEARCH),
        ("FaceBook", "Paid_Social", None, C.PAID_SOCIAL),
        ("Newsletter", "EMAIL", None, C.EMAIL),
        ("google", "cpc", "PMax_CROSS-NETWORK", C.CROSS_NETWORK),
        ("(DIRECT)", "(NONE)", None, C.DIRECT),
        ("  linkedin ", " social ", None, C.ORGANIC_SOCIAL),
        ("WWW.Google.CO.UK", "Organic", None, C.ORGANIC_SEARCH),
    ],
)
def test_matching_ignores_case_and_whitespace(
    source: str, medium: str, campaign: str | None, channel: DefaultChannel
) -> None:
    assert classify(utm(source, medium, campaign)).channel == channel


def test_assignment_reports_lowercased_source_and_medium() -> None:
    assert classify(utm(" Google ", "CPC")) == ChannelAssignment(
        "Paid Search", GA4_RULESET_VERSION, "ga4.paid_search", "google", "cpc"
    )


# --- source and medium derivation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("signals", "channel", "source", "medium"),
    [
        pytest.param(TouchSignals(), C.DIRECT, "(direct)", "(none)", id="direct"),
        pytest.param(
            TouchSignals(click_ids=frozenset({"gclid"})),
            C.PAID_SEARCH,
            "google",
            "cpc",
            id="bare-gclid",
        ),
        pytest.param(
            TouchSignals(click_ids=frozenset({"GCLID"})),
            C.PAID_SEARCH,
            "google",
            "cpc",
            id="gclid-any-case",
        ),
        pytest.param(
            TouchSignals(click_ids=frozenset({"dclid"})),
            C.PAID_SEARCH,
            "google",
            "cpc",
            id="bare-dclid",
        ),
        pytest.param(
            TouchSignals(click_ids=frozenset({"wbraid"})),
            C.PAID_SEARCH,
            "google",
            "cpc",
            id="bare-wbraid",
        ),
        pytest.param(
            TouchSignals(click_ids=frozenset({"gbraid"})),
            C.PAID_SEARCH,
            "google",
            "cpc",
            id="bare-gbraid",
        ),
        pytest.param(
            TouchSignals(click_ids=frozenset({"msclkid"})),
            C.PAID_SEARCH,
            "bing",
            "cpc",
            id="bare-msclkid",
        ),
        pytest.param(
            TouchSignals(page_url="https://acme.com/demo?gclid=Cj0KCQ"),
            C.PAID_SEARCH,
            "google",
            "cpc",
            id="gclid-in-page-url",
        ),
        pytest.param(
            TouchSignals(
                referrer="https://l.facebook.com/", click_ids=frozenset({"gclid", "fbclid"})
            ),
            C.PAID_SEARCH,
            "google",
            "cpc",
            id="gclid-beats-fbclid-and-referrer",
        ),
        pytest.param(
            TouchSignals(click_ids=frozenset({"fbclid"})),
            C.ORGANIC_SOCIAL,
            "facebook",
            "social",
            id="bare-fbclid-is-organic",
        ),
        pytest.param(
            TouchSignals(click_ids=frozenset({"li_fat_id"})),
            C.ORGANIC_SOCIAL,
            "linkedin",
            "social",
            id="bare-li-fat-id-is-organic",
        ),
        pytest.param(
            TouchSignals(medium="paid", click_ids=frozenset({"fbclid"})),
            C.PAID_SOCIAL,
            "facebook",
            "paid",
            id="fbclid-with-paid-medium",
        ),
        pytest.param(
            TouchSignals(medium="cpc", click_ids=frozenset({"ttclid"})),
            C.PAID_SOCIAL,
            "tiktok",
            "cpc",
            id="ttclid-with-cpc-medium",
        ),
        pytest.param(
            TouchSignals(source="newsletter", medium="email", click_ids=frozenset({"gclid"})),
            C.EMAIL,
            "newsletter",
            "email",
            id="utm-beats-gclid",
        ),
        pytest.param(
            TouchSignals(source="newsletter", medium="email", referrer="https://www.google.com/"),
            C.EMAIL,
            "newsletter",
            "email",
            id="utm-beats-referrer",
        ),
        pytest.param(
            TouchSignals(source="partner"),
            C.UNASSIGNED,
            "partner",
            "(not set)",
            id="missing-medium-not-set",
        ),
        pytest.param(
            TouchSignals(referrer="https://www.google.co.uk/search?q=crm"),
            C.ORGANIC_SEARCH,
            "google",
            "organic",
            id="google-referrer",
        ),
        pytest.param(
            TouchSignals(referrer="duckduckgo.com"),
            C.ORGANIC_SEARCH,
            "duckduckgo",
            "organic",
            id="duckduckgo-host",
        ),
        pytest.param(
            TouchSignals(referrer="https://search.yahoo.co.jp/"),
            C.ORGANIC_SEARCH,
            "yahoo",
            "organic",
            id="yahoo-country-host",
        ),
        pytest.param(
            TouchSignals(referrer="https://www.ecosia.org/search"),
            C.ORGANIC_SEARCH,
            "ecosia",
            "organic",
            id="ecosia",
        ),
        pytest.param(
            TouchSignals(referrer="https://l.facebook.com/l.php"),
            C.ORGANIC_SOCIAL,
            "l.facebook.com",
            "social",
            id="facebook-link-shim",
        ),
        pytest.param(
            TouchSignals(referrer="https://lnkd.in/abc"),
            C.ORGANIC_SOCIAL,
            "lnkd.in",
            "social",
            id="lnkd-in",
        ),
        pytest.param(
            TouchSignals(referrer="https://t.co/xyz"), C.ORGANIC_SOCIAL, "t.co", "social", id="t-co"
        ),
        pytest.param(
            TouchSignals(referrer="https://www.linkedin.com/feed/"),
            C.ORGANIC_SOCIAL,
            "linkedin.com",
            "social",
            id="linkedin",
        ),
        pytest.param(
            TouchSignals(referrer="https://www.youtube.com/watch?v=1"),
            C.ORGANIC_VIDEO,
            "youtube.com",
            "referral",
            id="youtube",
        ),
        pytest.param(
            TouchSignals(referrer="https://www.amazon.com/dp/1"),
            C.ORGANIC_SHOPPING,
            "amazon.com",
            "referral",
            id="amazon",
        ),
        pytest.param(
            TouchSignals(referrer="https://blog.example.org/post"),
            C.REFERRAL,
            "blog.example.org",
            "referral",
            id="plain-referral",
        ),
        pytest.param(
            TouchSignals(referrer="https://edition.cnn.com/"),
            C.REFERRAL,
            "edition.cnn.com",
            "referral",
            id="listed-word-is-not-a-host-brand",
        ),
        pytest.param(
            TouchSignals(referrer="not a url at all"),
            C.DIRECT,
            "(direct)",
            "(none)",
            id="unreadable-referrer",
        ),
        pytest.param(
            TouchSignals(referrer="http://[broken"),
            C.DIRECT,
            "(direct)",
            "(none)",
            id="unparsable-referrer",
        ),
    ],
)
def test_source_and_medium_derivation(
    signals: TouchSignals, channel: DefaultChannel, source: str, medium: str
) -> None:
    result = classify(signals)
    assert (result.channel, result.source, result.medium) == (channel.value, source, medium)


@pytest.mark.parametrize(
    ("referrer", "own_domains"),
    [
        ("https://acme.com/pricing", ["acme.com"]),
        ("https://www.acme.com/", ["acme.com"]),
        ("https://app.acme.com/login", ["https://www.acme.com"]),
        ("docs.acme.io", ["acme.com", "acme.io"]),
    ],
)
def test_own_domain_referrer_is_internal(referrer: str, own_domains: list[str]) -> None:
    result = classify(TouchSignals(referrer=referrer), own_domains=own_domains)
    assert (result.channel, result.source) == ("Direct", "(direct)")


def test_lookalike_of_own_domain_is_a_referral() -> None:
    result = classify(TouchSignals(referrer="https://notacme.com/"), own_domains=["acme.com"])
    assert result.channel == "Referral"


def test_page_url_utm_used_when_no_explicit_utm() -> None:
    url = "https://acme.com/?UTM_Source=LinkedIn&utm_medium=Paid_Social&utm_campaign=q3"
    assert classify(TouchSignals(page_url=url)).channel == "Paid Social"


def test_explicit_utm_beats_page_url() -> None:
    signals = TouchSignals(
        source="newsletter", medium="email", page_url="https://acme.com/?utm_source=google"
    )
    assert classify(signals).channel == "Email"


def test_from_utm_keeps_click_ids() -> None:
    signals = TouchSignals.from_utm(parse_utm("https://acme.com/?gclid=abc"))
    assert signals.click_ids == frozenset({"gclid"})
    assert classify(signals).channel == "Paid Search"


# --- overrides -----------------------------------------------------------------------------

G2 = ChannelOverride("g2-reviews", "Review Sites", {"source": r"^g2(crowd)?(\.com)?$"})
PARTNER = ChannelOverride(
    "partner-webinars", "Partner", {"campaign": "partner", "medium": "^webinar$"}
)


def test_override_comes_before_ga4_rules() -> None:
    result = classify(utm("G2", "cpc"), [G2], overrides_version="playbook-3")
    assert result == ChannelAssignment(
        "Review Sites", f"{GA4_RULESET_VERSION}+playbook-3", "g2-reviews", "g2", "cpc"
    )


def test_override_sees_derived_source_from_referrer() -> None:
    result = classify(TouchSignals(referrer="https://www.g2.com/products/acme"), [G2])
    assert (result.channel, result.rule_id) == ("Review Sites", "g2-reviews")


def test_without_match_ga4_applies_under_the_combined_version() -> None:
    result = classify(utm("google", "cpc"), [G2, PARTNER])
    assert (result.channel, result.rule_id) == ("Paid Search", "ga4.paid_search")
    assert result.ruleset_version == f"{GA4_RULESET_VERSION}+playbook"


def test_first_matching_override_wins_and_all_conditions_must_hold() -> None:
    also_g2 = ChannelOverride("also-g2", "Other", {"source": "g2"})
    assert classify(utm("g2", "cpc"), [G2, also_g2]).rule_id == "g2-reviews"
    assert classify(utm("g2", "cpc"), [also_g2, G2]).rule_id == "also-g2"
    assert classify(utm("acme", "email", "partner-day"), [PARTNER]).rule_id == "ga4.email"
    assert classify(utm("acme", "webinar", "PARTNER-day"), [PARTNER]).channel == "Partner"


@pytest.mark.parametrize(
    ("conditions", "signals"),
    [
        ({"medium": "^cpc$"}, TouchSignals(click_ids=frozenset({"gclid"}))),
        ({"click_ids": "fbclid"}, TouchSignals(click_ids=frozenset({"fbclid", "gclid"}))),
        ({"event_name": "^demo requested$"}, TouchSignals(event_name="Demo Requested")),
        (
            {"referrer_host": r"^capterra\.com$"},
            TouchSignals(referrer="https://www.capterra.com/x"),
        ),
        ({"page_url": "/pricing"}, TouchSignals(page_url="https://acme.com/pricing?a=1")),
        ({"term": "crm"}, TouchSignals(source="google", medium="cpc", term="Best CRM")),
        ({"content": "^hero$"}, TouchSignals(source="google", medium="cpc", content="HERO")),
        ({"source": r"^\(not set\)$"}, TouchSignals(medium="print")),
    ],
)
def test_override_fields(conditions: dict[str, str], signals: TouchSignals) -> None:
    override = ChannelOverride("custom", "Custom", conditions)
    assert classify(signals, [override]).channel == "Custom"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": "x", "channel": "X", "conditions": {"sorce": "g2"}}, "unknown field 'sorce'"),
        ({"id": "x", "channel": "X", "conditions": {"source": "(g2"}}, "not a valid regular"),
        ({"id": "x", "channel": "X", "conditions": {}}, "no conditions"),
        ({"id": " ", "channel": "X", "conditions": {"source": "a"}}, "non-empty id"),
        ({"id": "x", "channel": "", "conditions": {"source": "a"}}, "empty channel"),
    ],
)
def test_bad_override_is_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message) as info:
        ChannelOverride(**kwargs)  # type: ignore[arg-type]
    assert info.value.hint


def test_override_is_immutable_and_hashable() -> None:
    conditions = {"source": "g2"}
    override = ChannelOverride("g2", "Review Sites", conditions)
    conditions["medium"] = "cpc"
    assert dict(override.conditions) == {"source": "g2"}
    assert hash(override) == hash(ChannelOverride("g2", "Review Sites", {"source": "g2"}))
    with pytest.raises(TypeError):
        override.conditions["medium"] = "cpc"  # type: ignore[index]


# --- source categories ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "category"),
    [
        ("google", SourceCategory.SEARCH),
        ("www.google.co.uk", SourceCategory.SEARCH),
        ("https://www.bing.com/search?q=x", SourceCategory.SEARCH),
        ("duckduckgo.com", SourceCategory.SEARCH),
        ("yandex.ru", SourceCategory.SEARCH),
        ("baidu", SourceCategory.SEARCH),
        ("ecosia.org", SourceCategory.SEARCH),
        ("facebook", SourceCategory.SOCIAL),
        ("fb", SourceCategory.SOCIAL),
        ("IG", SourceCategory.SOCIAL),
        ("l.facebook.com", SourceCategory.SOCIAL),
        ("lnkd.in", SourceCategory.SOCIAL),
        ("business.linkedin.com", SourceCategory.SOCIAL),
        ("t.co", SourceCategory.SOCIAL),
        ("x.com", SourceCategory.SOCIAL),
        ("reddit", SourceCategory.SOCIAL),
        ("tiktok", SourceCategory.SOCIAL),
        ("pinterest.co.uk", SourceCategory.SOCIAL),
        ("youtube", SourceCategory.VIDEO),
        ("m.youtube.com", SourceCategory.VIDEO),
        ("youtu.be", SourceCategory.VIDEO),
        ("Google Shopping", SourceCategory.SHOPPING),
        ("shopping.yahoo.com", SourceCategory.SHOPPING),
        ("amazon.de", SourceCategory.SHOPPING),
    ],
)
def test_source_categories(source: str, category: SourceCategory) -> None:
    assert source_categories(source) == frozenset({category})


@pytest.mark.parametrize("source", ["", "  ", "acme", "cnn.com", "google ads", "example.org"])
def test_unlisted_sources_have_no_category(source: str) -> None:
    assert source_categories(source) == frozenset()


def test_source_lists_are_data_disjoint_and_lowercase() -> None:
    lists = list(SOURCE_CATEGORY_LISTS.values())
    assert sum(len(names) for names in lists) == len(frozenset().union(*lists))
    assert all(name == name.lower().strip() for names in lists for name in names)
    assert all(len(SOURCE_CATEGORY_LISTS[c]) >= 40 for c in SourceCategory)


def test_every_host_brand_is_a_listed_word() -> None:
    assert all(source_categories(brand) for brand in HOST_BRANDS)


def test_click_id_origins_cover_the_parsed_click_ids() -> None:
    assert set(CLICK_ID_ORIGINS) == set(CLICK_ID_PARAMS)


@pytest.mark.parametrize(
    ("host", "brand"),
    [
        ("www.google.co.uk", "google"),
        ("search.yahoo.co.jp", "yahoo"),
        ("google.com", "google"),
        ("l.facebook.com", "facebook"),
        ("t.co", "t"),
        ("localhost", None),
    ],
)
def test_brand_of(host: str, brand: str | None) -> None:
    assert brand_of(host) == brand


# --- invariant -----------------------------------------------------------------------------

_OPTIONAL_TEXT = st.none() | st.text(max_size=40)
_CLICK_IDS = st.frozensets(st.sampled_from(CLICK_ID_PARAMS) | st.text(max_size=8), max_size=3)
_ANY_OVERRIDES = st.lists(st.sampled_from([G2, PARTNER]), max_size=2)
_SIGNALS = st.builds(
    TouchSignals,
    source=_OPTIONAL_TEXT,
    medium=_OPTIONAL_TEXT | st.sampled_from(["cpc", "paid", "email", "social", "(none)"]),
    campaign=_OPTIONAL_TEXT,
    term=_OPTIONAL_TEXT,
    content=_OPTIONAL_TEXT,
    referrer=_OPTIONAL_TEXT | st.sampled_from(["https://www.google.com/", "t.co", "http://["]),
    click_ids=_CLICK_IDS,
    page_url=_OPTIONAL_TEXT | st.just("https://a.io/?utm_source=fb&utm_medium=cpc&gclid=1"),
    event_name=_OPTIONAL_TEXT,
)


@settings(max_examples=150, deadline=None, database=None)
@given(signals=_SIGNALS, overrides=_ANY_OVERRIDES, own=st.lists(st.text(max_size=12), max_size=2))
def test_classify_never_raises_and_returns_a_known_channel(
    signals: TouchSignals, overrides: list[ChannelOverride], own: list[str]
) -> None:
    result = classify(signals, overrides, own_domains=own)
    allowed = {c.value for c in DefaultChannel} | {o.channel for o in overrides}
    assert result.channel in allowed
    expected_version = f"{GA4_RULESET_VERSION}+playbook" if overrides else GA4_RULESET_VERSION
    assert result.ruleset_version == expected_version
    assert result.source
    assert result.medium

"""UTM parsing from URLs and from Segment's context.campaign; host and path helpers."""

from __future__ import annotations

import pytest

from smarketing.domain.utm import (
    CLICK_ID_PARAMS,
    UTM_PARAMS,
    Utm,
    from_segment_campaign,
    host_of,
    parse_utm,
    path_of,
)

FULL_URL = (
    "https://acme.com/pricing?utm_source=LinkedIn&utm_medium=paid_social&utm_campaign=Q3+Launch"
    "&utm_term=crm%20software&utm_content=hero-b&utm_id=cmp_42&utm_source_platform=Google+Ads"
    "&utm_creative_format=video&utm_marketing_tactic=prospecting&li_fat_id=abc&gclid=Cj0#top"
)


def test_parse_reads_every_utm_param_and_click_id() -> None:
    assert parse_utm(FULL_URL) == Utm(
        source="LinkedIn",
        medium="paid_social",
        campaign="Q3 Launch",
        term="crm software",
        content="hero-b",
        id="cmp_42",
        source_platform="Google Ads",
        creative_format="video",
        marketing_tactic="prospecting",
        click_ids=(("gclid", "Cj0"), ("li_fat_id", "abc")),
    )


def test_every_conventions_param_is_known() -> None:
    assert UTM_PARAMS == (
        "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
        "utm_source_platform", "utm_creative_format", "utm_marketing_tactic",
    )  # fmt: skip
    assert {"gclid", "dclid", "wbraid", "gbraid", "fbclid", "msclkid", "li_fat_id", "ttclid"} <= (
        set(CLICK_ID_PARAMS)
    )


@pytest.mark.parametrize(
    "text",
    [
        "https://acme.com/?UTM_SOURCE=google&Utm_Medium=cpc",
        "/landing?utm_source=google&utm_medium=cpc",
        "?utm_source=google&utm_medium=cpc",
        "utm_source=google&utm_medium=cpc",
        "acme.com/x?utm_source=google&utm_medium=cpc#utm_source=ignored",
        "https://acme.com/?utm_source=&utm_source=google&utm_medium=cpc&utm_medium=email",
        "https://acme.com/?utm_source=%20google%20&utm_medium=cpc&utm_campaign=",
    ],
)
def test_parse_forms_case_and_duplicates(text: str) -> None:
    utm = parse_utm(text)
    assert (utm.source, utm.medium, utm.campaign) == ("google", "cpc", None)
    assert utm.has_utm


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "https://acme.com/pricing",
        "acme.com",
        "/pricing",
        "just words",
        "#utm_source=x",
        "https://acme.com/?q=1&page=2",
    ],
)
def test_parse_without_utm_is_empty(text: str | None) -> None:
    assert parse_utm(text) == Utm()
    assert not parse_utm(text).has_utm


def test_click_id_helpers() -> None:
    utm = parse_utm("https://acme.com/?FBCLID=IwAR&gclid=Cj0&gclid=second")
    assert utm.click_id_names == frozenset({"fbclid", "gclid"})
    assert utm.click_id("GCLID") == "Cj0"
    assert utm.click_id("msclkid") is None
    assert not utm.has_utm


def test_segment_campaign_name_is_utm_campaign() -> None:
    campaign = {
        "name": "Q3 Launch",
        "source": "google",
        "medium": "cpc",
        "term": "crm",
        "content": "ad-b",
    }
    assert from_segment_campaign(campaign) == Utm(
        source="google", medium="cpc", campaign="Q3 Launch", term="crm", content="ad-b"
    )


def test_segment_campaign_tolerates_prefixes_case_and_odd_values() -> None:
    campaign: dict[str, object] = {
        "Name": " spring ",
        "utm_source": "newsletter",
        "MEDIUM": "email",
        "id": 42,
        "term": None,
        "content": {"nested": True},
        "source_platform": True,
        "unrelated": "x",
    }
    assert from_segment_campaign(campaign) == Utm(
        source="newsletter", medium="email", campaign="spring", id="42"
    )
    assert from_segment_campaign(None) == Utm()
    assert from_segment_campaign({}) == Utm()


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("https://WWW.Google.co.uk/search?q=x", "google.co.uk"),
        ("l.facebook.com", "l.facebook.com"),
        ("lnkd.in/abc", "lnkd.in"),
        ("t.co", "t.co"),
        ("//cdn.acme.com/x.js", "cdn.acme.com"),
        ("https://user:pw@app.acme.com:8443/x", "app.acme.com"),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
        ("acme.com.", "acme.com"),
        ("  ", None),
        (None, None),
        ("not a url", None),
        ("http://[broken", None),
        ("https:///path-only", None),
    ],
)
def test_host_of(value: str | None, host: str | None) -> None:
    assert host_of(value) == host


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("https://acme.com/pricing?x=1#top", "/pricing"),
        ("https://acme.com", "/"),
        ("acme.com/blog/post", "/blog/post"),
        ("/docs/start?a=b", "/docs/start"),
        ("", None),
        (None, None),
        ("http://[broken", None),
    ],
)
def test_path_of(value: str | None, path: str | None) -> None:
    assert path_of(value) == path

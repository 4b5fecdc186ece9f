"""UTM parameters and ad click ids, parsed from a landing-page URL or from Segment's context.

Pure string work over the standard library. Parameter names match ignoring case
(`UTM_Source` is `utm_source`); values keep their case and lose surrounding whitespace, and an
empty value counts as absent. When a parameter repeats, the first non-empty value wins.
Nothing here raises on odd input: a string that is not a URL simply carries no parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

UTM_PARAMS: tuple[str, ...] = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "utm_id",
    "utm_source_platform",
    "utm_creative_format",
    "utm_marketing_tactic",
)
"""Every UTM parameter Google Analytics 4 reads, in the order of CONVENTIONS.md §2."""

CLICK_ID_PARAMS: tuple[str, ...] = (
    "gclid",  # Google Ads
    "dclid",  # Google Display & Video 360 / Campaign Manager
    "wbraid",  # Google Ads, iOS web-to-app
    "gbraid",  # Google Ads, iOS app-to-web
    "msclkid",  # Microsoft Advertising
    "yclid",  # Yandex Direct
    "fbclid",  # Meta (Facebook, Instagram): added to outbound links, paid or not
    "li_fat_id",  # LinkedIn
    "ttclid",  # TikTok
    "twclid",  # X / Twitter
    "sccid",  # Snapchat
    "epik",  # Pinterest
    "rdt_cid",  # Reddit
)
"""Click-id query parameters that ad networks append to landing-page URLs."""

_FIELD_OF_PARAM: dict[str, str] = {name: name.removeprefix("utm_") for name in UTM_PARAMS}
_CLICK_ID_SET = frozenset(CLICK_ID_PARAMS)


@dataclass(frozen=True, slots=True, kw_only=True)
class Utm:
    """The campaign parameters of one touch; every field is optional.

    Field names drop the `utm_` prefix (`utm_campaign` is `campaign`). `click_ids` holds the
    click ids found, as `(name, value)` pairs sorted by name: the values matter for offline
    conversion uploads (a won deal sent back to Google Ads needs its `gclid`).
    """

    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None
    id: str | None = None
    source_platform: str | None = None
    creative_format: str | None = None
    marketing_tactic: str | None = None
    click_ids: tuple[tuple[str, str], ...] = ()

    @property
    def has_utm(self) -> bool:
        """True when at least one UTM parameter is present (click ids do not count)."""
        return any(getattr(self, field) is not None for field in _FIELD_OF_PARAM.values())

    @property
    def click_id_names(self) -> frozenset[str]:
        """The names of the click ids present, e.g. `frozenset({"gclid"})`."""
        return frozenset(name for name, _ in self.click_ids)

    def click_id(self, name: str) -> str | None:
        """The value of one click id (`utm.click_id("gclid")`), or None when absent."""
        wanted = name.lower()
        return next((value for key, value in self.click_ids if key == wanted), None)


def parse_utm(url_or_query: str | None) -> Utm:
    """Read the UTM parameters and click ids of a URL or of a bare query string.

    Accepts `https://acme.com/p?utm_source=x`, `/p?utm_source=x`, `?utm_source=x` and
    `utm_source=x&utm_medium=y`. The fragment (`#...`) is ignored, as GA4 ignores it.
    """
    query = _query_part(url_or_query)
    if not query:
        return Utm()
    utm: dict[str, str] = {}
    click_ids: dict[str, str] = {}
    for raw_key, raw_value in parse_qsl(query, keep_blank_values=False):
        key = raw_key.strip().lower()
        value = raw_value.strip()
        if not value:
            continue
        if key in _FIELD_OF_PARAM:
            utm.setdefault(_FIELD_OF_PARAM[key], value)
        elif key in _CLICK_ID_SET:
            click_ids.setdefault(key, value)
    return _utm_from(utm, tuple(sorted(click_ids.items())))


def from_segment_campaign(context_campaign: Mapping[str, object] | None) -> Utm:
    """Read Segment's `context.campaign` object (`name`, `source`, `medium`, `term`, `content`).

    `name` is `utm_campaign`. Keys ignore case and may also carry the `utm_` prefix, and the
    newer parameters (`id`, `source_platform`, `creative_format`, `marketing_tactic`) are read
    too. Strings and numbers are kept (as text); any other value (null, object, list) counts as
    absent.
    """
    if not context_campaign:
        return Utm()
    values: dict[str, str] = {}
    for raw_key, raw_value in context_campaign.items():
        key = str(raw_key).strip().lower()
        key = "campaign" if key == "name" else key.removeprefix("utm_")
        if key not in _FIELD_OF_PARAM.values():
            continue
        value = _scalar_text(raw_value)
        if value is not None:
            values.setdefault(key, value)
    return _utm_from(values, ())


def host_of(url_or_host: str | None) -> str | None:
    """The lowercase host name of a URL or bare host, without a leading `www.`; None if none.

    `host_of("https://WWW.Google.co.uk/search?q=x")` is `"google.co.uk"`,
    `host_of("l.facebook.com")` is `"l.facebook.com"`, `host_of("not a url")` is None.
    """
    if url_or_host is None:
        return None
    text = url_or_host.strip()
    if not text:
        return None
    if "://" not in text and not text.startswith("//"):
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").removeprefix("www.")
    if not host or any(ch.isspace() or ch in "\\/<>\"'`" for ch in host):
        return None
    return host


def path_of(url: str | None) -> str | None:
    """The path of a URL (`/pricing` for `https://acme.com/pricing?x=1`); `/` for a bare host.

    A string that already starts with `/` is taken as a path. None for empty or unparsable
    input. The path is returned as written (not percent-decoded).
    """
    if url is None:
        return None
    text = url.strip()
    if not text:
        return None
    if "://" not in text and not text.startswith("/"):
        text = "//" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return parts.path or "/"


def _query_part(url_or_query: str | None) -> str:
    if not url_or_query:
        return ""
    text = url_or_query.strip()
    if "?" in text:
        text = text.split("?", 1)[1]
    elif "://" in text or text.startswith("/") or "=" not in text:
        return ""
    return text.split("#", 1)[0]


def _utm_from(values: Mapping[str, str], click_ids: tuple[tuple[str, str], ...]) -> Utm:
    return Utm(
        source=values.get("source"),
        medium=values.get("medium"),
        campaign=values.get("campaign"),
        term=values.get("term"),
        content=values.get("content"),
        id=values.get("id"),
        source_platform=values.get("source_platform"),
        creative_format=values.get("creative_format"),
        marketing_tactic=values.get("marketing_tactic"),
        click_ids=click_ids,
    )


def _scalar_text(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text or None

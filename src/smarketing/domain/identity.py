"""Identity keys: normalised email addresses and company domains.

People dedupe on `normalize_email` (trimmed, lowercased; nothing else: `jo+news@acme.com` and
`j.o@gmail.com` stay distinct people, as HubSpot and Salesforce keep them). Accounts dedupe on
`normalize_domain`. `company_domain_of` maps a work address to its company and returns None for
free-mail providers (`FREEMAIL_DOMAINS`, plus `yahoo.*`, `hotmail.*`, `gmx.*` and the other
brands of `FREEMAIL_BRANDS` on any country domain).
"""

from __future__ import annotations

import re

from smarketing.domain.utm import host_of
from smarketing.errors import ValidationFailed

_MAX_EMAIL = 254
_MAX_LOCAL = 64
_LABEL = re.compile(r"[^\W_](?:[\w-]{0,61}[^\W_])?")
_TLD = re.compile(r"[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59}")
_LOCAL_FORBIDDEN = frozenset('()<>[]\\,;:"@')
_EMAIL_HINT = "expected one address like name@example.com: one @, no spaces, a domain with a dot"

FREEMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # Google, Microsoft, Apple, Yahoo, AOL
        "gmail.com", "googlemail.com",
        "outlook.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de",
        "hotmail.es", "hotmail.it", "live.com", "live.co.uk", "live.fr", "live.de", "msn.com",
        "icloud.com", "me.com", "mac.com",
        "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.es", "yahoo.it",
        "yahoo.ca", "yahoo.com.au", "yahoo.co.in", "yahoo.co.jp", "yahoo.com.br", "ymail.com",
        "rocketmail.com", "aol.com", "aim.com",
        # privacy and independent providers
        "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "tutanota.com", "tuta.io",
        "fastmail.com", "hey.com", "duck.com", "hushmail.com", "zoho.com", "zohomail.com",
        "mail.com", "email.com", "inbox.com", "lycos.com",
        # Europe
        "gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch", "web.de", "t-online.de",
        "freenet.de", "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr",
        "libero.it", "virgilio.it", "seznam.cz", "wp.pl", "o2.pl", "onet.pl", "interia.pl",
        "btinternet.com", "sky.com",
        # Russia and CIS
        "mail.ru", "bk.ru", "inbox.ru", "list.ru", "yandex.ru", "yandex.com", "ya.ru",
        "rambler.ru",
        # Asia
        "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sohu.com", "naver.com",
        "daum.net", "hanmail.net", "rediffmail.com",
        # Americas and Oceania (consumer ISPs)
        "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net",
        "charter.net", "shaw.ca", "rogers.com", "uol.com.br", "bol.com.br", "terra.com.br",
        "bigpond.com", "optusnet.com.au",
    }
)  # fmt: skip
"""Free-mail and consumer-ISP domains: an address there says nothing about the employer."""

FREEMAIL_BRANDS: frozenset[str] = frozenset(
    {"gmail", "googlemail", "yahoo", "ymail", "hotmail", "outlook", "gmx"}
)
"""Providers that are free mail on every country domain (`yahoo.com.ar`, `gmx.fr`)."""


def normalize_email(raw: str) -> str:
    """`raw` trimmed and lowercased, after checking it is one plausible address.

    Raises `ValidationFailed` naming the value when it is not: no `@` or several, an empty or
    over-long local part, spaces, or a domain without a dot.
    """
    email = raw.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not _valid_local(local) or not _valid_domain(domain):
        raise ValidationFailed(
            f"{raw!r} is not a valid email address", hint=_EMAIL_HINT, value=raw, field="email"
        )
    if len(email) > _MAX_EMAIL:
        raise ValidationFailed(
            f"{raw!r} is not a valid email address: longer than {_MAX_EMAIL} characters",
            hint=_EMAIL_HINT,
            value=raw,
            field="email",
        )
    return email


def email_domain(email: str) -> str:
    """The domain of an address, normalised: `"acme.com"` for `" Jo@ACME.com "`."""
    return normalize_email(email).rpartition("@")[2]


def is_freemail(domain: str) -> bool:
    """True for a free-mail domain: listed in `FREEMAIL_DOMAINS` or a `FREEMAIL_BRANDS` domain.

    A brand counts on its own name followed by a country or generic suffix of at most two
    short labels (`yahoo.co.uk`, `gmx.fr`), never as a subdomain (`yahoo.acme.com` is not).
    """
    name = domain.strip().lower().rstrip(".")
    if name in FREEMAIL_DOMAINS:
        return True
    brand, _, suffix = name.partition(".")
    labels = suffix.split(".")
    return (
        brand in FREEMAIL_BRANDS
        and 1 <= len(labels) <= 2
        and all(2 <= len(label) <= 3 and label.isalpha() for label in labels)
    )


def company_domain_of(email: str) -> str | None:
    """The company domain of a work address; None for free mail (`gmail.com`, `yahoo.fr`).

    Raises `ValidationFailed` for an invalid address. Subdomains are kept (`us.ibm.com`):
    without the public-suffix list, trimming them would merge unrelated companies.
    """
    domain = email_domain(email)
    return None if is_freemail(domain) else domain


def normalize_domain(website_or_domain: str) -> str:
    """A company's domain from a website or domain: no scheme, `www.`, port, path; lowercase.

    `"https://www.Acme.com/about"` -> `"acme.com"`. Raises `ValidationFailed` when no domain
    with a dot can be read from the value.
    """
    host = host_of(website_or_domain)
    if host is None or not _valid_domain(host):
        raise ValidationFailed(
            f"{website_or_domain!r} is not a website or domain",
            hint="expected a domain like acme.com or a website like https://www.acme.com",
            value=website_or_domain,
            field="domain",
        )
    return host


def _valid_local(local: str) -> bool:
    return (
        0 < len(local) <= _MAX_LOCAL
        and not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
        and not any(ch.isspace() or ch in _LOCAL_FORBIDDEN or not ch.isprintable() for ch in local)
    )


def _valid_domain(domain: str) -> bool:
    labels = domain.split(".")
    return (
        len(labels) >= 2
        and len(domain) <= 253
        and all(_LABEL.fullmatch(label) for label in labels)
        and _TLD.fullmatch(labels[-1]) is not None
    )

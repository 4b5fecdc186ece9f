"""Email and domain normalisation, free-mail detection."""

from __future__ import annotations

import pytest

from smarketing.domain.identity import (
    FREEMAIL_DOMAINS,
    company_domain_of,
    email_domain,
    is_freemail,
    normalize_domain,
    normalize_email,
)
from smarketing.errors import ValidationFailed


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        ("  Jo.Smith@ACME.com ", "jo.smith@acme.com"),
        ("jo+news@acme.co.uk", "jo+news@acme.co.uk"),
        ("o'neil@sub.acme-corp.io", "o'neil@sub.acme-corp.io"),
        ("ünal@bücher.de", "ünal@bücher.de"),
        ("a@xn--bcher-kva.example", "a@xn--bcher-kva.example"),
    ],
)
def test_normalize_email(raw: str, email: str) -> None:
    assert normalize_email(raw) == email


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "jo",
        "jo@",
        "@acme.com",
        "jo@acme",
        "jo@@acme.com",
        "jo@ac@me.com",
        "jo smith@acme.com",
        "jo@acme .com",
        ".jo@acme.com",
        "jo.@acme.com",
        "jo..smith@acme.com",
        "jo@-acme.com",
        "jo@acme.c",
        "jo@acme.123",
        "jo@acme..com",
        "jo@acme.com\nx",
        "<jo@acme.com>",
        "x" * 65 + "@acme.com",
        "jo@" + "a" * 250 + ".com",
    ],
)
def test_invalid_email_names_the_value_and_the_fix(raw: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        normalize_email(raw)
    error = info.value
    assert repr(raw) in error.message
    assert error.hint is not None
    assert "name@example.com" in error.hint
    assert error.http_status == 422
    assert error.details["value"] == raw


def test_email_domain() -> None:
    assert email_domain(" Jo@ACME.com ") == "acme.com"
    with pytest.raises(ValidationFailed):
        email_domain("not-an-email")


def test_freemail_list_is_solid() -> None:
    assert len(FREEMAIL_DOMAINS) >= 60
    assert {
        "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com",
        "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.de", "web.de",
        "mail.ru", "yandex.ru", "qq.com", "163.com",
    } <= FREEMAIL_DOMAINS  # fmt: skip
    assert all(domain == domain.lower() for domain in FREEMAIL_DOMAINS)


@pytest.mark.parametrize(
    ("domain", "free"),
    [
        ("gmail.com", True),
        ("yahoo.com.ar", True),
        ("yahoo.co.id", True),
        ("hotmail.be", True),
        ("gmx.fr", True),
        ("GMX.ch", True),
        ("acme.com", False),
        ("yahoo.acme.com", False),
        ("yahooligans.com", False),
        ("mail.acme.de", False),
    ],
)
def test_is_freemail(domain: str, free: bool) -> None:
    assert is_freemail(domain) is free


@pytest.mark.parametrize(
    ("email", "company"),
    [
        ("jo@acme.com", "acme.com"),
        ("Jo@US.IBM.com", "us.ibm.com"),
        ("jo@gmail.com", None),
        ("jo@yahoo.fr", None),
        ("jo@proton.me", None),
    ],
)
def test_company_domain_of(email: str, company: str | None) -> None:
    assert company_domain_of(email) == company


def test_company_domain_of_invalid_email_raises() -> None:
    with pytest.raises(ValidationFailed, match="'jo at acme' is not a valid email address"):
        company_domain_of("jo at acme")


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        ("https://www.Acme.com/about?x=1", "acme.com"),
        ("http://acme.com:8080", "acme.com"),
        ("www.acme.co.uk", "acme.co.uk"),
        ("acme.io/", "acme.io"),
        ("  ACME.com  ", "acme.com"),
        ("app.acme.com", "app.acme.com"),
        ("acme.com.", "acme.com"),
    ],
)
def test_normalize_domain(value: str, domain: str) -> None:
    assert normalize_domain(value) == domain


@pytest.mark.parametrize("value", ["", "acme", "localhost", "http://", "not a domain", "1.2.3.4"])
def test_normalize_domain_rejects_non_domains(value: str) -> None:
    with pytest.raises(ValidationFailed, match="is not a website or domain") as info:
        normalize_domain(value)
    assert info.value.hint is not None
    assert "acme.com" in info.value.hint

"""Salesforce record ids: 15 characters (case-sensitive, reports) and 18 (API, Data Loader).

The 18-character form appends a 3-character checksum of the case of the first 15: for each
block of 5 characters, a 5-bit number whose bit i is set when character i is an uppercase
A-Z, written as one character of `A-Z0-5`. `to_18` converts a 15-character id and checks an
18-character one, so both forms key the same record; the first 3 characters are the object's
key prefix (`00Q` lead, `003` contact, `001` account, `006` opportunity, `701` campaign,
`00v` campaign member), which `salesforce_id` checks when told which object to expect.
"""

from __future__ import annotations

import re

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")
KEY_PREFIXES: dict[str, str] = {
    "00Q": "Lead",
    "003": "Contact",
    "001": "Account",
    "006": "Opportunity",
    "701": "Campaign",
    "00v": "CampaignMember",
    "005": "User",
}


class BadSalesforceId(ValueError):
    """Not a Salesforce id (wrong length, characters or checksum, or another object's id)."""


def checksum(id15: str) -> str:
    """The 3-character case checksum of a 15-character id."""
    out = []
    for block in range(3):
        bits = 0
        for i, ch in enumerate(id15[block * 5 : block * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_ALPHABET[bits])
    return "".join(out)


def to_18(text: str) -> str:
    """The 18-character form of a 15- or 18-character id; raises `BadSalesforceId`."""
    value = text.strip()
    if not _ID.fullmatch(value):
        raise BadSalesforceId(f"{text!r} is not a Salesforce id (15 or 18 letters and digits)")
    expected = checksum(value[:15])
    if len(value) == 18 and value[15:] != expected:
        raise BadSalesforceId(
            f"{text!r} is a malformed 18-character Salesforce id: its checksum "
            f"{value[15:]!r} does not match the first 15 characters (expected {expected!r})"
        )
    return value[:15] + expected


def salesforce_id(text: str, expected_object: str | None = None) -> str:
    """`to_18`, and when `expected_object` is given, the id must have that object's prefix."""
    value = to_18(text)
    if expected_object is not None:
        found = KEY_PREFIXES.get(value[:3])
        if found is not None and found != expected_object:
            raise BadSalesforceId(
                f"{text!r} is a {found} id, not a {expected_object} id (prefix {value[:3]})"
            )
    return value

"""Standard Webhooks signatures: secrets, signing and verification (https://standardwebhooks.com).

A message is signed as `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
base64-decoded part of a `whsec_<base64>` secret. The `webhook-signature` header may carry
several space-separated signatures (e.g. during a secret rotation); one valid `v1` is enough.
Receivers reject timestamps more than five minutes off and compare in constant time over the
raw body. Pure functions over the standard library; nothing here touches the network.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from smarketing.errors import ValidationFailed

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE = timedelta(minutes=5)
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
_SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def new_message_id() -> str:
    """A unique `webhook-id` (stays the same across the retries of one delivery)."""
    return "msg_" + secrets.token_hex(16)


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret: its base64 part decoded (the `whsec_` prefix is optional)."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ValidationFailed(
            "the secret is not a Standard Webhooks secret",
            hint="pass the whole `whsec_<base64>` value printed by `smarketing webhooks add`",
            reason="malformed-secret",
        )
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one message: `v1,<base64 HMAC-SHA256>`."""
    return f"{SIGNATURE_VERSION},{_b64_digest(secret_key(secret), msg_id, timestamp, body)}"


def signature_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a sender adds to a message."""
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    *,
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Accept a received message or raise `ValidationFailed` saying exactly why not.

    `details["reason"]` is one of `missing-header`, `malformed-header`, `malformed-secret`,
    `timestamp-too-old`, `timestamp-too-new`, `bad-signature`. Checks run in that order, as
    in the reference implementations: headers, timestamp window, then the signatures.
    """
    missing = [
        name
        for name, value in (
            (HEADER_ID, msg_id),
            (HEADER_TIMESTAMP, timestamp),
            (HEADER_SIGNATURE, signature),
        )
        if not value
    ]
    if missing or msg_id is None or timestamp is None or signature is None:
        raise _invalid("missing-header", f"missing header(s): {', '.join(missing)}")
    key = secret_key(secret)
    sent_at = _parse_timestamp(timestamp)
    candidates = _parse_signatures(signature)
    _check_window(sent_at, now, tolerance)
    expected = hmac.digest(key, _signed_content(msg_id, sent_at, body), hashlib.sha256)
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise _invalid(
            "bad-signature",
            f"no valid v1 signature among {len(candidates)} in {HEADER_SIGNATURE}",
            hint="check the secret, and sign the raw body exactly as received (no re-encoding)",
        )


def _signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def _b64_digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.digest(key, _signed_content(msg_id, timestamp, body), hashlib.sha256)
    return base64.b64encode(digest).decode()


def _parse_timestamp(value: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        raise _invalid(
            "malformed-header",
            f"{HEADER_TIMESTAMP} {value!r} is not a whole number of seconds since 1970",
        )
    return int(text)


def _parse_signatures(value: str) -> list[bytes]:
    """The decoded `v1` signatures of a header; entries of other versions are skipped."""
    found: list[bytes] = []
    for entry in value.split():
        version, sep, encoded = entry.partition(",")
        if not sep or not version or not encoded:
            raise _invalid(
                "malformed-header",
                f"{HEADER_SIGNATURE} entry {entry!r} is not `<version>,<base64>`",
            )
        if version != SIGNATURE_VERSION:
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise _invalid(
                "malformed-header", f"{HEADER_SIGNATURE} entry {entry!r} is not valid base64"
            ) from None
    if not found:
        raise _invalid("bad-signature", f"{HEADER_SIGNATURE} holds no v1 signature")
    return found


def _check_window(sent_at: int, now: datetime, tolerance: timedelta) -> None:
    now_s = int(now.astimezone(UTC).timestamp())
    limit = int(tolerance.total_seconds())
    drift = now_s - sent_at
    if drift > limit:
        raise _invalid(
            "timestamp-too-old",
            f"{HEADER_TIMESTAMP} {sent_at} is too old: {drift} s before now, "
            f"more than the {limit} s allowed",
            hint="a replayed or long-delayed message; check the receiver's clock",
        )
    if -drift > limit:
        raise _invalid(
            "timestamp-too-new",
            f"{HEADER_TIMESTAMP} {sent_at} is too new: {-drift} s after now, "
            f"more than the {limit} s allowed",
            hint="check the sender's and the receiver's clocks",
        )


def _invalid(reason: str, message: str, *, hint: str | None = None) -> ValidationFailed:
    return ValidationFailed(f"invalid webhook: {message}", hint=hint, reason=reason)

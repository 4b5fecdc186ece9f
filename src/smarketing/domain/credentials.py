"""Secrets: API keys (`smk_` prefix, stored as SHA-256), write keys, and password hashes.

Pure functions over the standard library; nothing here touches storage.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

API_KEY_PREFIX = "smk_"
WRITE_KEY_PREFIX = "swk_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_write_key() -> str:
    return WRITE_KEY_PREFIX + secrets.token_urlsafe(24)


def key_hash(key: str) -> str:
    """SHA-256 hex of a key: what the store keeps instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    """The first characters of a key, safe to show in lists so people can tell keys apart."""
    return key[:10]


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


@lru_cache(maxsize=1)
def decoy_hash() -> str:
    """A password hash no user has: checking a password against it for an unknown email takes
    as long as for a known one, so the answer's timing does not tell which emails exist."""
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


def sign_token(payload: str, secret: bytes) -> str:
    """`payload.signature` with an HMAC-SHA256 signature (for session cookies)."""
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def verify_token(token: str, secret: bytes) -> str | None:
    """The payload of a token signed by `sign_token`, or None when the signature is wrong."""
    payload, _, mac = token.rpartition(".")
    expected = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    return payload if payload and hmac.compare_digest(mac, expected) else None

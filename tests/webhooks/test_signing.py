"""Standard Webhooks signatures: the published test vector, tampering, clocks, header forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.domain.webhook_signing import (
    new_message_id,
    new_secret,
    secret_key,
    sign,
    signature_headers,
    verify,
)
from smarketing.errors import ValidationFailed

# The vector every Standard Webhooks / Svix reference library tests against.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
AT_SEND = datetime.fromtimestamp(TIMESTAMP, UTC)


def reason_of(**overrides: object) -> str:
    """Verify the reference message with some parts replaced; return the failure reason."""
    args: dict[str, object] = {
        "msg_id": MSG_ID,
        "timestamp": str(TIMESTAMP),
        "signature": SIGNATURE,
        "body": BODY,
        "now": AT_SEND,
    }
    secret = str(overrides.pop("secret", SECRET))
    args.update(overrides)
    with pytest.raises(ValidationFailed) as caught:
        verify(secret, **args)  # type: ignore[arg-type]
    return str(caught.value.details["reason"])


def test_signing_reproduces_the_reference_vector() -> None:
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == SIGNATURE
    assert signature_headers(SECRET, MSG_ID, TIMESTAMP, BODY) == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": SIGNATURE,
    }


def test_the_reference_vector_verifies_with_or_without_the_prefix() -> None:
    for secret in (SECRET, SECRET.removeprefix("whsec_")):
        verify(
            secret,
            msg_id=MSG_ID,
            timestamp=str(TIMESTAMP),
            signature=SIGNATURE,
            body=BODY,
            now=AT_SEND,
        )


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"body": b'{"test": 2432232315}'}, "bad-signature"),
        ({"body": BODY + b"\n"}, "bad-signature"),
        ({"msg_id": "msg_p5jXN8AQM9LWM0D4loKWxJeK"}, "bad-signature"),
        ({"timestamp": str(TIMESTAMP + 1)}, "bad-signature"),
        ({"secret": new_secret()}, "bad-signature"),
        ({"signature": "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, "bad-signature"),
        ({"signature": "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, "malformed-header"),
        ({"signature": "v1,not*base64"}, "malformed-header"),
        ({"timestamp": "1614265330.5"}, "malformed-header"),
        ({"timestamp": "soon"}, "malformed-header"),
        ({"signature": ""}, "missing-header"),
        ({"msg_id": None}, "missing-header"),
        ({"secret": "whsec_***"}, "malformed-secret"),
        ({"now": AT_SEND + timedelta(seconds=301)}, "timestamp-too-old"),
        ({"now": AT_SEND - timedelta(seconds=301)}, "timestamp-too-new"),
    ],
)
def test_each_way_a_message_can_be_wrong_has_its_own_reason(
    overrides: dict[str, object], reason: str
) -> None:
    assert reason_of(**overrides) == reason


def test_messages_say_exactly_what_is_wrong() -> None:
    with pytest.raises(ValidationFailed, match=r"too old: 301 s before now, more than the 300 s"):
        verify(
            SECRET,
            msg_id=MSG_ID,
            timestamp=str(TIMESTAMP),
            signature=SIGNATURE,
            body=BODY,
            now=AT_SEND + timedelta(seconds=301),
        )
    with pytest.raises(ValidationFailed, match=r"missing header\(s\): webhook-id, webhook-sig"):
        verify(SECRET, msg_id="", timestamp=str(TIMESTAMP), signature=None, body=BODY, now=AT_SEND)


def test_five_minutes_either_way_is_still_accepted() -> None:
    for skew in (-300, 300):
        verify(
            SECRET,
            msg_id=MSG_ID,
            timestamp=str(TIMESTAMP),
            signature=SIGNATURE,
            body=BODY,
            now=AT_SEND + timedelta(seconds=skew),
        )


def test_one_valid_signature_among_several_is_enough() -> None:
    rotated = sign(new_secret(), MSG_ID, TIMESTAMP, BODY)
    for header in (
        f"{rotated} {SIGNATURE}",
        f"{SIGNATURE} {rotated}",
        f"v2,abc= v1,bm9wZQ==  {SIGNATURE}",
    ):
        verify(
            SECRET,
            msg_id=MSG_ID,
            timestamp=str(TIMESTAMP),
            signature=header,
            body=BODY,
            now=AT_SEND,
        )
    assert reason_of(signature=f"{rotated} v1,bm9wZQ==") == "bad-signature"


def test_new_secrets_are_whsec_base64_of_32_bytes_and_ids_are_unique() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(secret_key(secret)) == 32
    assert secret != new_secret()
    assert new_message_id().startswith("msg_")
    assert new_message_id() != new_message_id()


@settings(max_examples=40, deadline=None)
@given(body=st.binary(max_size=200), flip=st.integers(min_value=0, max_value=199))
def test_any_body_round_trips_and_any_changed_byte_is_caught(body: bytes, flip: int) -> None:
    secret, msg_id, ts = new_secret(), new_message_id(), 1_800_000_000
    now = datetime.fromtimestamp(ts, UTC)
    header = sign(secret, msg_id, ts, body)
    verify(secret, msg_id=msg_id, timestamp=str(ts), signature=header, body=body, now=now)
    if body:
        i = flip % len(body)
        tampered = body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :]
        with pytest.raises(ValidationFailed):
            verify(
                secret, msg_id=msg_id, timestamp=str(ts), signature=header, body=tampered, now=now
            )

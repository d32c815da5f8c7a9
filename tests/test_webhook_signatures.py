"""The Standard Webhooks signature scheme (``v1`` HMAC-SHA256, ``v1a`` Ed25519)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from ledger.webhook_signatures import (
    MAX_TIMESTAMP,
    SignatureFormatError,
    decode_public_key,
    decode_secret,
    encode_public_key,
    encode_secret,
    new_secret,
    parse_header,
    sign,
    verify,
)

# The vector of the reference library's own test (standard-webhooks/standard-webhooks,
# libraries/python/tests/test_webhooks.py, test_sign_function).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_v1_matches_the_reference_vector() -> None:
    secret = decode_secret(VECTOR_SECRET)
    header = sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, secrets=[secret])
    assert header == VECTOR_SIGNATURE
    assert verify(header, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, secrets=[secret])


def test_v1_is_hmac_sha256_of_id_timestamp_body() -> None:
    secret = new_secret()
    content = b"msg_x.1700000000." + b'{"a":1}'
    expected = base64.b64encode(hmac.new(secret, content, hashlib.sha256).digest()).decode()
    assert sign("msg_x", 1700000000, b'{"a":1}', secrets=[secret]) == f"v1,{expected}"


def test_v1a_is_ed25519_over_the_same_content() -> None:
    key = Ed25519PrivateKey.generate()
    header = sign("msg_x", 1700000000, b"{}", private_keys=[key])
    version, value = header.split(",", 1)
    assert version == "v1a"
    key.public_key().verify(base64.b64decode(value), b"msg_x.1700000000.{}")
    public = decode_public_key(encode_public_key(key.public_key()))
    assert verify(header, "msg_x", 1700000000, b"{}", public_keys=[public])
    assert not verify(header, "msg_x", 1700000001, b"{}", public_keys=[public])
    assert not verify(header, "msg_y", 1700000000, b"{}", public_keys=[public])
    assert not verify(header, "msg_x", 1700000000, b"{ }", public_keys=[public])


def test_several_keys_sign_and_any_one_verifies() -> None:
    old, new = new_secret(), new_secret()
    key = Ed25519PrivateKey.generate()
    header = sign("msg_x", 1, b"{}", secrets=[new, old], private_keys=[key])
    assert [v for v, _ in parse_header(header)] == ["v1", "v1", "v1a"]
    for trusted in (old, new):
        assert verify(header, "msg_x", 1, b"{}", secrets=[trusted])
    assert not verify(header, "msg_x", 1, b"{}", secrets=[new_secret()])
    # Unknown versions are skipped, as the spec asks.
    assert verify("v9,abc " + header, "msg_x", 1, b"{}", secrets=[new])


def test_secrets_round_trip_within_the_specs_bounds() -> None:
    secret = new_secret()
    assert len(secret) == 32 and decode_secret(encode_secret(secret)) == secret
    for bad in ("whsec_" + base64.b64encode(b"x" * 23).decode(), "whsec_not base64!", "whsec_"):
        with pytest.raises(SignatureFormatError):
            decode_secret(bad)
    with pytest.raises(SignatureFormatError):
        decode_public_key("whsec_" + base64.b64encode(bytes(32)).decode())


@pytest.mark.parametrize(
    "header", ["", "v1", "v1,", ",abc", "v1," + "A" * 5000, " ".join(["v1,abc"] * 17), "v1,é"]
)
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(SignatureFormatError):
        verify(header, "msg_x", 1, b"{}", secrets=[new_secret()])


def test_ids_and_timestamps_cannot_shift_the_signed_content() -> None:
    for msg_id in ("msg.x", "", "a" * 65, "msg x"):
        with pytest.raises(SignatureFormatError):
            sign(msg_id, 1, b"{}", secrets=[new_secret()])
    for timestamp in (-1, MAX_TIMESTAMP):
        with pytest.raises(SignatureFormatError):
            sign("msg_x", timestamp, b"{}", secrets=[new_secret()])
        with pytest.raises(SignatureFormatError):
            verify("v1,abc", "msg_x", timestamp, b"{}", secrets=[new_secret()])
    with pytest.raises(SignatureFormatError):
        sign("msg_x", 1, b"{}")  # no key at all


@given(
    msg_id=st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    timestamp=st.integers(min_value=0, max_value=MAX_TIMESTAMP - 1),
    body=st.binary(min_size=1, max_size=512),
    flip=st.integers(min_value=0),
)
def test_any_signed_message_verifies_and_any_flipped_byte_does_not(
    msg_id: str, timestamp: int, body: bytes, flip: int
) -> None:
    secret, key = new_secret(), Ed25519PrivateKey.generate()
    header = sign(msg_id, timestamp, body, secrets=[secret], private_keys=[key])
    public = key.public_key()
    assert verify(header, msg_id, timestamp, body, secrets=[secret])
    assert verify(header, msg_id, timestamp, body, public_keys=[public])
    position = flip % len(body)
    tampered = body[:position] + bytes([body[position] ^ 0x01]) + body[position + 1 :]
    assert not verify(header, msg_id, timestamp, tampered, secrets=[secret], public_keys=[public])

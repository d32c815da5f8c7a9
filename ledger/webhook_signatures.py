"""The Standard Webhooks signature scheme, shared by the sender and the receiver helper.

Standard Webhooks 1.0.0 ("Verifying webhook authenticity"): the signed content is
``{webhook-id}.{webhook-timestamp}.{body}`` (the body's exact bytes), and the
``webhook-signature`` header is a space-separated list of ``version,base64`` entries:

- ``v1``: HMAC-SHA256 under a shared secret of 24-64 random bytes, shown to people
  as ``whsec_`` + base64. The ``standardwebhooks`` package computes it.
- ``v1a``: Ed25519 (``cryptography``); the public key is shown as ``whpk_`` + base64
  of its 32 raw bytes, the private key never leaves the platform.

Several keys sign at once while a rotated-out key is still in its grace period;
a receiver accepts the message when any one entry verifies under a key it trusts.
This module is the one place the scheme is written; :mod:`ledger.alerts` signs
with it and :mod:`ledger.client` verifies with it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets as random_bytes
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from standardwebhooks import Webhook

from ledger.errors import InputError

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the spec's marker, not a secret
PUBLIC_KEY_PREFIX: Final = "whpk_"
#: The spec's bounds for a symmetric secret; new secrets take 32 bytes (256 bits).
MIN_SECRET_BYTES: Final = 24
MAX_SECRET_BYTES: Final = 64
NEW_SECRET_BYTES: Final = 32
#: A signature header is read only this far (a rotation sends 4 entries; never dozens).
MAX_SIGNATURE_HEADER_CHARS: Final = 4096
MAX_SIGNATURES: Final = 16
#: 10000-01-01T00:00:00Z: the first second a ``datetime`` (and so the reference
#: library's ``sign``) cannot hold.
MAX_TIMESTAMP: Final = 253_402_300_800
#: Ids and timestamps go into the signed content, so neither may hold a full stop.
WEBHOOK_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}").fullmatch


class SignatureFormatError(InputError):
    """A key, signature header, id or timestamp is not in the scheme's form."""

    code = "webhook-signature-format"


def new_secret() -> bytes:
    """A fresh HMAC signing secret (32 random bytes)."""
    return random_bytes.token_bytes(NEW_SECRET_BYTES)


def encode_secret(raw: bytes) -> str:
    return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


def decode_secret(text: str) -> bytes:
    """The raw bytes of a ``whsec_`` secret; :class:`SignatureFormatError` otherwise."""
    raw = _b64(text.removeprefix(SECRET_PREFIX), "signing secret")
    if not MIN_SECRET_BYTES <= len(raw) <= MAX_SECRET_BYTES:
        raise SignatureFormatError(
            f"a signing secret holds {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes"
        )
    return raw


def encode_public_key(key: Ed25519PublicKey) -> str:
    return PUBLIC_KEY_PREFIX + base64.b64encode(
        key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).decode("ascii")


def decode_public_key(text: str) -> Ed25519PublicKey:
    """The Ed25519 key of a ``whpk_`` text; :class:`SignatureFormatError` otherwise."""
    if not text.startswith(PUBLIC_KEY_PREFIX):
        raise SignatureFormatError(f"a public key starts with {PUBLIC_KEY_PREFIX!r}")
    raw = _b64(text.removeprefix(PUBLIC_KEY_PREFIX), "public key")
    if len(raw) != 32:
        raise SignatureFormatError("an Ed25519 public key holds 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    """``{id}.{timestamp}.{body}``: what every signature covers."""
    if not WEBHOOK_ID(msg_id):
        raise SignatureFormatError("a webhook id is 1-64 letters, digits, '_' or '-'")
    if not 0 <= timestamp < MAX_TIMESTAMP:
        raise SignatureFormatError("a webhook timestamp is seconds since the epoch")
    return f"{msg_id}.{timestamp}.".encode("ascii") + body


def sign(
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    secrets: Sequence[bytes] = (),
    private_keys: Sequence[Ed25519PrivateKey] = (),
) -> str:
    """The ``webhook-signature`` header: one ``v1`` entry per secret, one ``v1a`` per key."""
    content = signed_content(msg_id, timestamp, body)
    entries = [_v1(secret, msg_id, timestamp, body) for secret in secrets]
    entries += [
        "v1a," + base64.b64encode(key.sign(content)).decode("ascii") for key in private_keys
    ]
    if not entries:
        raise SignatureFormatError("nothing to sign with: no secret and no private key")
    return " ".join(entries)


def verify(
    header: str,
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    secrets: Sequence[bytes] = (),
    public_keys: Sequence[Ed25519PublicKey] = (),
) -> bool:
    """True when an entry of ``header`` verifies under one of the trusted keys.

    Entries of other versions are skipped, as the spec asks; a malformed header
    raises :class:`SignatureFormatError`.
    """
    content = signed_content(msg_id, timestamp, body)
    for version, value in parse_header(header):
        if version == "v1":
            candidate = f"v1,{value}".encode("ascii")
            for secret in secrets:
                expected = _v1(secret, msg_id, timestamp, body).encode("ascii")
                if hmac.compare_digest(expected, candidate):
                    return True
        elif version == "v1a" and public_keys:
            signature = _b64(value, "v1a signature")
            for key in public_keys:
                try:
                    key.verify(signature, content)
                except InvalidSignature:
                    continue
                return True
    return False


def parse_header(header: str) -> list[tuple[str, str]]:
    """``[(version, base64), ...]`` of a ``webhook-signature`` header."""
    if len(header) > MAX_SIGNATURE_HEADER_CHARS:
        raise SignatureFormatError("the signature header is too long")
    entries = header.split()
    if not entries or len(entries) > MAX_SIGNATURES:
        raise SignatureFormatError(f"a signature header holds 1-{MAX_SIGNATURES} signatures")
    parsed = []
    for entry in entries:
        version, comma, value = entry.partition(",")
        if not comma or not version or not value or not value.isascii():
            raise SignatureFormatError("a signature is 'version,base64'")
        parsed.append((version, value))
    return parsed


def _v1(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise SignatureFormatError(f"the {what} is not base64") from None

"""Signing keys at rest: sealed with AES-256-GCM under a key the data dir already keeps.

A webhook's HMAC secret cannot be stored only as a hash, as API keys are: the
platform must sign with it on every delivery. So it is stored encrypted, and so
is the Ed25519 private key. The key that seals them is derived (HKDF-SHA256, its
own ``info`` label) from the ``webhook-seal`` key of the pseudonym keyring
(:class:`~ledger.privacy.Keyring`: ``<data dir>/keys/pseudonym.json`` with mode
0600, or ``LEDGER_PSEUDONYM_KEYS``), so a copy of the database alone (a dump, a
backup, a PostgreSQL replica) holds no usable secret. The institution, generation
and kind of key are bound in as associated data: a sealed value copied to another
row or bank does not open.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.alerts.errors import SealingKeyError
from ledger.privacy import Keyring, PseudonymKey

#: The keyring entry the sealing key is derived from.
SEAL_KEY_NAME: Final = "webhook-seal"
_INFO: Final = b"credit-anchor/webhook-signing-keys/v1"
_NONCE_BYTES: Final = 12  # AES-GCM's standard nonce; random, one per sealed value


class Sealer:
    """Seals and opens signing keys; ``key_id`` names the keyring key it uses."""

    def __init__(self, key: PseudonymKey) -> None:
        self.key_id = key.key_id
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            key.secret
        )
        self._aead = AESGCM(derived)

    def __repr__(self) -> str:
        return f"Sealer(key_id={self.key_id!r})"

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Sealer:
        """The data dir's sealer (its keyring entry is created on first use)."""
        return cls(Keyring.load_or_create(data_dir, [SEAL_KEY_NAME]).key(SEAL_KEY_NAME))

    def seal(self, secret: bytes, *, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret, context.encode("utf-8"))

    def open(self, sealed: bytes, *, context: str, key_id: str) -> bytes:
        """The secret sealed under ``context`` by the key ``key_id``; a typed error otherwise."""
        if key_id != self.key_id:
            raise SealingKeyError(
                f"a signing key was sealed with key {key_id[:64]!r}, "
                f"this data dir has {self.key_id!r}",
                hint=f"restore the keyring entry {SEAL_KEY_NAME!r}, "
                "or rotate the bank's webhook keys",
            )
        try:
            return self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context.encode("utf-8")
            )
        except InvalidTag:
            raise SealingKeyError(
                "a stored signing key does not open: it was altered or moved to another row",
                hint="rotate the bank's webhook keys",
            ) from None


def seal_context(institution: str, generation: int, kind: str) -> str:
    """The associated data of one sealed key: which bank, which generation, which kind."""
    return f"{institution}\x00{generation}\x00{kind}"

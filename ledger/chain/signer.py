"""The chain account: one secp256k1 key that signs every transaction locally.

Nodes never sign for us (no ``eth_sendTransaction``, no unlocked accounts), so the
same code runs on the embedded chain, anvil, geth, Besu or Quorum. The key comes
from ``LEDGER_CHAIN_KEY`` when set, otherwise from ``<data dir>/chain.key``,
created on first use with mode 0600. It is never printed or logged.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import ConfigurationError

if TYPE_CHECKING:  # eth-account loads in the commands that sign
    from eth_account.signers.local import LocalAccount

KEY_FILE = "chain.key"
ENV_KEY = "LEDGER_CHAIN_KEY"
#: Group or other may not read or write a secret; anything looser is refused.
_LOOSE_BITS = stat.S_IRWXG | stat.S_IRWXO


#: secp256k1's group order: a private key is an integer in 1 .. ORDER - 1.
_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _key_bytes(text: str, source: str) -> bytes:
    raw = text.strip().removeprefix("0x")
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise ConfigurationError(f"the chain key in {source} is not hex") from None
    if len(key) != 32:
        raise ConfigurationError(f"the chain key in {source} must be 32 bytes, got {len(key)}")
    if not 0 < int.from_bytes(key, "big") < _ORDER:
        raise ConfigurationError(f"the chain key in {source} is not a valid secp256k1 key")
    return key


def address_of(key: bytes) -> str:
    """The account of a private key (lower-case hex), without loading eth-account:
    the last 20 bytes of keccak-256 of the uncompressed public key."""
    from Crypto.Hash import keccak
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = ec.derive_private_key(int.from_bytes(key, "big"), ec.SECP256K1()).public_key()
    point = public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)[1:]
    return "0x" + keccak.new(digest_bits=256, data=point).hexdigest()[-40:]


def create_key_file(path: Path) -> None:
    """Write a fresh random key to ``path`` with mode 0600 (refuses to overwrite)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("0x" + secrets.token_hex(32) + "\n")


def load_key(data_dir: Path, *, create: bool = True) -> bytes:
    """The signing key: from the environment, else the data dir's key file (made if
    missing and ``create``)."""
    env = os.environ.get(ENV_KEY)
    if env:
        return _key_bytes(env, ENV_KEY)
    path = data_dir / KEY_FILE
    if not path.exists():
        if not create:
            raise ConfigurationError(
                f"no chain key at {path}", hint=f"run `ledger init` or set {ENV_KEY}"
            )
        create_key_file(path)
    mode = path.stat().st_mode
    if mode & _LOOSE_BITS:
        raise ConfigurationError(
            f"{path} is readable by others (mode {stat.S_IMODE(mode):o})",
            hint=f"run `chmod 600 {path}`",
        )
    return _key_bytes(path.read_text(), str(path))


def load_account(data_dir: Path, *, create: bool = True) -> LocalAccount:
    """The signing account: from the environment, else the data dir's key file."""
    from eth_account import Account

    account: LocalAccount = Account.from_key(load_key(data_dir, create=create))
    return account

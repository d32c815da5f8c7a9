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

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.errors import ConfigurationError

KEY_FILE = "chain.key"
ENV_KEY = "LEDGER_CHAIN_KEY"
#: Group or other may not read or write a secret; anything looser is refused.
_LOOSE_BITS = stat.S_IRWXG | stat.S_IRWXO


def _parse_key(text: str, source: str) -> LocalAccount:
    raw = text.strip().removeprefix("0x")
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise ConfigurationError(f"the chain key in {source} is not hex") from None
    if len(key) != 32:
        raise ConfigurationError(f"the chain key in {source} must be 32 bytes, got {len(key)}")
    try:
        account: LocalAccount = Account.from_key(key)
    except Exception:  # eth-keys rejects 0 and keys >= the curve order
        raise ConfigurationError(
            f"the chain key in {source} is not a valid secp256k1 key"
        ) from None
    return account


def create_key_file(path: Path) -> None:
    """Write a fresh random key to ``path`` with mode 0600 (refuses to overwrite)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("0x" + secrets.token_hex(32) + "\n")


def load_account(data_dir: Path, *, create: bool = True) -> LocalAccount:
    """The signing account: from the environment, else the data dir's key file."""
    env = os.environ.get(ENV_KEY)
    if env:
        return _parse_key(env, ENV_KEY)
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
    return _parse_key(path.read_text(), str(path))

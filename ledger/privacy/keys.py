"""Pseudonym keys: 32 random bytes per key name, each with a key id, kept off the repository.

Stored at ``<data dir>/keys/pseudonym.json`` (file mode 0600, directory 0700)
and created on first use. Deployments may pass the keys in the environment
instead: ``LEDGER_PSEUDONYM_KEYS`` holds the same JSON object as the file's
``keys`` member, ``{"subject": {"id": "subject-1", "secret": "<64 hex>"}, ...}``;
when it is set the file is neither read nor written. A policy may name any key
(e.g. one per partner bank); a missing key is created in the file, never
silently in the environment.

Key material is never printed, logged or put in an error: ``repr`` shows ids only.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ledger.privacy.errors import KeyringError
from ledger.privacy.policy import KEY_NAME

KEYS_ENV: Final = "LEDGER_PSEUDONYM_KEYS"
KEY_FILE: Final = Path("keys") / "pseudonym.json"
FILE_FORMAT: Final = "credit-anchor/pseudonym-keys/v1"
KEY_BYTES: Final = 32  # HMAC-SHA256 block-size-safe, 256-bit secret (NIST SP 800-107)
DEFAULT_KEY_NAMES: Final = ("subject", "account")
_UNSAFE_MODE: Final = stat.S_IRWXG | stat.S_IRWXO  # any group or other permission


@dataclass(frozen=True)
class PseudonymKey:
    """One named secret and its public id (the id goes into records and manifests)."""

    name: str
    key_id: str
    secret: bytes = field(repr=False)


class Keyring:
    """The pseudonym keys available to this process, by key name."""

    def __init__(self, keys: Mapping[str, PseudonymKey], *, source: str) -> None:
        self._keys = dict(keys)
        self.source = source

    def __repr__(self) -> str:
        return f"Keyring({self.key_ids!r}, source={self.source!r})"

    @property
    def key_ids(self) -> dict[str, str]:
        """Key name -> key id, for manifests. Never the secrets."""
        return {name: key.key_id for name, key in sorted(self._keys.items())}

    def key(self, name: str) -> PseudonymKey:
        """The key called ``name``, or :class:`KeyringError`."""
        try:
            return self._keys[name]
        except KeyError:
            raise KeyringError(
                f"no pseudonym key named {name!r} in {self.source}",
                hint=f"Add it to {KEYS_ENV}, or unset it to use the data dir's key file.",
            ) from None

    @classmethod
    def load_or_create(cls, data_dir: Path, names: Iterable[str] = DEFAULT_KEY_NAMES) -> Keyring:
        """The environment's keys if ``LEDGER_PSEUDONYM_KEYS`` is set, else the data dir's file.

        Keys in ``names`` missing from the file are generated and saved.
        """
        wanted = sorted(set(names))
        for name in wanted:
            if not KEY_NAME(name):
                raise KeyringError(f"invalid key name {name!r}: use a-z, 0-9, '_' or '-'")
        if env := os.environ.get(KEYS_ENV):
            ring = cls(_parse_keys(_json(env, KEYS_ENV), KEYS_ENV), source=KEYS_ENV)
            for name in wanted:
                ring.key(name)
            return ring
        return _from_file(data_dir / KEY_FILE, wanted)


def _json(text: str, source: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # exc.msg and the position only; the document (secrets) is never quoted.
        raise KeyringError(f"{source} is not valid JSON ({exc.msg} at {exc.pos})") from None


def _parse_keys(data: object, source: str) -> dict[str, PseudonymKey]:
    if not isinstance(data, dict):
        raise KeyringError(f"{source} must be a JSON object of key name -> {{id, secret}}")
    keys = {}
    for name, entry in data.items():
        if not KEY_NAME(name):  # not quoted: a misplaced secret must not reach a log
            raise KeyringError(f"{source}: a key name is invalid (use a-z, 0-9, '_' or '-')")
        if not isinstance(entry, dict):
            raise KeyringError(f"{source}: key {name!r} must be an object {{id, secret}}")
        key_id, secret = entry.get("id"), entry.get("secret")
        if not isinstance(key_id, str) or not key_id or not isinstance(secret, str):
            raise KeyringError(f"{source}: key {name!r} needs a string id and secret")
        try:
            raw = bytes.fromhex(secret)
        except ValueError:
            raise KeyringError(f"{source}: secret of key {name!r} is not hex") from None
        if len(raw) < KEY_BYTES:
            raise KeyringError(f"{source}: key {name!r} is shorter than {KEY_BYTES} bytes")
        keys[name] = PseudonymKey(name, key_id, raw)
    return keys


def _from_file(path: Path, wanted: list[str]) -> Keyring:
    existed = path.exists()
    keys = _read_file(path) if existed else {}
    if missing := [name for name in wanted if name not in keys]:
        for name in missing:
            keys[name] = PseudonymKey(name, f"{name}-1", secrets.token_bytes(KEY_BYTES))
        try:
            written = _write_file(path, keys, replace=existed)
        except OSError as exc:
            raise KeyringError(f"cannot write {path}: {exc.strerror}") from None
        if not written:
            return _from_file(path, wanted)  # another process created it first: use its keys
    return Keyring(keys, source=str(path))


def _read_file(path: Path) -> dict[str, PseudonymKey]:
    mode = path.stat().st_mode
    if mode & _UNSAFE_MODE:
        raise KeyringError(
            f"{path} is accessible to group or others (mode {stat.S_IMODE(mode):o})",
            hint=f"Run: chmod 600 {path}",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyringError(f"cannot read {path}: {exc}") from None
    data = _json(text, str(path))
    if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
        raise KeyringError(f"{path} is not a {FILE_FORMAT} file")
    return _parse_keys(data.get("keys"), str(path))


def _write_file(path: Path, keys: Mapping[str, PseudonymKey], *, replace: bool) -> bool:
    """Write atomically with mode 0600; False when a file appeared meanwhile (not replaced)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    body = {
        "format": FILE_FORMAT,
        "updated_at": now,
        "keys": {k.name: {"id": k.key_id, "secret": k.secret.hex()} for k in keys.values()},
    }
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # unlike rename, fails if the file exists
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True

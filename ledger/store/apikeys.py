"""API keys: random, shown once, stored only as SHA-256 hashes, each with one role.

A key is ``ca_`` + 43 url-safe characters of :func:`secrets.token_urlsafe` (256 bits).
Only its SHA-256 is stored. A fast, unsalted hash is right here, unlike for
passwords: with 256 random bits there is nothing to enumerate, so a slow KDF
would only slow every request down. A presented key is hashed, looked up by
that hash and the stored hash is compared with :func:`hmac.compare_digest`.

Roles: ``operator`` (submits), ``partner`` (a bank, bound to one institution
code), ``auditor`` (reads everything). Revoked keys stay listed, never answer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import Integer, String, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ledger.errors import ConflictError, InputError, NotFoundError
from ledger.store.db import Store
from ledger.store.models import Base

KEY_PREFIX: Final = "ca_"
KEY_BYTES: Final = 32  # 256 bits of randomness per key
#: Longer presented keys are refused before hashing (a key is 46 characters).
MAX_KEY_CHARS: Final = 200
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_INSTITUTION: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


class Role(StrEnum):
    OPERATOR = "operator"
    PARTNER = "partner"
    AUDITOR = "auditor"


class ApiKey(Base):
    """One API key's hash, owner name, role and (for a partner) institution."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    institution: Mapped[str | None] = mapped_column(String(32))
    #: ``sha256(key)`` in hex; the key itself is never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32))


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key: never the key, never its hash."""

    name: str
    role: Role
    institution: str | None
    created_at: str
    revoked_at: str | None

    def to_json(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "role": str(self.role),
            "institution": self.institution,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.name, Role(row.role), row.institution, row.created_at, row.revoked_at)


def _check_new(name: str, role: str, institution: str | None) -> Role:
    if not _NAME.fullmatch(name):
        raise InputError("key name must be 1-64 letters, digits, '.', '_' or '-'")
    try:
        parsed = Role(role)
    except ValueError:
        raise InputError(
            f"unknown role {role[:20]!r}", hint="roles: operator, partner, auditor"
        ) from None
    if parsed is Role.PARTNER and institution is None:
        raise InputError("a partner key needs --institution CODE")
    if parsed is not Role.PARTNER and institution is not None:
        raise InputError("only a partner key is bound to an institution")
    if institution is not None:
        check_institution(institution)
    return parsed


def check_institution(code: str) -> str:
    """``code`` when it is a valid institution code; :class:`InputError` otherwise."""
    if not _INSTITUTION.fullmatch(code):
        raise InputError("institution code must be 1-32 letters, digits, '.', '_' or '-'")
    return code


def create_key(
    store: Store, name: str, role: str, *, institution: str | None = None
) -> tuple[KeyInfo, str]:
    """A new key for ``name``: its info and the key itself, which is never shown again."""
    parsed = _check_new(name, role, institution)
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    row = ApiKey(
        name=name,
        role=str(parsed),
        institution=institution,
        key_hash=hash_key(key),
        created_at=_now(),
        revoked_at=None,
    )
    try:
        with store.session() as s, s.begin():
            s.add(row)
    except SqlIntegrityError:
        raise ConflictError(f"a key named {name!r} exists already") from None
    return _info(row), key


def list_keys(store: Store) -> list[KeyInfo]:
    with store.session() as s:
        return [_info(row) for row in s.scalars(select(ApiKey).order_by(ApiKey.name))]


def revoke_key(store: Store, name: str) -> KeyInfo:
    """Revoke the key named ``name`` (revoking twice keeps the first time)."""
    with store.session() as s, s.begin():
        row = s.scalar(select(ApiKey).where(ApiKey.name == name))
        if row is None:
            raise NotFoundError(f"no key named {name[:64]!r}")
        if row.revoked_at is None:
            row.revoked_at = _now()
    return _info(row)


def presented_hash(key: str) -> str | None:
    """The SHA-256 (hex) of a presented key, or None when it cannot be one of ours."""
    if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_CHARS:
        return None
    return hash_key(key)


def authenticate_hash(store: Store, presented: str) -> KeyInfo | None:
    """The live key whose hash is ``presented`` (from :func:`presented_hash`), or None."""
    with store.session() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.key_hash == presented))
    # The lookup is by hash, so its timing reveals nothing about the key; the
    # final comparison is constant-time all the same.
    if row is None or not hmac.compare_digest(row.key_hash, presented):
        return None
    if row.revoked_at is not None:
        return None
    return _info(row)


def authenticate(store: Store, key: str) -> KeyInfo | None:
    """The live key matching ``key``, or None (unknown, malformed or revoked)."""
    presented = presented_hash(key)
    return None if presented is None else authenticate_hash(store, presented)

"""Each bank's webhook endpoint and its signing keys: set, rotate, look up.

A bank (an institution with a live partner API key) has at most one endpoint.
Setting it the first time issues generation 1 of its keys: an HMAC secret
(``whsec_``) and an Ed25519 key pair (``whpk_`` public key). They are shown once,
as API keys are, and stored sealed (:mod:`ledger.alerts.sealing`). Rotating issues
the next generation; the previous one keeps signing for a grace period, so during
it every delivery carries both signatures (the spec's zero-downtime rotation).

Setting the URL again re-enables a disabled endpoint (a 410 disables it) and
puts its disabled deliveries back in the queue: nothing is lost by a bank that
went away for a while.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import Row, func, select, update
from sqlalchemy.orm import Session

from ledger.alerts.destinations import Allowlist, check_url
from ledger.alerts.errors import NoEndpointError
from ledger.alerts.outbox import iso, to_ms, utc_now
from ledger.alerts.sealing import Sealer, seal_context
from ledger.errors import NotFoundError
from ledger.store import Store
from ledger.store.alerts import AlertDelivery, WebhookEndpoint, WebhookKey
from ledger.store.apikeys import ApiKey, Role, check_institution
from ledger.webhook_signatures import encode_public_key, encode_secret, new_secret


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """What may be shown about an endpoint: never a secret."""

    institution: str
    url: str
    status: str
    disabled_at: str | None
    disabled_reason: str | None
    #: ``whpk_`` keys that sign now, newest first.
    public_keys: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "institution": self.institution,
            "url": self.url,
            "status": self.status,
            "disabled_at": self.disabled_at,
            "disabled_reason": self.disabled_reason,
            "public_keys": list(self.public_keys),
        }


@dataclass(frozen=True, slots=True)
class IssuedKeys:
    """A new generation of keys, shown once: the ``whsec_`` secret and ``whpk_`` key."""

    generation: int
    secret: str = field(repr=False)
    public_key: str

    def to_json(self) -> dict[str, Any]:
        return {"generation": self.generation, "secret": self.secret, "public_key": self.public_key}


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """The keys that sign a delivery now, newest generation first."""

    secrets: tuple[bytes, ...] = field(repr=False)
    private_keys: tuple[Ed25519PrivateKey, ...] = field(repr=False)


def set_endpoint(
    store: Store,
    sealer: Sealer,
    institution: str,
    url: str,
    *,
    allow: Allowlist,
    now: datetime | None = None,
) -> tuple[EndpointInfo, IssuedKeys | None]:
    """Set the bank's webhook URL; new keys (shown once) only when it had none."""
    check_institution(institution)
    check_url(url, allow)
    moment = utc_now(now)
    with store.session() as s, s.begin():
        _require_partner(s, institution)
        row = s.get(WebhookEndpoint, institution)
        issued = None
        if row is None:
            row = WebhookEndpoint(
                institution=institution, url=url, status="active",
                created_at=iso(moment), updated_at=iso(moment),
            )  # fmt: skip
            s.add(row)
            s.flush()
            issued = _issue(s, sealer, institution, 1, moment)
        else:
            row.url, row.status, row.updated_at = url, "active", iso(moment)
            row.disabled_at = row.disabled_reason = None
            s.execute(
                update(AlertDelivery)
                .where(AlertDelivery.institution == institution, AlertDelivery.state == "disabled")
                .values(state="pending", attempts=0, due_ms=to_ms(moment), lease_owner=None)
            )
        return _info(s, row, to_ms(moment)), issued


def rotate_keys(
    store: Store,
    sealer: Sealer,
    institution: str,
    *,
    grace_seconds: float,
    now: datetime | None = None,
) -> tuple[EndpointInfo, IssuedKeys]:
    """Issue the next generation of keys; the signing ones retire after ``grace_seconds``."""
    moment = utc_now(now)
    now_ms = to_ms(moment)
    with store.session() as s, s.begin():
        row = _endpoint(s, institution)
        s.execute(
            update(WebhookKey)
            .where(WebhookKey.institution == institution, WebhookKey.retires_at_ms.is_(None))
            .values(retires_at_ms=now_ms + round(grace_seconds * 1000))
        )
        last = s.scalar(
            select(func.max(WebhookKey.generation)).where(WebhookKey.institution == institution)
        )
        issued = _issue(s, sealer, institution, (last or 0) + 1, moment)
        return _info(s, row, now_ms), issued


def endpoint_info(store: Store, institution: str, *, now: datetime | None = None) -> EndpointInfo:
    with store.session() as s:
        return _info(s, _endpoint(s, institution), to_ms(utc_now(now)))


def signing_keys(
    session: Session,
    sealer: Sealer,
    institution: str,
    *,
    now_ms: int,
    opened: dict[int, tuple[bytes, Ed25519PrivateKey]] | None = None,
) -> SigningKeys:
    """The institution's keys that sign at ``now_ms``; ``opened`` caches unsealed rows by id."""
    cache = {} if opened is None else opened
    secrets, private_keys = [], []
    for row in _live_keys(session, institution, now_ms):
        if row.id not in cache:
            raw = sealer.open(
                row.hmac_sealed,
                context=seal_context(institution, row.generation, "hmac"),
                key_id=row.seal_key_id,
            )
            seed = sealer.open(
                row.ed25519_sealed,
                context=seal_context(institution, row.generation, "ed25519"),
                key_id=row.seal_key_id,
            )
            cache[row.id] = (raw, Ed25519PrivateKey.from_private_bytes(seed))
        secret, private = cache[row.id]
        secrets.append(secret)
        private_keys.append(private)
    return SigningKeys(tuple(secrets), tuple(private_keys))


def disable_endpoint(session: Session, institution: str, reason: str, now: datetime) -> None:
    """Stop sending to the bank (it answered 410): its pending deliveries turn disabled."""
    session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.institution == institution, WebhookEndpoint.status == "active")
        .values(status="disabled", disabled_at=iso(now), disabled_reason=reason[:200])
    )
    session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.institution == institution, AlertDelivery.state == "pending")
        .values(state="disabled", lease_owner=None, due_ms=None)
    )


def _issue(
    session: Session, sealer: Sealer, institution: str, generation: int, moment: datetime
) -> IssuedKeys:
    secret = new_secret()
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = encode_public_key(private.public_key())
    session.add(
        WebhookKey(
            institution=institution,
            generation=generation,
            seal_key_id=sealer.key_id,
            hmac_sealed=sealer.seal(secret, context=seal_context(institution, generation, "hmac")),
            ed25519_sealed=sealer.seal(
                seed, context=seal_context(institution, generation, "ed25519")
            ),
            public_key=public,
            created_at=iso(moment),
            retires_at_ms=None,
        )
    )
    return IssuedKeys(generation, encode_secret(secret), public)


def _live_keys(session: Session, institution: str, now_ms: int) -> Sequence[Row[Any]]:
    """The key rows that sign at ``now_ms``, newest first (a Core query: the dispatcher
    asks at every round)."""
    k = WebhookKey
    return (
        session.connection()
        .execute(
            select(k.id, k.generation, k.seal_key_id, k.hmac_sealed, k.ed25519_sealed)
            .add_columns(k.public_key)
            .where(
                k.institution == institution,
                k.retires_at_ms.is_(None) | (k.retires_at_ms > now_ms),
            )
            .order_by(k.generation.desc())
        )
        .all()
    )


def _info(session: Session, row: WebhookEndpoint, now_ms: int) -> EndpointInfo:
    session.flush()
    keys = tuple(k.public_key for k in _live_keys(session, row.institution, now_ms))
    return EndpointInfo(
        row.institution, row.url, row.status, row.disabled_at, row.disabled_reason, keys
    )


def _endpoint(session: Session, institution: str) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, institution)
    if row is None:
        raise NoEndpointError(
            f"institution {institution[:32]!r} has no webhook endpoint",
            hint="set one: ledger partner webhook set INSTITUTION URL",
        )
    return row


def _require_partner(session: Session, institution: str) -> None:
    live = session.scalar(
        select(ApiKey.id).where(
            ApiKey.role == str(Role.PARTNER),
            ApiKey.institution == institution,
            ApiKey.revoked_at.is_(None),
        )
    )
    if live is None:
        raise NotFoundError(
            f"no partner key for institution {institution!r}",
            hint="add one first: ledger partner add NAME --role partner "
            f"--institution {institution}",
        )

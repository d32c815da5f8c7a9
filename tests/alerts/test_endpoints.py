"""Endpoints and their signing keys: issued once, sealed at rest, rotated with a grace period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from ledger.alerts.destinations import Allowlist
from ledger.alerts.endpoints import endpoint_info, rotate_keys, set_endpoint, signing_keys
from ledger.alerts.errors import EndpointRefusedError, NoEndpointError, SealingKeyError
from ledger.alerts.outbox import to_ms
from ledger.alerts.sealing import Sealer
from ledger.errors import InputError, NotFoundError
from ledger.privacy import PseudonymKey
from ledger.store.alerts import WebhookKey
from ledger.webhook_signatures import decode_public_key, decode_secret, sign, verify
from tests.alerts.conftest import AlertEnv

ALLOW = Allowlist.parse(["127.0.0.1"])
T0 = datetime(2026, 11, 26, 4, 0, 0, tzinfo=UTC)


def test_set_needs_a_partner_and_an_admitted_url(env: AlertEnv) -> None:
    with pytest.raises(NotFoundError, match="no partner key"):
        set_endpoint(env.store, env.sealer, "NOBODY", "https://bank.example/h", allow=ALLOW)
    env.add_partner("BANK1")
    with pytest.raises(EndpointRefusedError):
        set_endpoint(env.store, env.sealer, "BANK1", "http://bank.example/h", allow=ALLOW)
    with pytest.raises(InputError):
        set_endpoint(env.store, env.sealer, "bad code!", "https://bank.example/h", allow=ALLOW)
    with pytest.raises(NoEndpointError):
        endpoint_info(env.store, "BANK1")


def test_keys_are_issued_once_and_sign_what_the_bank_verifies(env: AlertEnv) -> None:
    env.add_partner("BANK1")
    info, issued = set_endpoint(env.store, env.sealer, "BANK1", "https://b.example/h", allow=ALLOW)
    assert issued is not None and issued.generation == 1
    assert info.public_keys == (issued.public_key,) and info.status == "active"
    assert issued.secret not in repr(issued)
    again, none = set_endpoint(env.store, env.sealer, "BANK1", "https://b.example/2", allow=ALLOW)
    assert none is None and again.url == "https://b.example/2"

    with env.store.session() as s:
        keys = signing_keys(s, env.sealer, "BANK1", now_ms=to_ms(datetime.now(UTC)))
    header = sign("msg_1", 1700000000, b"{}", secrets=keys.secrets, private_keys=keys.private_keys)
    secret, public = decode_secret(issued.secret), decode_public_key(issued.public_key)
    assert verify(header, "msg_1", 1700000000, b"{}", secrets=[secret])
    assert verify(header, "msg_1", 1700000000, b"{}", public_keys=[public])


def test_rotation_signs_with_both_generations_until_the_grace_ends(env: AlertEnv) -> None:
    env.add_partner("BANK1")
    _, old = set_endpoint(
        env.store, env.sealer, "BANK1", "https://b.example/h", allow=ALLOW, now=T0
    )
    info, new = rotate_keys(env.store, env.sealer, "BANK1", grace_seconds=3600, now=T0)
    assert old is not None and new.generation == 2
    assert info.public_keys == (new.public_key, old.public_key)

    def secrets_at(moment: datetime) -> tuple[bytes, ...]:
        with env.store.session() as s:
            return signing_keys(s, env.sealer, "BANK1", now_ms=to_ms(moment)).secrets

    both = (decode_secret(new.secret), decode_secret(old.secret))
    assert secrets_at(T0 + timedelta(minutes=59)) == both
    assert secrets_at(T0 + timedelta(minutes=61)) == both[:1]
    with pytest.raises(NoEndpointError):
        rotate_keys(env.store, env.sealer, "NOBODY", grace_seconds=0)


def test_the_database_holds_no_usable_secret(
    env: AlertEnv, store_bytes: Callable[[str], bytes]
) -> None:
    env.add_partner("BANK1")
    _, issued = set_endpoint(env.store, env.sealer, "BANK1", "https://b.example/h", allow=ALLOW)
    assert issued is not None
    raw = decode_secret(issued.secret)
    base64_text = issued.secret.removeprefix("whsec_").encode()
    env.store.close()  # SQLite: flush the WAL into the file
    assert env.settings.db_url is not None
    files = store_bytes(env.settings.db_url)
    assert raw not in files and base64_text not in files
    assert issued.public_key.encode() in files  # the public key is stored as shown


def test_a_sealed_key_opens_only_in_its_own_row_and_with_its_own_key(env: AlertEnv) -> None:
    env.add_partner("A")
    env.add_partner("B")
    for inst in ("A", "B"):
        set_endpoint(env.store, env.sealer, inst, f"https://{inst.lower()}.example/", allow=ALLOW)
    now_ms = to_ms(datetime.now(UTC))
    with env.store.session() as s, s.begin():
        a_sealed = s.scalar(select(WebhookKey.hmac_sealed).where(WebhookKey.institution == "A"))
        s.execute(
            update(WebhookKey).where(WebhookKey.institution == "B").values(hmac_sealed=a_sealed)
        )
    with env.store.session() as s, pytest.raises(SealingKeyError, match="altered or moved"):
        signing_keys(s, env.sealer, "B", now_ms=now_ms)
    other = Sealer(PseudonymKey("webhook-seal", "webhook-seal-9", bytes(32)))
    with env.store.session() as s, pytest.raises(SealingKeyError, match="sealed with key"):
        signing_keys(s, other, "A", now_ms=now_ms)


def test_the_sealing_key_lives_in_the_keyring_file(env: AlertEnv, data_dir: Path) -> None:
    assert Sealer.for_data_dir(data_dir).key_id == env.sealer.key_id
    keyfile = data_dir / "keys" / "pseudonym.json"
    assert keyfile.stat().st_mode & 0o077 == 0
    assert '"webhook-seal"' in keyfile.read_text()

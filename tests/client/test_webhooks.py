"""The bank's receiver helper refuses tampered, foreign-signed, stale and replayed deliveries."""

from __future__ import annotations

import threading
from collections.abc import Callable
from email.message import Message

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.client import (
    MalformedWebhookError,
    ReceiverBusyError,
    ReplayedWebhookError,
    SignatureMismatchError,
    StaleWebhookError,
    WebhookError,
    WebhookReceiver,
)
from ledger.errors import ConflictError, InputError, IntegrityError
from ledger.webhook_signatures import encode_public_key, encode_secret, new_secret, sign

NOW = 1_800_000_000
BODY = b'{"data":{"days_past_due":31,"loan_ref":"r-1"},"timestamp":"2027-01-15T08:00:00Z","type":"overdue.entered"}'  # noqa: E501


class Platform:
    """Signs deliveries as the dispatcher does: one HMAC secret, one Ed25519 key."""

    def __init__(self) -> None:
        self.secret = new_secret()
        self.key = Ed25519PrivateKey.generate()

    @property
    def whsec(self) -> str:
        return encode_secret(self.secret)

    @property
    def whpk(self) -> str:
        return encode_public_key(self.key.public_key())

    def headers(self, msg_id: str = "msg_1", at: int = NOW, body: bytes = BODY) -> dict[str, str]:
        signature = sign(msg_id, at, body, secrets=[self.secret], private_keys=[self.key])
        return {"Webhook-Id": msg_id, "Webhook-Timestamp": str(at), "Webhook-Signature": signature}


def clock(at: float = NOW) -> Callable[[], float]:
    return lambda: at


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.mark.parametrize("trust", ["secret", "public_key"])
def test_a_genuine_delivery_passes_once(platform: Platform, trust: str) -> None:
    key = platform.whsec if trust == "secret" else platform.whpk
    receiver = WebhookReceiver(**{trust: key}, clock=clock())  # type: ignore[arg-type]
    envelope = receiver.verify(platform.headers(), BODY)
    assert envelope["type"] == "overdue.entered" and envelope["data"]["days_past_due"] == 31
    with pytest.raises(ReplayedWebhookError) as caught:  # the same delivery again
        receiver.verify(platform.headers(), BODY)
    assert isinstance(caught.value, ConflictError)
    with pytest.raises(ReplayedWebhookError):  # or a resend with a new timestamp
        receiver.verify(platform.headers(at=NOW + 5), BODY)


def test_a_tampered_body_is_refused(platform: Platform) -> None:
    receiver = WebhookReceiver(secret=platform.whsec, public_key=platform.whpk, clock=clock())
    tampered = BODY.replace(b'"days_past_due":31', b'"days_past_due":1')
    with pytest.raises(SignatureMismatchError) as caught:
        receiver.verify(platform.headers(), tampered)
    assert isinstance(caught.value, IntegrityError)
    headers = platform.headers()
    headers["Webhook-Timestamp"] = str(NOW + 1)  # the signed timestamp, shifted
    with pytest.raises(SignatureMismatchError):
        receiver.verify(headers, BODY)
    receiver.verify(platform.headers(), BODY)  # a refusal does not burn the id


def test_a_delivery_signed_with_another_key_is_refused(platform: Platform) -> None:
    impostor = Platform()
    for receiver in (
        WebhookReceiver(secret=platform.whsec, clock=clock()),
        WebhookReceiver(public_key=platform.whpk, clock=clock()),
    ):
        with pytest.raises(SignatureMismatchError):
            receiver.verify(impostor.headers(), BODY)


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_a_stale_or_future_delivery_is_refused(platform: Platform, offset: int) -> None:
    receiver = WebhookReceiver(secret=platform.whsec, clock=clock())
    with pytest.raises(StaleWebhookError):
        receiver.verify(platform.headers(at=NOW + offset), BODY)
    receiver.verify(platform.headers(at=NOW + (299 if offset > 0 else -299)), BODY)


def test_a_timestamp_beyond_any_date_is_stale_not_a_crash(platform: Platform) -> None:
    receiver = WebhookReceiver(secret=platform.whsec, clock=clock())
    headers = platform.headers()
    headers["Webhook-Timestamp"] = "999999999999"  # the year 33658
    with pytest.raises(StaleWebhookError):
        receiver.verify(headers, BODY)


def test_the_tolerance_is_the_callers() -> None:
    platform = Platform()
    receiver = WebhookReceiver(secret=platform.whsec, tolerance=30, clock=clock())
    with pytest.raises(StaleWebhookError):
        receiver.verify(platform.headers(at=NOW - 31), BODY)
    with pytest.raises(InputError):
        WebhookReceiver(secret=platform.whsec, tolerance=0)
    with pytest.raises(InputError):
        WebhookReceiver()


def test_forget_lets_the_senders_retry_through(platform: Platform) -> None:
    receiver = WebhookReceiver(secret=platform.whsec, clock=clock())
    receiver.verify(platform.headers(), BODY)
    receiver.forget("msg_1")  # processing failed; the bank answered 500
    receiver.verify(platform.headers(at=NOW + 5), BODY)


def test_ids_are_remembered_only_while_they_could_pass_and_memory_is_bounded() -> None:
    platform = Platform()
    now = [float(NOW)]
    receiver = WebhookReceiver(secret=platform.whsec, max_remembered=2, clock=lambda: now[0])
    receiver.verify(platform.headers("msg_a"), BODY)
    receiver.verify(platform.headers("msg_b"), BODY)
    with pytest.raises(ReceiverBusyError):  # full of live ids: refuse, never forget one
        receiver.verify(platform.headers("msg_c"), BODY)
    now[0] += 301  # msg_a and msg_b can no longer pass the timestamp check: forgotten
    receiver.verify(platform.headers("msg_c", at=int(now[0])), BODY)
    with pytest.raises(StaleWebhookError):  # and their replays fail on time instead
        receiver.verify(platform.headers("msg_a"), BODY)


@pytest.mark.parametrize(
    "change",
    [
        {"Webhook-Id": None},
        {"Webhook-Timestamp": None},
        {"Webhook-Signature": None},
        {"Webhook-Id": "msg.1"},
        {"Webhook-Timestamp": "1.8e9"},
        {"Webhook-Timestamp": "-5"},
        {"Webhook-Signature": "v1"},
    ],
)
def test_malformed_headers_are_refused(platform: Platform, change: dict[str, str | None]) -> None:
    headers: dict[str, str] = platform.headers()
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    receiver = WebhookReceiver(secret=platform.whsec, clock=clock())
    with pytest.raises(MalformedWebhookError):
        receiver.verify(headers, BODY)


def test_repeated_headers_and_non_envelopes_are_refused(platform: Platform) -> None:
    receiver = WebhookReceiver(secret=platform.whsec, clock=clock())
    message = Message()
    for name, value in platform.headers().items():
        message[name] = value
    message["webhook-id"] = "msg_2"  # an http.client-style message with two ids
    with pytest.raises(MalformedWebhookError, match="repeated"):
        receiver.verify(message, BODY)
    for body in (b"[1, 2]", b'{"type": "x"}', b"\xff\xfe", b"[" * 100 + b"]" * 100):
        with pytest.raises(MalformedWebhookError):
            receiver.verify(platform.headers(msg_id="msg_body", body=body), body)
    with pytest.raises(MalformedWebhookError):
        receiver.verify(platform.headers(), BODY.decode())  # type: ignore[arg-type]


def test_concurrent_replays_pass_once(platform: Platform) -> None:
    receiver = WebhookReceiver(secret=platform.whsec, clock=clock())
    outcomes: list[str] = []
    lock = threading.Lock()

    def deliver() -> None:
        try:
            receiver.verify(platform.headers(), BODY)
            verdict = "ok"
        except WebhookError as exc:
            verdict = type(exc).__name__
        with lock:
            outcomes.append(verdict)

    threads = [threading.Thread(target=deliver) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ReplayedWebhookError"] * 15 + ["ok"]

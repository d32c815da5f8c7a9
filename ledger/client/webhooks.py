"""Receiving risk alerts: :class:`WebhookReceiver` checks a delivery before a bank trusts it.

    receiver = WebhookReceiver(secret="whsec_...")      # or public_key="whpk_..."
    try:
        alert = receiver.verify(request.headers, request.body)   # the exact body bytes
    except ReplayedWebhookError:
        return 200          # seen already: acknowledge, do not process again
    except WebhookError:
        return 400          # not from the platform, altered, or too old
    try:
        process(alert)      # {"type": ..., "timestamp": ..., "data": {...}}
    except Exception:
        receiver.forget(headers["webhook-id"])   # let the sender's retry through
        return 500
    return 204

A delivery passes when its ``webhook-signature`` holds a signature by a trusted
key over ``{webhook-id}.{webhook-timestamp}.{body}`` (Standard Webhooks, ``v1``
HMAC or ``v1a`` Ed25519: :mod:`ledger.webhook_signatures`), its timestamp is
within ``tolerance`` seconds of now (default 5 minutes, either way), and its
``webhook-id`` was not accepted before within that window. Ids are remembered
only as long as their signed timestamp could still pass, and at most
``max_remembered`` of them; past that the receiver refuses instead of forgetting
(:class:`ReceiverBusyError`), so a replay never slips through.
"""

from __future__ import annotations

import heapq
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import jsontext
from ledger.errors import ConflictError, InputError, IntegrityError, LedgerError, UnavailableError
from ledger.webhook_signatures import (
    WEBHOOK_ID,
    SignatureFormatError,
    decode_public_key,
    decode_secret,
    verify,
)

DEFAULT_TOLERANCE: Final = 300.0  # seconds: the spec's example, five minutes either way
#: Webhook ids remembered at most (about 100 bytes each).
DEFAULT_MAX_REMEMBERED: Final = 100_000
#: A delivery body larger than this is refused before any work (alerts are ~1 kB).
MAX_BODY_BYTES: Final = 1024 * 1024
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}").fullmatch
_HEADERS: Final = ("webhook-id", "webhook-timestamp", "webhook-signature")


class WebhookError(LedgerError):
    """A delivery the receiver refuses; the subclass says why."""

    code = "webhook-refused"


class MalformedWebhookError(WebhookError, InputError):
    """A header is missing, repeated or malformed, or the body is not an alert envelope."""

    code = "webhook-malformed"


class SignatureMismatchError(WebhookError, IntegrityError):
    """No signature verifies under a trusted key: altered, or signed by someone else."""

    code = "webhook-signature-mismatch"


class StaleWebhookError(WebhookError, IntegrityError):
    """The signed timestamp is further from now than the tolerance (old or from the future)."""

    code = "webhook-stale"


class ReplayedWebhookError(WebhookError, ConflictError):
    """This ``webhook-id`` was accepted already within the tolerance window."""

    code = "webhook-replayed"


class ReceiverBusyError(WebhookError, UnavailableError):
    """More distinct ids within the window than the receiver remembers; answer 503."""

    code = "webhook-receiver-busy"


class WebhookReceiver:
    """Verifies deliveries signed by the platform's key(s) for this bank. Thread-safe."""

    def __init__(
        self,
        *,
        secret: str | Iterable[str] | None = None,
        public_key: str | Iterable[str] | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        max_remembered: int = DEFAULT_MAX_REMEMBERED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``secret``: the ``whsec_`` secret(s); ``public_key``: the ``whpk_`` key(s).

        Either may list several keys (e.g. old and new while a rotation settles).
        """
        self._secrets = [decode_secret(s) for s in _listed(secret)]
        self._public_keys: list[Ed25519PublicKey] = [
            decode_public_key(k) for k in _listed(public_key)
        ]
        if not self._secrets and not self._public_keys:
            raise InputError("a receiver needs a secret (whsec_) or a public key (whpk_)")
        if not 0 < tolerance <= 86400:
            raise InputError("the tolerance is 0-86400 seconds")
        if max_remembered < 1:
            raise InputError("max_remembered is at least 1")
        self.tolerance = tolerance
        self.max_remembered = max_remembered
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}  # webhook id -> when it may be forgotten
        self._expiry: list[tuple[float, str]] = []  # the same, as a heap

    def verify(self, headers: Mapping[str, str] | Any, body: bytes) -> dict[str, Any]:
        """The alert envelope of a genuine, fresh, first delivery; a :class:`WebhookError` else.

        ``headers``: any mapping or object with ``items()`` (case-insensitive names);
        ``body``: the request body exactly as received.
        """
        msg_id, stamp, signature = _webhook_headers(headers)
        if not isinstance(body, bytes | bytearray | memoryview):
            raise MalformedWebhookError("the body must be the raw bytes as received")
        raw = bytes(body)
        if len(raw) > MAX_BODY_BYTES:
            raise MalformedWebhookError(f"the body is over {MAX_BODY_BYTES} bytes")
        now = self._clock()
        if abs(now - stamp) > self.tolerance:
            raise StaleWebhookError(
                f"webhook-timestamp is {now - stamp:+.0f} s from now "
                f"(tolerance {self.tolerance:g} s)"
            )
        try:
            genuine = verify(
                signature, msg_id, stamp, raw, secrets=self._secrets, public_keys=self._public_keys
            )
        except SignatureFormatError as exc:
            raise MalformedWebhookError(exc.message) from None
        if not genuine:
            raise SignatureMismatchError("no webhook signature verifies under a trusted key")
        envelope = _envelope(raw)
        self._remember(msg_id, stamp + self.tolerance, now)
        return envelope

    def forget(self, webhook_id: str) -> None:
        """Accept ``webhook_id`` again (its processing failed and the sender will retry)."""
        with self._lock:
            self._seen.pop(webhook_id, None)

    def _remember(self, msg_id: str, until: float, now: float) -> None:
        with self._lock:
            while self._expiry and self._expiry[0][0] < now:
                expired, old_id = heapq.heappop(self._expiry)
                if self._seen.get(old_id) == expired:
                    del self._seen[old_id]
            if msg_id in self._seen:
                raise ReplayedWebhookError(f"webhook {msg_id!r} was received already")
            if len(self._seen) >= self.max_remembered:
                raise ReceiverBusyError(
                    f"{len(self._seen)} webhooks within {self.tolerance:g} s; try again later"
                )
            self._seen[msg_id] = until
            heapq.heappush(self._expiry, (until, msg_id))


def _listed(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _webhook_headers(headers: Mapping[str, str] | Any) -> tuple[str, int, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``, each exactly once."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        key = str(name).lower()
        if key in _HEADERS:
            if key in found:
                raise MalformedWebhookError(f"the {key} header is repeated")
            found[key] = str(value).strip()
    missing = [k for k in _HEADERS if k not in found]
    if missing:
        raise MalformedWebhookError(f"missing header(s): {', '.join(missing)}")
    msg_id = found["webhook-id"]
    if not WEBHOOK_ID(msg_id):
        raise MalformedWebhookError("webhook-id is 1-64 letters, digits, '_' or '-'")
    if not _TIMESTAMP(found["webhook-timestamp"]):
        raise MalformedWebhookError("webhook-timestamp is whole seconds since the epoch")
    return msg_id, int(found["webhook-timestamp"]), found["webhook-signature"]


def _envelope(raw: bytes) -> dict[str, Any]:
    try:
        envelope = jsontext.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MalformedWebhookError("the body is not JSON text (UTF-8, bounded depth)") from None
    if not (
        isinstance(envelope, dict)
        and isinstance(envelope.get("type"), str)
        and isinstance(envelope.get("timestamp"), str)
        and isinstance(envelope.get("data"), dict)
    ):
        raise MalformedWebhookError("the body is not an envelope {type, timestamp, data}")
    return envelope

"""The dispatcher: pushes outbox alerts to the banks' webhooks by Standard Webhooks.

Each round it claims due deliveries (:func:`~ledger.alerts.deliveries.claim_due`,
committed before anything is sent), POSTs them concurrently (at most
``alert_concurrency`` in flight, ``alert_per_endpoint`` per bank), and records the
answers (:func:`~ledger.alerts.deliveries.record`). A POST:

- goes to an address checked against the allowlist (:mod:`ledger.alerts.destinations`),
  follows no redirect and takes at most ``alert_request_timeout`` seconds in all;
- carries ``webhook-id`` (the alert's id, the same on every attempt),
  ``webhook-timestamp`` (this attempt) and ``webhook-signature`` (``v1`` and ``v1a``
  under every key that signs now), and the alert's stored body, byte for byte.

A 2xx delivers; 410 disables the bank's endpoint; anything else (other statuses,
timeouts, refused or unreachable hosts) is retried on ``alert_retry_schedule``
with jitter, no sooner than a ``Retry-After`` asks. The database is the truth:
the process may be killed at any moment and started again.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from ledger import __version__
from ledger.alerts.deliveries import Answer, Claim, RetryPolicy, claim_due, next_due_ms, record
from ledger.alerts.destinations import Allowlist, check_url, route
from ledger.alerts.endpoints import EndpointInfo, SigningKeys, endpoint_info, signing_keys
from ledger.alerts.errors import EndpointRefusedError
from ledger.alerts.outbox import iso, new_alert_id, to_ms, utc_now
from ledger.alerts.sealing import Sealer
from ledger.client.errors import parse_retry_after
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.logs import event as log_event
from ledger.proofs import canonical_bytes
from ledger.store import Store
from ledger.webhook_signatures import sign

log = logging.getLogger(__name__)

USER_AGENT: Final = f"credit-anchor-webhooks/{__version__}"
#: Of an answer's body only this much is read (then the connection is dropped).
MAX_ANSWER_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    """How the dispatcher sends; :meth:`from_settings` reads the ``alert_*`` settings."""

    policy: RetryPolicy
    request_timeout: float
    claim_seconds: float
    poll_seconds: float
    concurrency: int
    per_endpoint: int
    allow: Allowlist
    #: CA bundle that verifies the banks' certificates; None: the system's.
    ca_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchConfig:
        return cls(
            policy=RetryPolicy(settings.alert_retry_schedule, settings.alert_retry_jitter),
            request_timeout=settings.alert_request_timeout,
            # A claim outlives the POST it covers, or a slow answer would be sent twice.
            claim_seconds=max(settings.alert_claim_seconds, settings.alert_request_timeout + 1),
            poll_seconds=settings.alert_poll_seconds,
            concurrency=settings.alert_concurrency,
            per_endpoint=settings.alert_per_endpoint,
            allow=Allowlist.parse(settings.alert_allow_hosts),
            ca_file=settings.alert_ca_file,
        )


def http_client(config: DispatchConfig) -> httpx.AsyncClient:
    """The client every POST goes through: no redirects, no proxies from the environment.

    Certificates are verified against the host name of the URL (sent as TLS SNI),
    although the connection goes to the address that was checked.
    """
    verify: ssl.SSLContext | bool = True
    if config.ca_file is not None:
        verify = ssl.create_default_context(cafile=str(config.ca_file))
    return httpx.AsyncClient(
        verify=verify,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(config.request_timeout),
        limits=httpx.Limits(max_connections=config.concurrency),
        headers={"user-agent": USER_AGENT},
    )


async def post_signed(
    client: httpx.AsyncClient,
    url: str,
    msg_id: str,
    body: bytes,
    keys: SigningKeys,
    config: DispatchConfig,
) -> Answer:
    """POST ``body`` to ``url``, signed as ``msg_id``; what came back (never raises for
    a refusal or a network failure: those are answers too)."""
    started, clock = utc_now(), time.monotonic()
    target = "?"
    status = retry_after = error = None
    try:
        destination = check_url(url, config.allow)
        target = destination.origin
        async with asyncio.timeout(config.request_timeout):
            way = await route(destination, config.allow)
            stamp = int(time.time())
            headers = {
                "host": way.host_header,
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign(
                    msg_id, stamp, body, secrets=keys.secrets, private_keys=keys.private_keys
                ),
            }
            extensions = {"sni_hostname": way.sni_hostname} if way.sni_hostname else {}
            async with client.stream(
                "POST", way.url, content=body, headers=headers, extensions=extensions
            ) as answer:
                status = answer.status_code
                retry_after = parse_retry_after(answer.headers.get("retry-after"))
                await _drain(answer)
    except EndpointRefusedError as exc:
        error = f"refused: {exc.message}"
    except TimeoutError:
        error = f"no answer within {config.request_timeout:g} s"
    except (httpx.HTTPError, OSError) as exc:
        error = _describe(exc)
    elapsed = round((time.monotonic() - clock) * 1000)
    if status is not None:
        error = None  # the answer counts, even if reading the rest of it failed
    return Answer(started, elapsed, target, status, error, retry_after)


async def _drain(answer: httpx.Response) -> None:
    """Read a small answer body so the connection can serve the next POST."""
    read = 0
    async for chunk in answer.aiter_raw():
        read += len(chunk)
        if read > MAX_ANSWER_BYTES:
            break


def _describe(exc: BaseException) -> str:
    """A short reason without the URL (its path or query may hold a bank's token)."""
    text = str(exc)
    if "://" in text or len(text) > 120:
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Dispatcher:
    """Claims, sends and records deliveries until stopped (or, ``once``, until none is due)."""

    def __init__(self, store: Store, sealer: Sealer, config: DispatchConfig) -> None:
        self.store = store
        self.sealer = sealer
        self.config = config
        self._opened: dict[int, tuple[bytes, Ed25519PrivateKey]] = {}

    def run(self, *, once: bool = False, stop: threading.Event | None = None) -> Counter[str]:
        """Deliver; how many attempts ended delivered, retry, failed and disabled."""
        return asyncio.run(self._run(once, stop))

    async def _run(self, once: bool, stop: threading.Event | None) -> Counter[str]:
        totals: Counter[str] = Counter()
        inflight: dict[asyncio.Task[tuple[Claim, Answer]], Claim] = {}
        async with http_client(self.config) as client:
            while True:
                stopping = stop is not None and stop.is_set()
                if not stopping:
                    for claim, keys in await asyncio.to_thread(self._claim, inflight):
                        task = asyncio.create_task(self._send(client, claim, keys))
                        inflight[task] = claim
                if not inflight:
                    if once or stopping:
                        return totals
                    await self._idle()
                    continue
                done, _ = await asyncio.wait(
                    inflight, timeout=self.config.poll_seconds, return_when="FIRST_COMPLETED"
                )
                for task in done:
                    del inflight[task]
                if done:
                    totals += await asyncio.to_thread(self._record, [t.result() for t in done])

    def _claim(
        self, inflight: dict[asyncio.Task[tuple[Claim, Answer]], Claim]
    ) -> list[tuple[Claim, SigningKeys | LedgerError]]:
        free = self.config.concurrency - len(inflight)
        if free <= 0:
            return []
        busy = Counter(claim.institution for claim in inflight.values())
        now_ms = to_ms(utc_now())
        with self.store.session() as s:
            claims = claim_due(
                s,
                now_ms=now_ms,
                lease_ms=round(self.config.claim_seconds * 1000),
                limit=free,
                per_institution=self.config.per_endpoint,
                busy=busy,
            )
            return [(claim, self._keys(s, claim.institution, now_ms)) for claim in claims]

    def _keys(self, session: Session, institution: str, now_ms: int) -> SigningKeys | LedgerError:
        """The bank's signing keys, or why they cannot be had (that attempt then fails)."""
        try:
            return signing_keys(
                session, self.sealer, institution, now_ms=now_ms, opened=self._opened
            )
        except LedgerError as exc:
            return exc

    async def _send(
        self, client: httpx.AsyncClient, claim: Claim, keys: SigningKeys | LedgerError
    ) -> tuple[Claim, Answer]:
        if isinstance(keys, LedgerError):
            return claim, Answer(utc_now(), 0, "?", error=f"cannot sign: {keys.message}")
        answer = await post_signed(client, claim.url, claim.alert_id, claim.body, keys, self.config)
        return claim, answer

    def _record(self, finished: list[tuple[Claim, Answer]]) -> Counter[str]:
        with self.store.session() as s:
            outcomes = record(s, finished, self.config.policy, now=utc_now())
        for claim, answer in finished:
            log_event(
                log, "webhook attempt", logging.DEBUG, alert_id=claim.alert_id,
                attempt=claim.attempt, target=answer.target, status=answer.status_code,
                error=answer.error,
            )  # fmt: skip
        if outcomes["disabled"]:
            log_event(log, "webhook endpoint disabled (410)", logging.WARNING)
        return outcomes

    async def _idle(self) -> None:
        """Sleep until the next delivery is due, or one poll interval at most."""
        due = await asyncio.to_thread(self._next_due)
        wait = self.config.poll_seconds
        if due is not None:
            wait = min(wait, max(0.0, (due - to_ms(utc_now())) / 1000))
        await asyncio.sleep(max(wait, 0.001))

    def _next_due(self) -> int | None:
        with self.store.session() as s:
            return next_due_ms(s)


def send_ping(
    store: Store, sealer: Sealer, institution: str, config: DispatchConfig
) -> tuple[EndpointInfo, Answer]:
    """POST a signed ``ping`` to the bank's endpoint now (``ledger partner webhook test``).

    The ping is not an alert: it goes through no outbox and is sent once, whatever
    the endpoint's state, so an operator can see whether a disabled bank is back.
    """
    info = endpoint_info(store, institution)
    moment = utc_now()
    with store.session() as s:
        keys = signing_keys(s, sealer, institution, now_ms=to_ms(moment))
    body = canonical_bytes({"type": "ping", "timestamp": iso(moment), "data": {}})

    async def ping() -> Answer:
        async with http_client(config) as client:
            return await post_signed(client, info.url, new_alert_id(), body, keys, config)

    return info, asyncio.run(ping())

"""The dispatcher: pushes outbox alerts to the banks' webhooks by Standard Webhooks.

Each round it claims due deliveries (:func:`~ledger.alerts.deliveries.claim_due`,
committed before anything is sent), POSTs them from a pool of threads (at most
``alert_concurrency`` in flight, ``alert_per_endpoint`` per bank), and records the
answers (:func:`~ledger.alerts.deliveries.record`). A POST:

- goes to an address checked against the allowlist (:mod:`ledger.alerts.destinations`)
  and follows no redirect;
- connects and then waits for each read of the answer at most what is left of
  ``alert_request_timeout`` (urllib3's total timeout), and stops reading the
  answer's body at that deadline;
- carries ``webhook-id`` (the alert's id, the same on every attempt),
  ``webhook-timestamp`` (this attempt) and ``webhook-signature`` (``v1`` and ``v1a``
  under every key that signs now), and the alert's stored body, byte for byte.

A 2xx delivers; 410 disables the bank's endpoint; anything else (other statuses,
timeouts, refused or unreachable hosts) is retried on ``alert_retry_schedule``
with jitter, no sooner than a ``Retry-After`` asks. The database is the truth:
the process may be killed at any moment and started again.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import urllib3
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
#: Connection pools kept (one per bank endpoint address); the least used goes first.
MAX_POOLS: Final = 256
_REPR: Final = re.compile(r"<[^<>]{0,200}>:?")


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


def http_pools(config: DispatchConfig) -> urllib3.PoolManager:
    """Keep-alive connection pools, one per checked address and host name, shared by the
    sending threads: no retries, no redirects, no proxies from the environment.

    Certificates are verified against the URL's host name (sent as TLS SNI),
    although the connection goes to the address that was checked.
    """
    return urllib3.PoolManager(
        num_pools=MAX_POOLS,
        maxsize=config.concurrency,  # two banks may share one address
        block=False,
        retries=False,
        timeout=urllib3.Timeout(total=config.request_timeout),
        ca_certs=None if config.ca_file is None else str(config.ca_file),
        headers={"user-agent": USER_AGENT},
    )


def post_signed(
    pools: urllib3.PoolManager,
    url: str,
    msg_id: str,
    body: bytes,
    keys: SigningKeys,
    config: DispatchConfig,
) -> Answer:
    """POST ``body`` to ``url``, signed as ``msg_id``; what came back (never raises for
    a refusal or a network failure: those are answers too).

    Connecting and each read of the answer's head wait at most what is left of
    ``request_timeout``; reading its body stops at that deadline.
    """
    started, clock = utc_now(), time.monotonic()
    target = "?"
    status = retry_after = error = None
    try:
        destination = check_url(url, config.allow)
        target = destination.origin
        way = route(destination, config.allow)
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
        named = {"server_hostname": way.sni_hostname, "assert_hostname": way.sni_hostname}
        pool = pools.connection_from_host(
            way.address, destination.port, destination.scheme,
            pool_kwargs=named if way.sni_hostname else None,
        )  # fmt: skip
        answer = pool.urlopen(
            "POST", destination.target, body=body, headers=headers,
            redirect=False, preload_content=False,
        )  # fmt: skip
        status = answer.status
        retry_after = parse_retry_after(answer.headers.get("retry-after"))
        _drain(answer, clock + config.request_timeout)
    except EndpointRefusedError as exc:
        error = f"refused: {exc.message}"
    except urllib3.exceptions.NewConnectionError as exc:  # (a TimeoutError in urllib3)
        error = _describe(exc)
    except urllib3.exceptions.TimeoutError:
        error = f"no answer within {config.request_timeout:g} s"
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        error = _describe(exc)
    elapsed = round((time.monotonic() - clock) * 1000)
    if status is not None:
        error = None  # the answer counts, even if reading the rest of it failed
    return Answer(started, elapsed, target, status, error, retry_after)


def _drain(answer: urllib3.BaseHTTPResponse, deadline: float) -> None:
    """Read a small answer body, so its connection can serve the next POST; drop the
    connection instead when the body is large or slow."""
    read = 0
    try:
        for chunk in answer.stream(8192, decode_content=False):
            read += len(chunk)
            if read > MAX_ANSWER_BYTES or time.monotonic() > deadline:
                answer.close()
                break
    finally:
        answer.release_conn()


def _describe(exc: BaseException) -> str:
    """A short reason without the URL (its path or query may hold a bank's token) or
    object reprs: "NewConnectionError: Failed to establish a new connection: [Errno
    111] Connection refused"."""
    text = _REPR.sub("", str(exc)).strip()
    if "://" in text or len(text) > 150:
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Dispatcher:
    """Claims, sends and records deliveries until stopped (or, ``once``, until none is due).

    This thread claims and records; a pool of ``concurrency`` threads sends.
    """

    def __init__(self, store: Store, sealer: Sealer, config: DispatchConfig) -> None:
        self.store = store
        self.sealer = sealer
        self.config = config
        self._opened: dict[int, tuple[bytes, Ed25519PrivateKey]] = {}

    def run(self, *, once: bool = False, stop: threading.Event | None = None) -> Counter[str]:
        """Deliver; how many attempts ended delivered, retry, failed and disabled."""
        totals: Counter[str] = Counter()
        inflight: dict[Future[Answer], Claim] = {}
        finished: list[tuple[Claim, Answer]] = []
        pools = http_pools(self.config)
        with (
            pools,
            ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="webhook") as pool,
        ):
            while True:
                stopping = stop is not None and stop.is_set()
                outcomes, claimed = self._round(finished, inflight, claim=not stopping)
                totals += outcomes
                for claim, keys in claimed:
                    inflight[pool.submit(self._send, pools, claim, keys)] = claim
                if not inflight:
                    if once or stopping:
                        return totals
                    self._idle(stop)
                    finished = []
                    continue
                done, _ = wait(inflight, self.config.poll_seconds, FIRST_COMPLETED)
                finished = [(inflight.pop(f), f.result()) for f in done]

    def _round(
        self,
        finished: list[tuple[Claim, Answer]],
        inflight: dict[Future[Answer], Claim],
        *,
        claim: bool,
    ) -> tuple[Counter[str], list[tuple[Claim, SigningKeys | LedgerError]]]:
        """Record ``finished`` and claim more, in one transaction (one commit a round)."""
        free = self.config.concurrency - len(inflight)
        # Claim in bulk: a round costs a few statements and a commit, whatever its size.
        claiming = claim and free > 0 and (not inflight or free >= self.config.concurrency // 4)
        if not finished and not claiming:
            return Counter(), []
        now = utc_now()
        with self.store.session() as s:
            outcomes = record(s, finished, self.config.policy, now=now)
            claims = []
            if claiming:
                claims = claim_due(
                    s,
                    now_ms=to_ms(now),
                    lease_ms=round(self.config.claim_seconds * 1000),
                    limit=free,
                    per_institution=self.config.per_endpoint,
                    busy=Counter(claim.institution for claim in inflight.values()),
                )
            keys = {i: self._keys(s, i, to_ms(now)) for i in {c.institution for c in claims}}
            s.commit()
        self._log(finished, outcomes)
        return outcomes, [(claim, keys[claim.institution]) for claim in claims]

    def _keys(self, session: Session, institution: str, now_ms: int) -> SigningKeys | LedgerError:
        """The bank's signing keys, or why they cannot be had (that attempt then fails)."""
        try:
            return signing_keys(
                session, self.sealer, institution, now_ms=now_ms, opened=self._opened
            )
        except LedgerError as exc:
            return exc

    def _send(
        self, pools: urllib3.PoolManager, claim: Claim, keys: SigningKeys | LedgerError
    ) -> Answer:
        if isinstance(keys, LedgerError):
            return Answer(utc_now(), 0, "?", error=f"cannot sign: {keys.message}")
        return post_signed(pools, claim.url, claim.alert_id, claim.body, keys, self.config)

    @staticmethod
    def _log(finished: list[tuple[Claim, Answer]], outcomes: Counter[str]) -> None:
        for claim, answer in finished:
            log_event(
                log, "webhook attempt", logging.DEBUG, alert_id=claim.alert_id,
                attempt=claim.attempt, target=answer.target, status=answer.status_code,
                error=answer.error,
            )  # fmt: skip
        if outcomes["disabled"]:
            log_event(log, "webhook endpoint disabled (410)", logging.WARNING)

    def _idle(self, stop: threading.Event | None) -> None:
        """Wait until the next delivery is due, one poll interval at most (or until stopped)."""
        with self.store.session() as s:
            due = next_due_ms(s)
        pause = self.config.poll_seconds
        if due is not None:
            pause = min(pause, max(0.0, (due - to_ms(utc_now())) / 1000))
        pause = max(pause, 0.001)
        if stop is not None:
            stop.wait(pause)
        else:
            time.sleep(pause)


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

    with http_pools(config) as pools:
        return info, post_signed(pools, info.url, new_alert_id(), body, keys, config)

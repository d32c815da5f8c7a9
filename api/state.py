"""What the app holds while it runs: the store, and the chain behind one lock.

Store reads need no chain, so the store opens on its own and keeps serving when
the chain is down. The chain (embedded or JSON-RPC) is connected on first use
and re-tried on later use after a failure; every use holds :attr:`ChainGate.lock`
because the embedded chain is one in-process EVM, not safe for concurrent writers.

Of several processes on one PostgreSQL store, one is the anchor sender
(:mod:`ledger.anchoring.election`): its :class:`Sealer` thread anchors the batches
every process stored and seals the logs. The others store a submission's batches
and wait for it (:meth:`AppState.await_anchors`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.alertstream import StreamSlots
from api.config import ApiSettings
from api.inquirywriter import LoopInquiryWriter
from api.keycache import KeyCache
from ledger.anchoring.election import RETRY_SECONDS, Election
from ledger.anchoring.outbox import AnchoredBatch, recorded_anchors
from ledger.chain import Deployment, check_deployment, open_chain
from ledger.config import Settings
from ledger.consent import ConsentService, InquiryLog
from ledger.errors import LedgerError, UnavailableError
from ledger.ingest.submission import Submitter
from ledger.privacy import Desensitiser, default_desensitiser
from ledger.store import Store
from ledger.wiring import Ledger

log = logging.getLogger("api.state")
HOLDER = "ledger serve"
#: How long a readiness probe waits for a chain busy with a submission.
PROBE_WAIT_SECONDS = 1.0
#: How often the anchor sender looks for batches other processes stored.
SEND_POLL_SECONDS = 0.25
#: How often a submission waiting for the anchor sender looks at its batches.
ANCHOR_POLL_SECONDS = 0.1


class ChainGate:
    """The chain side of the ledger, connected lazily and used under one lock."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.lock = threading.RLock()  # re-entered by consent checks under consents()
        self._ledger: Ledger | None = None
        self._submitter: Submitter | None = None
        self._consents: ConsentService | None = None

    def _connect(self) -> Ledger:
        if self._ledger is None:
            deployment = Deployment.load(self.settings.deployment_file)
            chain = open_chain(self.settings, holder=HOLDER)
            try:
                check_deployment(chain, deployment)
            except BaseException:
                chain.close()
                raise
            self._ledger = Ledger.on_chain(self.settings, chain, self.store, deployment)
        return self._ledger

    def try_connect(self) -> None:
        """Connect now if possible; a failure is logged and retried on next use."""
        with self.lock:
            try:
                self._connect()
            except LedgerError as exc:
                log.warning("chain not connected yet: %s", exc.code)

    @contextmanager
    def hold(self) -> Iterator[Ledger]:
        """The connected ledger, under the chain lock."""
        with self.lock:
            yield self._connect()

    @contextmanager
    def submitter(self) -> Iterator[Submitter]:
        """The one submitter (default policy), under the chain lock."""
        with self.hold() as ledger:
            if self._submitter is None:
                # A request does not wait for confirmations: the sealer's tick settles them.
                self._submitter = ledger.submitter(confirm_wait=0)
            yield self._submitter

    @contextmanager
    def consents(self) -> Iterator[ConsentService]:
        """The consent service (default policy's pseudonym key), under the chain lock."""
        with self.lock:
            yield self.consent_service()

    def connected_consent_service(self) -> ConsentService | None:
        """The consent service if it exists already (never blocks)."""
        return self._consents

    def consent_service(self) -> ConsentService:
        """The consent service, not locked: its checks take the chain lock per chain call."""
        if (service := self._consents) is not None:
            return service
        with self.hold() as ledger:
            if self._consents is None:
                self._consents = ledger.consents(lock=self.lock)
            return self._consents

    def send_pending(self) -> int:
        """The anchor sender's poll: anchor every pending batch, whichever process stored it,
        oldest first; how many. The chain lock is taken per batch: requests that need the
        chain get it between two anchors, not after another process's whole submission."""
        sent = 0
        while True:
            with self.hold() as ledger:
                if not ledger.anchor_next():
                    return sent
            sent += 1

    def seal_logs(self) -> list[str]:
        """The sealer's tick: finish interrupted work, seal the inquiry log and the alert
        log where due, anchor."""
        self.send_pending()  # a batch at a time first; what is left is a seal's worth
        with self.hold() as ledger:
            ledger.resume()
            return ledger.anchor_inquiries() + ledger.anchor_alerts()

    def probe(self) -> int | None:
        """The chain's block number; None when a submission holds the chain (it is alive)."""
        if not self.lock.acquire(timeout=PROBE_WAIT_SECONDS):
            return None
        try:
            return self._connect().chain.block_number()
        finally:
            self.lock.release()

    def close(self) -> None:
        with self.lock:
            if self._ledger is not None:
                self._ledger.chain.close()
                self._ledger = None
                self._submitter = None
                self._consents = None


@dataclass
class AppState:
    """Everything a request handler may reach."""

    settings: Settings
    limits: ApiSettings
    store: Store
    gate: ChainGate = field(init=False)
    keys: KeyCache = field(init=False)

    def __post_init__(self) -> None:
        self.gate = ChainGate(self.settings, self.store)
        self.keys = KeyCache(self.limits.key_cache_seconds)
        self.election = Election(self.store)
        self.alert_streams = StreamSlots(self.limits.alert_stream_max_clients)
        seconds = min(self.settings.inquiry_seal_seconds, self.settings.alert_seal_seconds)
        self.sealer = Sealer(self.gate, self.election, seconds)
        self._desensitiser: Desensitiser | None = None
        self._unsealed = 0
        self._inquiry_writer: LoopInquiryWriter | None = None

    def inquiry_writer(self, log: InquiryLog) -> LoopInquiryWriter:
        """The event loop's inquiry writer (``log``: the consent service's, for hand-overs)."""
        if self._inquiry_writer is None:
            self._inquiry_writer = LoopInquiryWriter(self.store, log)
        return self._inquiry_writer

    def desensitiser(self) -> Desensitiser:
        """The default policy's desensitiser (pseudonyms for erasure; no chain needed)."""
        if self._desensitiser is None:
            self._desensitiser = default_desensitiser(self.settings.data_dir)
        return self._desensitiser

    def inquiry_log(self) -> InquiryLog:
        """The inquiry log, for reading."""
        return InquiryLog(self.store, submitter="", key_ids={})

    def inquiry_logged(self) -> None:
        """Count one logged inquiry; at the size threshold, wake the sealer."""
        self._unsealed += 1
        if self._unsealed >= self.settings.inquiry_seal_size:
            self._unsealed = 0
            self.sealer.wake()

    def await_anchors(self, batch_ids: list[str]) -> list[AnchoredBatch]:
        """The anchors of batches this process stored for the anchor sender, once it has
        sent them all; 503 if that takes longer than ``anchor_wait_seconds``."""
        deadline = time.monotonic() + self.limits.anchor_wait_seconds
        while (anchored := recorded_anchors(self.store, batch_ids)) is None:
            if time.monotonic() >= deadline:
                raise UnavailableError(
                    "the batches are stored but the anchor sender has not anchored them yet",
                    hint="send the same records again later: the submission resumes",
                )
            time.sleep(ANCHOR_POLL_SECONDS)
        return anchored

    def check_store(self) -> None:
        try:
            with self.store.session() as s:
                s.execute(text("SELECT 1"))
        except SQLAlchemyError:
            raise UnavailableError("the store does not answer") from None

    def close(self) -> None:
        self.sealer.stop()
        self.election.close()
        self.gate.close()
        self.store.close()


class Sealer:
    """A background thread that makes this process the anchor sender when it can and,
    while it is, anchors what any process stored and seals and anchors the inquiry
    log and the alert log: on a timer, or when woken.

    Only the elected process (:class:`~ledger.anchoring.election.Election`) sends;
    the others try to take over every ``RETRY_SECONDS``.
    """

    def __init__(self, gate: ChainGate, election: Election, seconds: float) -> None:
        self.gate = gate
        self.election = election
        self.seconds = seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="anchor-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        # A new sender's first tick seals at once: batches left pending by a crash
        # (of this process or of the sender before it) are anchored.
        sealed_at: float | None = None
        woken = False
        while not self._stop.is_set():
            if self.election.try_elect():
                now = time.monotonic()
                seal = woken or sealed_at is None or now - sealed_at >= self.seconds / 2
                if seal:
                    sealed_at = now
                # After a failure (chain or store down), look again less often.
                ok = self._tick(seal=seal)
                wait = min(SEND_POLL_SECONDS, self.seconds / 2) if ok else RETRY_SECONDS
            else:
                sealed_at, wait = None, RETRY_SECONDS
            woken = self._wake.wait(timeout=wait)
            self._wake.clear()

    def _tick(self, *, seal: bool) -> bool:
        """Anchor what is pending (and ``seal`` the logs first); whether it went well."""
        try:
            if seal:
                self.gate.seal_logs()
            else:
                self.gate.send_pending()
        except LedgerError as exc:
            log.warning("batches not anchored yet: %s", exc.code)
        except SQLAlchemyError as exc:  # the store is down: a later tick tries again
            log.warning("batches not anchored yet: the store failed (%s)", type(exc).__name__)
        else:
            return True
        return False

"""Recording, withdrawing and checking consents against the store and the ConsentRegistry.

Durability follows the anchor outbox: a consent (or a withdrawal) is committed
to the store as ``pending`` before its transaction is sent, and :meth:`flush`
sends whatever is pending. The registry ignores an identical re-record, so a
flush after a crash at any point records each consent exactly once.

A check (:meth:`ConsentService.check`) is granted only when a consent

* exists for this subject (by keyed pseudonym), names this institution as a
  recipient and this purpose,
* has a receipt whose SHA-256 still equals the commitment in the store *and*
  on chain, with the same validity window on chain,
* is recorded on chain, and at the checked instant ``t``:
  ``valid_from <= t``, ``t < valid_until`` (when set), and ``t < revoked_at``
  (when withdrawn, on chain or by a withdrawal still pending).

Every check, granted or refused, is written to the inquiry log in the same
store transaction that answers it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, NamedTuple

from sqlalchemy import bindparam, select

from ledger import jsontext
from ledger._failpoints import failpoint
from ledger.chain.errors import ConsentAlreadyRecorded
from ledger.chain.registry import ConsentRegistryClient
from ledger.chain.types import ConsentRecord
from ledger.consent.inquiries import InquiryLog, iso, now_utc
from ledger.consent.receipt import (
    PURPOSES,
    ConsentGrant,
    Subject,
    build_receipt,
    commitment,
    new_id,
    receipt_bytes,
    receipt_ids,
    seconds,
    window,
)
from ledger.errors import ConflictError, InputError, NotFoundError, UnavailableError
from ledger.logs import event as log_event
from ledger.privacy import Desensitiser
from ledger.store import Consent, Store

log = logging.getLogger(__name__)

#: Seconds a check trusts the last look at the chain's head block.
STATUS_MAX_AGE: Final = 0.2
#: Consents recorded per ``recordConsents`` transaction.
RECORD_BATCH: Final = 200
#: Refusal reasons, most telling first: the one a refused check reports.
REASONS: Final = (
    "receipt_mismatch",
    "receipt_id_mismatch",
    "revoked",
    "superseded",
    "expired",
    "not_yet_valid",
    "not_on_chain",
    "purpose_not_covered",
    "no_consent",
)
GRANTED: Final = "valid"
#: The log line of a refusal that means the store was tampered with, by reason
#: (an id mismatch by the id the receipt gets wrong).
TAMPERED: Final = {
    "receipt_mismatch": "consent receipt does not match its commitment",
    "receipt_id_mismatch": "consent receipt names another consent id or subject than its row",
    "consent_id": "consent receipt names another consent id than the one it is stored under",
    "subject": "consent receipt names another subject than its row",
}


def unhex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


@dataclass(frozen=True)
class OnChainEvidence:
    chain_id: int | None
    registry: str | None
    tx_hash: str | None
    block_number: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "registry": self.registry,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
        }


@dataclass(frozen=True)
class CheckResult:
    """The answer to one consent check; never carries the subject's identity."""

    granted: bool
    reason: str
    inquiry_id: str
    checked_at: str
    purpose: str
    institution: str
    consent_id: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    revoked_at: str | None = None
    evidence: OnChainEvidence | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "granted": self.granted,
            "reason": self.reason,
            "inquiry_id": self.inquiry_id,
            "checked_at": self.checked_at,
            "purpose": self.purpose,
            "institution": self.institution,
            "consent_id": self.consent_id,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "revoked_at": self.revoked_at,
            "on_chain": None if self.evidence is None else self.evidence.to_json(),
        }


@dataclass
class FlushReport:
    recorded: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)


@lru_cache(maxsize=1024)
def _iso_seconds(value: int | None) -> str | None:
    return None if not value else iso(datetime.fromtimestamp(value, UTC))


def consent_json(row: Consent, on_chain: ConsentRecord | None = None) -> dict[str, Any]:
    """A consent as the API and CLI show it: the receipt (it holds only a pseudonym) and state."""
    data: dict[str, Any] = {
        "consent_id": row.consent_id,
        "commitment": row.commitment,
        "status": "erased" if row.erased_at else row.status,
        "valid_from": _iso_seconds(row.valid_from),
        "valid_until": _iso_seconds(row.valid_until),
        "revoked_at": _iso_seconds(row.revoked_at),
        "revocation_status": row.revoke_status,
        "supersedes": row.supersedes,
        "superseded_by": row.superseded_by,
        "erased_at": row.erased_at,
        "receipt": None if row.receipt is None else jsontext.loads(row.receipt),
        "on_chain": OnChainEvidence(
            row.chain_id, row.registry_address, row.tx_hash, row.block_number
        ).to_json(),
        "revocation_on_chain": None
        if row.revoke_tx_hash is None
        else {"tx_hash": row.revoke_tx_hash, "block_number": row.revoke_block_number},
    }
    if on_chain is not None:
        data["chain_status"] = {
            "commitment": "0x" + on_chain.commitment.hex(),
            "valid_from": _iso_seconds(on_chain.valid_from),
            "valid_until": _iso_seconds(on_chain.valid_until),
            "revoked_at": _iso_seconds(on_chain.revoked_at),
            "recorded_block": on_chain.recorded_block,
        }
    return data


#: A subject's consents, newest window first, as plain rows (what a check reads).
CANDIDATE_COLUMNS: Final = (
    Consent.consent_id,
    Consent.subject_pseudonym,
    Consent.receipt,
    Consent.commitment,
    Consent.valid_from,
    Consent.valid_until,
    Consent.revoked_at,
    Consent.superseded_by,
    Consent.chain_id,
    Consent.registry_address.label("registry_address"),
    Consent.tx_hash,
    Consent.block_number,
)
_CANDIDATES: Final = (
    select(*CANDIDATE_COLUMNS)
    .where(Consent.subject_pseudonym == bindparam("p"))
    .order_by(Consent.valid_from.desc())
)


#: ``StatusCache.get(..., cached_only=True)`` could not answer without the chain.
NEEDS_CHAIN: Final = object()


class Candidate(NamedTuple):
    """One of a subject's consents, in the column order of :data:`_CANDIDATES`."""

    consent_id: str
    subject_pseudonym: str | None
    receipt: bytes | None
    commitment: str
    valid_from: int
    valid_until: int
    revoked_at: int | None
    superseded_by: str | None
    chain_id: int | None
    registry_address: str | None
    tx_hash: str | None
    block_number: int | None


@dataclass(frozen=True)
class Decision:
    """A check's verdict before it is logged."""

    reason: str
    consent: Candidate | None
    on_chain: ConsentRecord | None
    pseudonym: str
    institution: str
    purpose: str
    at: datetime

    @property
    def granted(self) -> bool:
        return self.reason == GRANTED


#: Stored receipts whose check against their commitment is remembered (by their text).
RECEIPT_CACHE_SIZE: Final = 4096
#: Blocks whose logs the status cache reads to follow the head; beyond, it starts over.
MAX_FOLLOWED_BLOCKS: Final = 5000


class StatusCache:
    """On-chain consent statuses, valid until a transaction may have changed them.

    A status changes only by a ConsentRegistry transaction. The head block is
    looked at most every ``max_age`` seconds; when it moved, the registry's logs
    of the new blocks say which consents changed, and only those are dropped
    (anchors of inquiry batches, which move the head all the time, change none).
    Another writer's withdrawal is seen within ``max_age`` plus its block time;
    this process's own withdrawals count at once, from the store. When the logs
    cannot say (an unknown log, a head that went back, too many blocks at once)
    everything is dropped. Unknown consents are never cached: they may be
    recorded any moment. A ``cached_only`` caller (the event loop) never reads
    the chain: when the cache is stale it starts a thread that follows the head,
    and answers from the cache meanwhile, as request threads do.
    """

    def __init__(
        self,
        registry: ConsentRegistryClient,
        lock: AbstractContextManager[Any],
        max_age: float = STATUS_MAX_AGE,
    ) -> None:
        self.registry = registry
        self.lock = lock
        self.max_age = max_age
        self._head = -1
        self._looked = -math.inf
        self._known: dict[str, ConsentRecord] = {}
        self._following = threading.Lock()
        self._failed = False  # the last look at the head raised: read the chain again

    def get(self, consent_id: str, *, cached_only: bool = False) -> ConsentRecord | object | None:
        """The status (None: not on chain); :data:`NEEDS_CHAIN` if ``cached_only`` cannot say."""
        now = time.monotonic()
        if now - self._looked >= self.max_age:
            if cached_only:
                # The event loop never reads the chain: a thread follows the head
                # while the cache answers, as it does for the other threads below.
                # Until one look succeeded (or after a look failed) it cannot say.
                if self._head < 0 or self._failed:
                    return NEEDS_CHAIN
                self._follow_in_background()
            # One thread follows the head; the others answer from the cache meanwhile
            # (only the very first look is waited for), instead of all queueing for
            # the chain behind whatever transaction holds it.
            elif self._following.acquire(blocking=self._head < 0 or self._failed):
                try:
                    if self._failed or time.monotonic() - self._looked >= self.max_age:
                        self._follow_head(now)
                finally:
                    self._following.release()
        known = self._known.get(consent_id.lower())
        if known is not None:
            return known
        if cached_only:
            return NEEDS_CHAIN
        with self.lock:
            # Threads that missed together queue here: only the first reads the chain.
            known = self._known.get(consent_id.lower())
            if known is not None:
                return known
            status = self.registry.status(unhex(consent_id))
            if status is not None:
                self._known[consent_id.lower()] = status
        return status

    def _follow_in_background(self) -> None:
        if not self._following.acquire(blocking=False):
            return  # a look is under way

        def follow() -> None:
            try:
                if time.monotonic() - self._looked >= self.max_age:
                    self._follow_head(time.monotonic())
            except Exception as exc:  # a request thread meets it again, and answers it
                cause = getattr(exc, "code", type(exc).__name__)  # never the message: URLs
                log.warning("consent statuses: following the chain head failed: %s", cause)
            finally:
                self._following.release()

        threading.Thread(target=follow, name="consent-status-follow", daemon=True).start()

    def _follow_head(self, now: float) -> None:
        try:
            self._look(now)
        except BaseException:
            self._failed = True
            raise
        self._failed = False

    def _look(self, now: float) -> None:
        with self.lock:
            head = self.registry.chain.block_number()
            if head == self._head:
                self._looked = now
                return
            changed = None
            if 0 <= self._head < head <= self._head + MAX_FOLLOWED_BLOCKS:
                changed = self.registry.changed(self._head + 1, head)
        if changed is None:
            self._known = {}
        else:
            for consent_id in changed:
                self._known.pop("0x" + consent_id.hex(), None)
        self._head = head
        self._looked = now

    def clear(self) -> None:
        self._known = {}
        self._looked = -math.inf


@lru_cache(maxsize=RECEIPT_CACHE_SIZE)
def _read_receipt(
    text: bytes, commitment_hex: str, consent_id: str, pseudonym: str | None
) -> tuple[frozenset[str], frozenset[str], int, int] | str:
    """(recipients, purposes, valid from, valid until) of a stored receipt that matches
    its row's commitment, id and subject; else the refusal reason: ``receipt_mismatch``
    (tampered, or not a receipt), ``receipt_id_mismatch`` (it hashes to its commitment
    but names another consent or subject: a receipt replayed under a new id).

    Cached by the receipt's own text, so a changed receipt is read afresh: a check
    proves the match each time without re-hashing an unchanged receipt.
    """
    if commitment(text) != commitment_hex:
        return "receipt_mismatch"
    try:
        receipt = jsontext.loads(text)
        if receipt_ids(receipt) != (consent_id, pseudonym):
            return "receipt_id_mismatch"
        start, end = window(receipt)
        return frozenset(receipt["recipients"]), frozenset(receipt["purposes"]), start, end
    except (ValueError, KeyError, TypeError, AttributeError):
        return "receipt_mismatch"


def _mismatched_id(row: Candidate) -> str:
    """Which id a ``receipt_id_mismatch`` receipt gets wrong: ``consent_id`` or ``subject``."""
    assert row.receipt is not None
    own_id, _ = receipt_ids(jsontext.loads(row.receipt))
    return "consent_id" if own_id != row.consent_id else "subject"


class ConsentService:
    """Consents of one store, recorded through one ConsentRegistry (None: store only).

    ``lock`` guards every chain call of a check (the embedded EVM is one object
    for all threads); the store work of a check runs outside it.
    """

    def __init__(
        self,
        store: Store,
        registry: ConsentRegistryClient | None,
        desensitiser: Desensitiser,
        inquiries: InquiryLog,
        *,
        from_block: int = 0,
        clock: Callable[[], datetime] = now_utc,
        lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.lock = lock or nullcontext()
        self.statuses = None if registry is None else StatusCache(registry, self.lock)
        self.desensitiser = desensitiser
        self.inquiries = inquiries
        self.from_block = from_block
        self.clock = clock
        self.key_id = desensitiser.key_ids.get("subject", "")

    # -- identity -------------------------------------------------------------------

    def pseudonym(self, subject: Subject) -> str:
        return self.desensitiser.pseudonym("subject_pseudonym", subject.as_record())

    def _registry(self) -> ConsentRegistryClient:
        if self.registry is None:
            raise UnavailableError("this needs the chain, which is not connected")
        return self.registry

    # -- recording ------------------------------------------------------------------

    def grant(self, grants: Sequence[ConsentGrant]) -> list[Consent]:
        """Store the receipts of ``grants`` (pending), then record them on chain."""
        if not grants:
            raise InputError("no consent to record")
        now = self.clock()
        rows: list[Consent] = []
        with self.store.session() as s, s.begin():
            for grant in grants:
                pseudonym = self.pseudonym(grant.subject)
                consent_id = new_id()
                receipt = build_receipt(
                    grant, consent_id=consent_id, pseudonym=pseudonym, key_id=self.key_id, now=now
                )
                data = receipt_bytes(receipt)
                valid_from, valid_until = window(receipt)
                row = Consent(
                    consent_id=consent_id,
                    subject_pseudonym=pseudonym,
                    receipt=data,
                    commitment=commitment(data),
                    valid_from=valid_from,
                    valid_until=valid_until,
                    supersedes=grant.supersedes,
                    created_at=iso(now),
                    status="pending",
                )
                if grant.supersedes is not None:
                    self._supersede(s, grant.supersedes, row)
                s.add(row)
                rows.append(row)
        failpoint("consent-stored")
        self.flush()
        return [self.get(r.consent_id) for r in rows]

    def _supersede(self, s: Any, old_id: str, new: Consent) -> None:
        old = s.get(Consent, old_id)
        if old is None:
            raise NotFoundError("the consent named by supersedes does not exist")
        if old.subject_pseudonym != new.subject_pseudonym:
            raise InputError("supersedes names a consent of another subject")
        if old.superseded_by is not None:
            raise ConflictError(f"consent {old_id} is already superseded by {old.superseded_by}")
        old.superseded_by = new.consent_id
        if old.revoked_at is None or old.revoked_at > new.valid_from:
            # The old consent ends where the new one starts: no gap, no overlap.
            old.revoked_at = new.valid_from
            old.revoke_status = "pending"

    def revoke(self, consent_id: str, at: datetime | None = None) -> Consent:
        """Withdraw a consent from ``at`` (default now); recorded on chain at once."""
        revoked_at = seconds(at or self.clock())
        with self.store.session() as s, s.begin():
            row = s.get(Consent, consent_id)
            if row is None:
                raise NotFoundError("no consent with that id")
            if row.revoked_at is not None and row.revoked_at <= revoked_at:
                pass  # already withdrawn from an earlier time: nothing changes
            elif row.revoke_status == "recorded":
                raise ConflictError(
                    "this consent's withdrawal is already recorded on chain from a later time",
                    hint="a recorded withdrawal cannot be moved",
                )
            else:
                row.revoked_at = revoked_at
                row.revoke_status = "pending"
        self.flush()
        return self.get(consent_id)

    def flush(self) -> FlushReport:
        """Record every pending consent and withdrawal on chain (idempotent, resumable)."""
        registry = self._registry()
        if self.statuses is not None:
            self.statuses.clear()
        report = FlushReport()
        with self.store.session() as s:
            pending = list(
                s.scalars(
                    select(Consent).where(Consent.status == "pending").order_by(Consent.created_at)
                )
            )
            revoking = list(s.scalars(select(Consent).where(Consent.revoke_status == "pending")))
        conflicts: list[str] = []
        for i in range(0, len(pending), RECORD_BATCH):
            chunk = pending[i : i + RECORD_BATCH]
            try:
                self._record(chunk, report)
            except ConsentAlreadyRecorded:  # one id is taken on chain: go one by one
                for c in chunk:
                    try:
                        self._record([c], report)
                    except ConsentAlreadyRecorded:
                        conflicts.append(c.consent_id)
        for c in revoking:
            if c.status != "recorded" and c.consent_id not in report.recorded:
                continue  # recorded first, next flush withdraws it
            assert c.revoked_at is not None
            receipt = registry.revoke(unhex(c.consent_id), c.revoked_at)
            failpoint("revoke-mined")
            with self.store.session() as s, s.begin():
                row = s.get_one(Consent, c.consent_id)
                row.revoke_status = "recorded"
                row.revoke_tx_hash = receipt["transactionHash"].to_0x_hex()
                row.revoke_block_number = int(receipt["blockNumber"])
            log_event(log, "consent withdrawn", consent_id=c.consent_id)
            report.revoked.append(c.consent_id)
        if conflicts:
            raise ConflictError(
                f"{len(conflicts)} consent id(s) are on chain with another commitment or "
                f"window, e.g. {conflicts[0]}; they stay pending",
                hint="run `ledger audit`",
            )
        return report

    def _record(self, chunk: Sequence[Consent], report: FlushReport) -> None:
        registry = self._registry()
        items = [
            (unhex(c.consent_id), unhex(c.commitment), c.valid_from, c.valid_until) for c in chunk
        ]
        receipt = registry.record_many(items)
        failpoint("consent-mined")
        mined = {
            "0x" + bytes(e["args"]["consentId"]).hex(): e
            for e in registry.contract.events.ConsentRecorded().process_receipt(receipt)
        }
        for c in chunk:
            self._mark_recorded(c, mined.get(c.consent_id), receipt)
            report.recorded.append(c.consent_id)

    def _mark_recorded(self, c: Consent, mined: Any, receipt: Any) -> None:
        registry = self._registry()
        on_chain = registry.status(unhex(c.consent_id))
        if on_chain is None or "0x" + on_chain.commitment.hex() != c.commitment:
            raise ConflictError(
                f"consent {c.consent_id} is on chain with another commitment",
                hint="run `ledger audit`",
            )
        if mined is not None:
            tx_hash, block = receipt["transactionHash"].to_0x_hex(), int(receipt["blockNumber"])
        else:  # recorded before a crash: find the transaction that did it
            logs = registry.chain.call_logs(
                registry.contract.events.ConsentRecorded(),
                on_chain.recorded_block,
                on_chain.recorded_block,
                filters={"consentId": unhex(c.consent_id)},
            )
            tx_hash = logs[0]["transactionHash"].to_0x_hex() if logs else None
            block = on_chain.recorded_block
        with self.store.session() as s, s.begin():
            row = s.get_one(Consent, c.consent_id)
            row.status = "recorded"
            row.chain_id = registry.chain.chain_id
            row.registry_address = registry.address
            row.tx_hash = tx_hash
            row.block_number = block
        log_event(log, "consent recorded", consent_id=c.consent_id, block=block)

    # -- reading --------------------------------------------------------------------

    def get(self, consent_id: str) -> Consent:
        with self.store.session() as s:
            row = s.get(Consent, consent_id)
        if row is None:
            raise NotFoundError("no consent with that id")
        return row

    def show(self, consent_id: str) -> dict[str, Any]:
        """A consent with its receipt, its store state and (when connected) its chain status."""
        row = self.get(consent_id)
        on_chain = None if self.registry is None else self.registry.status(unhex(consent_id))
        return consent_json(row, on_chain)

    # -- checking -------------------------------------------------------------------

    def check(
        self,
        subject: Subject,
        *,
        institution: str,
        purpose: str,
        requested_by: str,
        at: datetime | None = None,
    ) -> CheckResult:
        """Is there a consent for this subject, institution and purpose at ``at``? Logged."""
        decision = self.decide(subject, institution=institution, purpose=purpose, at=at)
        assert decision is not None
        return self.record(decision, requested_by=requested_by)

    def candidates(self, pseudonym: str) -> list[Candidate]:
        """A subject's consents as the check reads them (newest window first)."""
        with self.store.engine.connect() as conn:  # plain rows: no ORM bookkeeping per check
            return [Candidate._make(row) for row in conn.execute(_CANDIDATES, {"p": pseudonym})]

    def decide(
        self,
        subject: Subject,
        *,
        institution: str,
        purpose: str,
        at: datetime | None = None,
        candidates: Callable[[str], list[Candidate]] | None = None,
        cached_only: bool = False,
    ) -> Decision | None:
        """The verdict of a check, not yet logged (see :meth:`record`).

        ``candidates`` reads the subject's consents (default: :meth:`candidates`).
        With ``cached_only`` nothing touches the chain: None when the verdict
        would need a chain read (the caller then decides again without it).
        """
        if purpose not in PURPOSES:
            raise InputError(f"purpose must be one of {', '.join(PURPOSES)}")
        self._registry()
        when = at or self.clock()
        t = seconds(when)
        pseudonym = self.pseudonym(subject)
        rows = (candidates or self.candidates)(pseudonym)
        best: tuple[int, Candidate | None, ConsentRecord | None] = (len(REASONS) - 1, None, None)
        for row in rows:
            verdict, status = self._judge(row, institution, purpose, t, cached_only)
            if verdict is None:
                return None
            if verdict == GRANTED:
                return Decision(GRANTED, row, status, pseudonym, institution, purpose, when)
            rank = REASONS.index(verdict)
            if rank < best[0]:
                best = (rank, row, status)
        reason, chosen, on_chain = REASONS[best[0]], best[1], best[2]
        if reason in ("purpose_not_covered", "no_consent"):
            chosen = None  # nothing about another consent leaks to this partner
        return Decision(reason, chosen, on_chain, pseudonym, institution, purpose, when)

    def record(self, decision: Decision, *, requested_by: str) -> CheckResult:
        """Log the decision as an inquiry (returns once durable) and answer it."""
        inquiry = self.inquiry(decision, requested_by=requested_by)
        self.inquiries.write(inquiry)
        return self.answer(decision, inquiry)

    def inquiry(self, decision: Decision, *, requested_by: str) -> dict[str, Any]:
        """The inquiry row of a decision (write it, then :meth:`answer`)."""
        chosen = decision.consent
        return self.inquiries.row(
            institution=decision.institution,
            requested_by=requested_by,
            subject_pseudonym=decision.pseudonym,
            purpose=decision.purpose,
            consent_id=None if chosen is None else chosen.consent_id,
            result="granted" if decision.granted else "refused",
            reason=decision.reason,
            checked_at=decision.at,
        )

    def answer(self, decision: Decision, inquiry: dict[str, Any]) -> CheckResult:
        """The answer to a decision whose inquiry is durable."""
        chosen = decision.consent
        if decision.reason in ("receipt_mismatch", "receipt_id_mismatch"):
            where: dict[str, Any] = {"consent_id": None if chosen is None else chosen.consent_id}
            if decision.reason == "receipt_id_mismatch" and chosen is not None:
                where["field"] = _mismatched_id(chosen)
            where["reason"] = decision.reason
            message = TAMPERED[where.get("field", decision.reason)]
            log_event(log, message, logging.ERROR, **where)
        return self._result(decision.granted, decision.reason, inquiry, chosen, decision.on_chain)

    def _judge(
        self, row: Candidate, institution: str, purpose: str, t: int, cached_only: bool = False
    ) -> tuple[str | None, ConsentRecord | None]:
        if row.receipt is None:
            return "no_consent", None  # erased
        read = _read_receipt(row.receipt, row.commitment, row.consent_id, row.subject_pseudonym)
        if isinstance(read, str):
            return read, None
        recipients, purposes, start, end = read
        if institution not in recipients:
            return "no_consent", None
        if purpose not in purposes:
            return "purpose_not_covered", None
        assert self.statuses is not None
        on_chain = self.statuses.get(row.consent_id, cached_only=cached_only)
        if on_chain is NEEDS_CHAIN:
            return None, None
        if on_chain is None:
            return "not_on_chain", None
        assert isinstance(on_chain, ConsentRecord)
        if (
            "0x" + on_chain.commitment.hex() != row.commitment
            or (on_chain.valid_from, on_chain.valid_until) != (start, end)
            or (row.valid_from, row.valid_until) != (start, end)
        ):
            return "receipt_mismatch", on_chain
        revoked = min(x for x in (on_chain.revoked_at, row.revoked_at or 0, 1 << 62) if x)
        if t >= revoked:
            return ("superseded" if row.superseded_by else "revoked"), on_chain
        if t < start:
            return "not_yet_valid", on_chain
        if end and t >= end:
            return "expired", on_chain
        return GRANTED, on_chain

    def _result(
        self,
        granted: bool,
        reason: str,
        inquiry: dict[str, Any],
        row: Any,
        on_chain: ConsentRecord | None,
    ) -> CheckResult:
        base = {
            "granted": granted,
            "reason": reason,
            "inquiry_id": inquiry["inquiry_id"],
            "checked_at": inquiry["checked_at"],
            "purpose": inquiry["purpose"],
            "institution": inquiry["institution"],
        }
        if row is None:
            return CheckResult(**base)
        revoked = [x for x in (row.revoked_at, on_chain.revoked_at if on_chain else 0) if x]
        return CheckResult(
            **base,
            consent_id=row.consent_id,
            valid_from=_iso_seconds(row.valid_from),
            valid_until=_iso_seconds(row.valid_until),
            revoked_at=_iso_seconds(min(revoked)) if revoked else None,
            evidence=OnChainEvidence(
                row.chain_id, row.registry_address, row.tx_hash, row.block_number
            ),
        )


__all__ = [
    "GRANTED",
    "REASONS",
    "CheckResult",
    "ConsentService",
    "FlushReport",
    "consent_json",
]

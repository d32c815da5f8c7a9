"""Recording, withdrawing and checking consents against the store and the ConsentRegistry.

:class:`ConsentService` is the one entry point. Its neighbours hold the parts:
:mod:`~ledger.consent.recording` sends what is pending to the registry,
:mod:`~ledger.consent.checks` holds the rules of a check,
:mod:`~ledger.consent.statuses` the cached on-chain statuses and
:mod:`~ledger.consent.answers` what a caller is given.

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
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from ledger._failpoints import failpoint
from ledger.chain.registry import ConsentRegistryClient
from ledger.chain.types import ConsentRecord
from ledger.consent.answers import CheckResult, check_result, consent_json
from ledger.consent.checks import (
    CANDIDATES,
    Candidate,
    Decision,
    judge,
    mismatched_id,
)
from ledger.consent.inquiries import InquiryLog
from ledger.consent.reasons import GRANTED, REASONS, TAMPERED
from ledger.consent.receipt import (
    PURPOSES,
    ConsentGrant,
    Subject,
    build_receipt,
    commitment,
    iso,
    new_id,
    now_utc,
    receipt_bytes,
    seconds,
    unhex,
    window,
)
from ledger.consent.recording import FlushReport, flush_pending
from ledger.consent.statuses import StatusCache
from ledger.errors import ConflictError, InputError, NotFoundError, UnavailableError
from ledger.logs import event as log_event
from ledger.privacy import Desensitiser
from ledger.store import Consent, Store

log = logging.getLogger(__name__)


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
        return flush_pending(self.store, registry)

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
        with self.store.read() as conn:  # plain rows: no ORM bookkeeping per check
            return [Candidate._make(row) for row in conn.execute(CANDIDATES, {"p": pseudonym})]

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
            verdict, status = judge(row, institution, purpose, t, self.statuses, cached_only)
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
                where["field"] = mismatched_id(chosen)
            where["reason"] = decision.reason
            message = TAMPERED[where.get("field", decision.reason)]
            log_event(log, message, logging.ERROR, **where)
        return check_result(decision.granted, decision.reason, inquiry, chosen, decision.on_chain)


__all__ = ["ConsentService"]

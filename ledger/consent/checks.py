"""The rules of one consent check: which of a subject's consents grants a use, or why none does.

A check reads the subject's consents (:data:`CANDIDATE_COLUMNS`, newest window
first); :func:`judge` weighs each against its receipt, its commitment on chain
and the checked instant. When none grants the use, the most telling refusal
(:data:`~ledger.consent.reasons.REASONS`) is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final, NamedTuple

from sqlalchemy import bindparam, select

from ledger import jsontext
from ledger.chain.types import ConsentRecord
from ledger.consent.reasons import GRANTED
from ledger.consent.receipt import commitment, receipt_ids, window
from ledger.consent.statuses import NEEDS_CHAIN, StatusCache
from ledger.store import Consent

#: Stored receipts whose check against their commitment is remembered (by their text).
RECEIPT_CACHE_SIZE: Final = 4096

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
CANDIDATES: Final = (
    select(*CANDIDATE_COLUMNS)
    .where(Consent.subject_pseudonym == bindparam("p"))
    .order_by(Consent.valid_from.desc())
)


class Candidate(NamedTuple):
    """One of a subject's consents, in the column order of :data:`CANDIDATES`."""

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


def mismatched_id(row: Candidate) -> str:
    """Which id a ``receipt_id_mismatch`` receipt gets wrong: ``consent_id`` or ``subject``."""
    assert row.receipt is not None
    own_id, _ = receipt_ids(jsontext.loads(row.receipt))
    return "consent_id" if own_id != row.consent_id else "subject"


def judge(
    row: Candidate,
    institution: str,
    purpose: str,
    t: int,
    statuses: StatusCache | None,
    cached_only: bool = False,
) -> tuple[str | None, ConsentRecord | None]:
    """The verdict of one consent for this use at ``t`` (seconds) and its on-chain status.

    The verdict is :data:`GRANTED` or one of
    :data:`~ledger.consent.reasons.REASONS`; None when ``cached_only``
    and only a chain read could tell.
    """
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
    assert statuses is not None
    on_chain = statuses.get(row.consent_id, cached_only=cached_only)
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

"""Whose receipt is it: a consent's receipt names its own id, and is one consent's only.

A receipt hashes its ``consent_id`` and its subject into the commitment; the
store keeps it under its row's id and subject column, and the recorder puts the
commitment on chain under an id of its own choosing. So an operator holding the
recorder key can store consent A's receipt under a fresh id B and record B with
A's commitment and window: B's receipt hashes right, and after A is withdrawn,
B still looks valid on chain. What gives it away is the receipt itself (it
names A) and the chain (one commitment under two ids; a commitment covers a
receipt that names one id, so two consents never share one).

:func:`check_receipt_ids` reports both, and returns the consents that have no
receipt of their own, with the id their receipt belongs to: an inquiry granted
under one of them is unsupported. A receipt also names the consent it
``supersedes``: that must be its row's too, and once the receipt is recorded the
old consent ends where the new one starts (the check refuses it from then on),
so it must be withdrawn on chain from then.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ledger import jsontext
from ledger.audit.findings import AuditReport
from ledger.audit.replay import ChainConsent
from ledger.consent.receipt import commitment as receipt_commitment
from ledger.consent.receipt import receipt_ids, window
from ledger.store import Consent

_HEX32: Final = re.compile(r"0x[0-9a-f]{64}")


def parsed(receipt: bytes | None) -> dict[str, Any] | None:
    """A stored receipt as JSON (None when erased or not a JSON object)."""
    if receipt is None:
        return None
    try:
        data = jsontext.loads(receipt)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _an_id(value: Any) -> str | None:
    """``value`` when it looks like a consent id; findings carry ids only, never free text."""
    return value if isinstance(value, str) and _HEX32.fullmatch(value) else None


@dataclass
class ReceiptFacts:
    """What the receipts say about consents, for judging inquiries."""

    #: Consents on chain whose receipt is another's -> the id it belongs to.
    replayed: dict[str, str] = field(default_factory=dict)
    #: Consents a recorded receipt supersedes -> when the first such receipt starts.
    superseded_from: dict[str, int] = field(default_factory=dict)


def check_receipt_ids(
    rows: Mapping[str, Consent], on_chain: Mapping[str, ChainConsent], report: AuditReport
) -> ReceiptFacts:
    """Every receipt names the id, subject and superseded consent it is stored with; no
    commitment is stored or recorded under two ids; a superseded consent is withdrawn."""
    facts = ReceiptFacts()
    named: dict[str, Any] = {}  # commitment -> what its (known) receipt names as its id
    ids_of: dict[str, set[str]] = defaultdict(set)  # commitment -> ids it is kept under
    for consent_id, chain in on_chain.items():
        ids_of[chain.commitment].add(consent_id)
    for row in rows.values():
        ids_of[row.commitment].add(row.consent_id)
        receipt = parsed(row.receipt)
        if receipt is None or row.receipt is None:
            continue
        own_id, subject = receipt_ids(receipt)
        where = {"consent_id": row.consent_id}
        if own_id != row.consent_id:
            found = _an_id(own_id) or "not a consent id"
            report.add("CONSENT_RECEIPT_ID_MISMATCH", **where, expected=row.consent_id, found=found)
        if subject != row.subject_pseudonym:  # a pseudonym is never reported
            report.add("CONSENT_RECEIPT_SUBJECT_MISMATCH", **where)
        hashed = receipt_commitment(row.receipt)
        ids_of[hashed].add(row.consent_id)
        named[hashed] = own_id
        mine = on_chain.get(row.consent_id)
        recorded = mine is not None and own_id == row.consent_id and hashed == mine.commitment
        _supersedes(row, receipt, recorded, facts, report)
    facts.replayed = {  # recorded with a commitment whose receipt names another id
        consent_id: _an_id(named[chain.commitment]) or "not a consent id"
        for consent_id, chain in on_chain.items()
        if named.get(chain.commitment, consent_id) != consent_id
    }
    _duplicates(ids_of, named, on_chain, facts, report)
    for consent_id, start in facts.superseded_from.items():
        old = on_chain.get(consent_id)
        if old is not None and not (old.revoked_at and old.revoked_at <= start):
            report.add(
                "CONSENT_SUPERSEDED_NOT_WITHDRAWN",
                consent_id=consent_id,
                expected=f"revoked_at<={start}",
                found=old.revoked_at,
            )
    return facts


def _duplicates(
    ids_of: Mapping[str, set[str]],
    named: Mapping[str, Any],
    on_chain: Mapping[str, ChainConsent],
    facts: ReceiptFacts,
    report: AuditReport,
) -> None:
    """One commitment under several ids: all but the one its receipt names are replays."""
    for commitment, ids in ids_of.items():
        if len(ids) < 2:
            continue
        owner = _an_id(named.get(commitment)) or _first_recorded(ids, on_chain)
        for consent_id in sorted(ids - {owner}):
            report.add(
                "CONSENT_RECEIPT_DUPLICATE", consent_id=consent_id, expected=owner, found=len(ids)
            )
            if consent_id in on_chain:
                facts.replayed[consent_id] = owner


def _supersedes(
    row: Consent, receipt: dict[str, Any], recorded: bool, facts: ReceiptFacts, report: AuditReport
) -> None:
    """The consent the receipt supersedes is its row's; a recorded one ends the old one."""
    supersedes = receipt.get("supersedes")
    if supersedes != row.supersedes:
        report.add(
            "CONSENT_SUPERSEDES_MISMATCH",
            consent_id=row.consent_id,
            expected=_an_id(supersedes),
            found=_an_id(row.supersedes),
        )
    old = _an_id(supersedes)
    if not recorded or old is None:
        return
    try:
        start, _ = window(receipt)
    except (ValueError, KeyError, TypeError, AttributeError):
        return
    facts.superseded_from[old] = min(start, facts.superseded_from.get(old, start))


def _first_recorded(ids: set[str], on_chain: Mapping[str, ChainConsent]) -> str:
    """With no receipt to say whose it is (erased), the id recorded first is taken."""

    def order(consent_id: str) -> tuple[int, int, str]:
        chain = on_chain.get(consent_id)
        return (0, chain.block_number, consent_id) if chain else (1, 0, consent_id)

    return min(ids, key=order)

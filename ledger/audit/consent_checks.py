"""Consents and inquiries in the store against the chain.

A consent's receipt must hash to its commitment and name the id and subject it
is stored under (:mod:`ledger.audit.receipts`), and commitment, window and
withdrawal must agree with the ConsentRegistry — read from the replayed events
and confirmed with ``consentStatus`` (so a node hiding a ``ConsentRevoked`` is
caught too); so must the receipt's own window. Every granted inquiry must name
a consent that holds a receipt of its own, that was valid at the checked
instant on chain and by its receipt (and not yet superseded), and whose receipt
names that subject, institution and purpose. Sealed inquiries are judged as
their anchored leaf logged them, and a sealed row must be the inquiry its leaf
logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select

from ledger.audit.findings import AuditReport
from ledger.audit.receipts import ReceiptFacts, check_receipt_ids, parsed
from ledger.audit.replay import ChainConsent, ChainState, Progress, hx
from ledger.audit.store_checks import StoreFacts
from ledger.chain.bulk_reads import raw_calls
from ledger.chain.registry import ConsentRegistryClient
from ledger.consent.receipt import commitment as receipt_commitment
from ledger.consent.receipt import receipt_ids, window
from ledger.store import Consent, Inquiry, Store

_HEX32: Final = re.compile(r"0x[0-9a-f]{64}")

#: The inquiry fields an anchored leaf commits to (besides its format and salt).
INQUIRY_FIELDS = (
    "inquiry_id",
    "institution",
    "subject_pseudonym",
    "purpose",
    "consent_id",
    "result",
    "reason",
    "checked_at",
)


@dataclass
class ConsentFacts:
    """What the consent pass learns for the inquiry pass."""

    #: The store's consents by id.
    rows: dict[str, Consent] = field(default_factory=dict)
    #: Whose receipt each consent holds, and which ones were superseded.
    receipts: ReceiptFacts = field(default_factory=ReceiptFacts)


class ConsentView:
    """A consent as the chain has it: replayed events, confirmed by ``consentStatus``."""

    def __init__(
        self, state: ChainState, registry: ConsentRegistryClient, report: AuditReport
    ) -> None:
        self.state = state
        self.registry = registry
        self.report = report
        self._confirmed: dict[str, ChainConsent | None] = {}
        self._selector: bytes | None = None

    def prefetch(self, consent_ids: Iterable[str]) -> None:
        """Ask ``consentStatus`` for many consents at once (JSON-RPC batches)."""
        wanted = sorted({c for c in consent_ids if c not in self._confirmed})
        block = self.state.next_block - 1  # as far as replayed
        calls = [self._calldata(c) for c in wanted]
        answers = raw_calls(self.registry.chain, self.registry.address, calls, block)
        for consent_id, data in zip(wanted, answers, strict=True):
            self._confirm(consent_id, data)

    def _calldata(self, consent_id: str) -> bytes:
        """``consentStatus(consent_id)``: the selector, then the id (one ABI word).

        web3's encoder costs ~1 ms a call (it re-finds and re-validates the ABI
        entry); for 10,000 consents that was most of the consent pass.
        """
        if self._selector is None:
            encoded = self.registry.contract.encode_abi("consentStatus", [bytes(32)])
            self._selector = bytes.fromhex(encoded[2:])[:4]
        if not _HEX32.fullmatch(consent_id):  # not a store's id: let web3 say what is wrong
            encoded = self.registry.contract.encode_abi(
                "consentStatus", [bytes.fromhex(consent_id[2:])]
            )
            return bytes.fromhex(encoded[2:])
        return self._selector + bytes.fromhex(consent_id[2:])

    def get(self, consent_id: str) -> ChainConsent | None:
        if consent_id not in self._confirmed:
            self.prefetch([consent_id])
        return self._confirmed[consent_id]

    def _confirm(self, consent_id: str, data: bytes) -> None:
        words = [int.from_bytes(data[i : i + 32], "big") for i in range(32, 192, 32)]
        valid_from, valid_until, revoked_at, _, recorded_block = words
        found = None
        if recorded_block:
            found = ChainConsent(
                consent_id, hx(data[:32]), valid_from, valid_until, revoked_at, recorded_block
            )
            replayed = self.state.consents.get(consent_id)
            if replayed is None or replayed.revoked_at != found.revoked_at:
                event = "ConsentRecorded" if replayed is None else "ConsentRevoked"
                self.report.add(
                    "CHAIN_EVENT_HIDDEN", consent_id=consent_id, expected=event, found=None
                )
        self._confirmed[consent_id] = found


def check_consents(
    store: Store, view: ConsentView, report: AuditReport, progress: Progress | None = None
) -> ConsentFacts:
    """Every stored consent against the chain, and whose receipt each one holds."""
    with store.session() as s:
        rows = {c.consent_id: c for c in s.scalars(select(Consent))}
        view.prefetch(rows)
        view.prefetch(c for c in s.scalars(select(Inquiry.consent_id)) if c)
    for done, row in enumerate(rows.values(), 1):
        _check_consent(row, view, report)
        if progress is not None:
            progress("consents", done, len(rows))
    for consent_id in view.state.consents:
        if consent_id not in rows:
            report.add("CONSENT_NOT_IN_STORE", consent_id=consent_id)
    receipts = check_receipt_ids(rows, view.state.consents, report)
    report.checked["store_consents"] = len(rows)
    return ConsentFacts(rows, receipts)


def _check_consent(row: Consent, view: ConsentView, report: AuditReport) -> None:
    where = {"consent_id": row.consent_id}
    if row.receipt is None:
        code = "CONSENT_ERASED" if row.erased_at else "CONSENT_RECEIPT_MISMATCH"
        report.add(code, **where, expected=row.commitment, found=None)
    elif (computed := receipt_commitment(row.receipt)) != row.commitment:
        report.add("CONSENT_RECEIPT_MISMATCH", **where, expected=row.commitment, found=computed)
    on_chain = view.get(row.consent_id)
    if on_chain is None:
        if row.status == "recorded":
            report.add("CONSENT_NOT_ON_CHAIN", **where, expected=row.commitment)
        return
    if on_chain.commitment != row.commitment:
        report.add(
            "CONSENT_COMMITMENT_MISMATCH",
            **where,
            expected=on_chain.commitment,
            found=row.commitment,
        )
    chain_window = (on_chain.valid_from, on_chain.valid_until)
    if chain_window != (row.valid_from, row.valid_until):
        report.add(
            "CONSENT_WINDOW_MISMATCH",
            **where,
            expected=f"{on_chain.valid_from}-{on_chain.valid_until}",
            found=f"{row.valid_from}-{row.valid_until}",
        )
    receipt_window = _window(parsed(row.receipt))
    if receipt_window is not None and receipt_window != chain_window:
        report.add(
            "CONSENT_WINDOW_MISMATCH",
            **where,
            expected=f"{on_chain.valid_from}-{on_chain.valid_until}",
            found="receipt {}-{}".format(*receipt_window),
        )
    store_end = row.revoked_at or 0
    if on_chain.revoked_at and not (store_end and store_end <= on_chain.revoked_at):
        report.add(
            "CONSENT_REVOKED_ON_CHAIN_ONLY", **where, expected=on_chain.revoked_at, found=store_end
        )
    elif row.revoke_status == "recorded" and on_chain.revoked_at != store_end:
        report.add(
            "CONSENT_REVOCATION_NOT_ON_CHAIN",
            **where,
            expected=store_end,
            found=on_chain.revoked_at,
        )


def _window(receipt: dict[str, Any] | None) -> tuple[int, int] | None:
    """A receipt's own (valid_from, valid_until) in seconds; None when it has none."""
    try:
        return None if receipt is None else window(receipt)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def check_inquiries(
    store: Store,
    view: ConsentView,
    consents: ConsentFacts,
    facts: StoreFacts,
    report: AuditReport,
) -> None:
    """Sealed rows match their leaves; every granted inquiry had a valid consent on chain."""
    with store.session() as s:
        rows = list(s.scalars(select(Inquiry).order_by(Inquiry.seq)))
    seen: set[str] = set()
    for row in rows:
        logged = _as_logged(row, facts, report)
        seen.add(row.inquiry_id)
        _check_coverage(logged, view, consents, report)
    for key, leaf in facts.inquiry_leaves.items():
        if leaf.record is not None and key not in seen:
            report.add("INQUIRY_MISSING", batch_id=leaf.batch_id, leaf_index=leaf.leaf_index)
            _check_coverage(leaf.record, view, consents, report)
    report.checked["inquiries"] = len(rows)


def _as_logged(row: Inquiry, facts: StoreFacts, report: AuditReport) -> dict[str, Any]:
    """The inquiry as its anchored leaf says (the row's own fields while unsealed)."""
    fields = {name: getattr(row, name) for name in INQUIRY_FIELDS}
    if row.batch_id is None:
        return fields
    _check_leaf_id(row, facts, report)
    leaf = facts.inquiry_leaves.get(row.inquiry_id)
    if leaf is None or leaf.record is None:
        # erased, or its batch was not checked (not on chain: already a finding)
        return fields
    differs = [
        name
        for name in INQUIRY_FIELDS
        if name != "subject_pseudonym" and leaf.record.get(name) != fields[name]
    ]
    if (leaf.batch_id, leaf.leaf_index) != (row.batch_id, row.leaf_index):
        differs.append("leaf")
    if differs:
        report.add(
            "INQUIRY_LEAF_MISMATCH",
            inquiry_id=row.inquiry_id,
            batch_id=leaf.batch_id,
            leaf_index=leaf.leaf_index,
            expected="as anchored",
            found="differs: " + ",".join(differs),
        )
    return leaf.record


def _check_leaf_id(row: Inquiry, facts: StoreFacts, report: AuditReport) -> None:
    """A sealed row is the inquiry that the leaf it points at logs."""
    assert row.batch_id is not None
    at = facts.inquiry_at.get((row.batch_id, row.leaf_index if row.leaf_index is not None else -1))
    if at is None or at.record is None:
        return  # erased, missing (LEAF_MISSING) or not checked
    logged = at.record.get("inquiry_id")
    if logged != row.inquiry_id:
        report.add(
            "INQUIRY_ID_MISMATCH",
            inquiry_id=row.inquiry_id,
            batch_id=at.batch_id,
            leaf_index=at.leaf_index,
            expected=logged if isinstance(logged, str) and _HEX32.fullmatch(logged) else None,
            found=row.inquiry_id,
        )


def _check_coverage(
    inquiry: dict[str, Any],
    view: ConsentView,
    consents: ConsentFacts,
    report: AuditReport,
) -> None:
    if inquiry.get("result") != "granted":
        return
    where = {"inquiry_id": inquiry.get("inquiry_id")}
    consent_id = inquiry.get("consent_id")
    on_chain = view.get(consent_id) if isinstance(consent_id, str) else None
    if on_chain is None:
        report.add("INQUIRY_WITHOUT_CONSENT", **where, consent_id=consent_id)
        return
    where["consent_id"] = consent_id
    if (owner := consents.receipts.replayed.get(on_chain.consent_id)) is not None:
        # Recorded, but with another consent's receipt: nothing the borrower agreed to.
        report.add("INQUIRY_CONSENT_UNSUPPORTED", **where, expected=owner, found=None)
        return
    t = int(datetime.fromisoformat(str(inquiry["checked_at"]).replace("Z", "+00:00")).timestamp())
    superseded = consents.receipts.superseded_from.get(on_chain.consent_id)
    valid = on_chain.valid_at(t) and (superseded is None or t < superseded)
    if not on_chain.valid_at(t):
        report.add(
            "INQUIRY_CONSENT_NOT_VALID",
            **where,
            expected=f"{on_chain.valid_from}<=t<{on_chain.valid_until or 'open'}"
            + (f", t<{on_chain.revoked_at}" if on_chain.revoked_at else ""),
            found=t,
        )
    elif not valid:
        expected = f"superseded: t<{superseded}"
        report.add("INQUIRY_CONSENT_NOT_VALID", **where, expected=expected, found=t)
    row = consents.rows.get(on_chain.consent_id)
    if row is None or row.receipt is None or receipt_commitment(row.receipt) != on_chain.commitment:
        return  # erased or not trustworthy: the chain window is all there is to judge by
    receipt = parsed(row.receipt)
    if receipt is not None:
        _check_receipt_covers(inquiry, receipt, t, valid, where, report)


def _check_receipt_covers(
    inquiry: dict[str, Any],
    receipt: dict[str, Any],
    t: int,
    valid_so_far: bool,
    where: dict[str, Any],
    report: AuditReport,
) -> None:
    """The receipt names the inquiry's subject, institution and purpose, and was valid at t."""
    _, subject = receipt_ids(receipt)
    inquired = inquiry.get("subject_pseudonym")  # None once the subject was erased
    covered = (
        (inquired is None or inquired == subject)
        and inquiry.get("institution") in receipt.get("recipients", ())
        and inquiry.get("purpose") in receipt.get("purposes", ())
    )
    if not covered:
        report.add("INQUIRY_NOT_COVERED", **where)
    own = _window(receipt)
    if valid_so_far and own is not None and not (own[0] <= t and (not own[1] or t < own[1])):
        report.add(
            "INQUIRY_CONSENT_NOT_VALID",
            **where,
            expected=f"receipt {own[0]}<=t<{own[1] or 'open'}",
            found=t,
        )
